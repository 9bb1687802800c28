"""A real ``localstripe`` (a stateful fake Stripe server) on a free port, started once per
test session: the billing tests talk to it over HTTP through the official Stripe SDK."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.sandbox_server import free_port

API_KEY = "sk_test_chorus_localstripe"


class LocalStripe:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> LocalStripe:
        executable = Path(sys.executable).with_name("localstripe")
        self.process = subprocess.Popen(
            [str(executable), "--port", str(self.port), "--from-scratch"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"localstripe exited with {self.process.returncode}")
            try:
                response = httpx.get(
                    f"{self.url}/v1/balance", headers={"Authorization": f"Bearer {API_KEY}"}
                )
                if response.status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("localstripe did not start within 30 seconds")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
