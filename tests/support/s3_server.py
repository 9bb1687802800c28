"""A real S3-compatible server on a free port for the media storage tests: ``moto`` in server
mode (its own process, spoken to over HTTP like AWS S3, MinIO or R2), started once per test
session, as ``localstripe`` stands in for Stripe."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from functools import cache
from pathlib import Path

import httpx
from aiobotocore.session import AioSession, get_session

from shared.media.storage.s3 import S3Storage
from tests.support.sandbox_server import free_port

REGION = "us-east-1"
ACCESS_KEY_ID = "chorus-test"
SECRET_ACCESS_KEY = "chorus-test-secret"


class S3Server:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> S3Server:
        executable = Path(sys.executable).with_name("moto_server")
        self.process = subprocess.Popen(
            [str(executable), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto_server exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/moto-api/").status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("moto_server did not start within 30 seconds")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@cache
def _session() -> AioSession:
    return get_session()


async def create_bucket(server: S3Server) -> str:
    """A new, empty bucket on the test server; its name."""
    name = f"chorus-media-{uuid.uuid4().hex[:12]}"
    async with _session().create_client(
        "s3",
        region_name=REGION,
        endpoint_url=server.url,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    ) as s3:
        await s3.create_bucket(Bucket=name)
    return name


def s3_storage(server: S3Server, bucket: str) -> S3Storage:
    return S3Storage(
        bucket=bucket,
        endpoint_url=server.url,
        region=REGION,
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SECRET_ACCESS_KEY,
        addressing_style="path",
    )
