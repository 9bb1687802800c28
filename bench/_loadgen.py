"""A load generator that costs as little CPU as possible, in a process of its own.

    python -m bench._loadgen < spec.json > result.json

On the 2-core bench box the load generator, the server and PostgreSQL share the CPU: every
microsecond the client spends is taken from the two it measures, and inflates both their
latencies. aiohttp spent 0.25-0.35 ms of CPU per request (client session, request and
response objects, header multidicts, a task per worker); this client spends 50-65 µs, most
of it the kernel receiving a 28 KB page over loopback (measured on the bench box):

- uvloop, one ``asyncio.Protocol`` per keep-alive HTTP/1.1 connection, no tasks, no futures
  per request: the next request is written from the callback that completes the previous one;
- each request is the same pre-built bytes (``GET … HTTP/1.1`` with its headers);
- a response is parsed only as far as needed: the status line, ``Content-Length``, and then
  body bytes are counted, not kept, except for a sample that is compared byte for byte.

Checks (a failed one aborts the run): every response is ``200`` with the ``Content-Length`` of
the target's first response, every 25th body is byte-identical to that first one (the body
of a page is deterministic: the ids, the fields, their order), no chunked bodies, no bytes
after a response (no pipelining happens). The first body of each target is returned so the
caller can check its shape.

Spec (JSON on stdin)::

    {"host": "127.0.0.1", "port": 8000, "connections": 32,
     "targets": {"api": {"path": "/v1/…", "headers": {"Authorization": "…"}}, …},
     "schedule": [["api", 500], ["bare", 500], …], "watch": {"server": <pid>}}

``connections`` keep-alive connections are opened once and shared by every round, each with
one request in flight. Each schedule entry is one round: ``count`` requests to that target.
Result (JSON on stdout): ``{"rounds": [{"target", "seconds", "cpu", "latencies"}], "bodies":
{…}}``: seconds from the first request written to the last response read, latencies in
seconds, and the CPU seconds the round cost this process (``client``) and each ``watch``ed one.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any, cast

CHECK_EVERY = 25


class LoadError(RuntimeError):
    pass


class _Round:
    def __init__(self, request: bytes, count: int, loop: asyncio.AbstractEventLoop) -> None:
        self.request = request
        self.remaining = count
        self.latencies: list[float] = []
        self.busy = 0
        self.done: asyncio.Future[None] = loop.create_future()
        self.reference: bytes | None = None
        self.reference_length = -1

    def fail(self, message: str) -> None:
        if not self.done.done():
            self.done.set_exception(LoadError(message))


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.round: _Round | None = None
        self.head = bytearray()
        self.body_left = -1
        self.keep: list[bytes] | None = None
        self.started = 0.0
        self.served = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.round is not None:
            self.round.fail(f"connection closed by the server mid-round ({exc!r})")

    def start(self, run: _Round) -> None:
        if self.transport is None:
            raise LoadError("the server closed an idle keep-alive connection")
        self.round = run
        run.busy += 1
        self._send()

    def _send(self) -> None:
        run = self.round
        assert run is not None
        assert self.transport is not None
        run.remaining -= 1
        self.head.clear()
        self.body_left = -1
        self.keep = [] if self.served % CHECK_EVERY == 0 or run.reference is None else None
        self.started = time.perf_counter()
        self.transport.write(run.request)

    def data_received(self, data: bytes) -> None:
        run = self.round
        if run is None:
            raise LoadError(f"unexpected bytes from the server: {data[:200]!r}")
        try:
            self._received(run, data)
        except Exception as exc:  # a callback's exception would only be logged by the loop
            run.fail(f"{exc!r} while reading a response")

    def _received(self, run: _Round, data: bytes) -> None:
        if self.body_left < 0:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.head[:end]).lower()
            if not head.startswith(b"http/1.1 200 "):
                run.fail(f"not a 200: {bytes(self.head[:600])!r}")
                return
            marker = head.find(b"\r\ncontent-length:")
            if marker < 0:
                run.fail(f"no Content-Length: {head!r}")
                return
            line_end = head.find(b"\r\n", marker + 2)
            length = int(head[marker + 17 : line_end if line_end >= 0 else len(head)])
            data = bytes(self.head[end + 4 :])
            self.body_left = length
            if run.reference_length < 0:
                run.reference_length = length
            elif length != run.reference_length:
                run.fail(f"Content-Length {length}, expected {run.reference_length}")
                return
        self.body_left -= len(data)
        if self.keep is not None:
            self.keep.append(data)
        if self.body_left > 0:
            return
        if self.body_left < 0:
            run.fail("bytes after the end of a response")
            return
        run.latencies.append(time.perf_counter() - self.started)
        self.served += 1
        if self.keep is not None:
            body = b"".join(self.keep)
            if run.reference is None:
                run.reference = body
            elif body != run.reference:
                run.fail(f"body differs from the first one: {body[:300]!r}")
                return
        if run.remaining > 0:
            self._send()
            return
        self.round = None
        run.busy -= 1
        if run.busy == 0 and not run.done.done():
            run.done.set_result(None)


def _cpu(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _request(host: str, port: int, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    host, port = spec["host"], int(spec["port"])
    requests = {
        name: _request(host, port, target["path"], target.get("headers", {}))
        for name, target in spec["targets"].items()
    }
    connections: list[_Connection] = []
    for _ in range(int(spec["connections"])):
        _, protocol = await loop.create_connection(_Connection, host, port)
        connections.append(protocol)
    watch: dict[str, int] = spec.get("watch", {})
    references: dict[str, tuple[bytes, int]] = {}
    rounds: list[dict[str, Any]] = []
    try:
        for name, count in spec["schedule"]:
            current = _Round(requests[name], int(count), loop)
            if name in references:
                current.reference, current.reference_length = references[name]
            cpu_before = {key: _cpu(pid) for key, pid in watch.items()}
            client_before = time.process_time()
            started = time.perf_counter()
            for connection in connections[: current.remaining]:
                connection.start(current)
            await asyncio.wait_for(current.done, timeout=600)
            seconds = time.perf_counter() - started
            cpu = {key: _cpu(pid) - cpu_before[key] for key, pid in watch.items()}
            cpu["client"] = time.process_time() - client_before
            assert current.reference is not None
            references[name] = (current.reference, current.reference_length)
            rounds.append(
                {"target": name, "seconds": seconds, "cpu": cpu, "latencies": current.latencies}
            )
    finally:
        for connection in connections:
            if connection.transport is not None:
                connection.transport.close()
    return {
        "rounds": rounds,
        "bodies": {name: json.loads(body) for name, (body, _) in references.items()},
    }


def main() -> None:
    import uvloop

    spec = json.loads(sys.stdin.read())
    result = uvloop.run(run(spec))
    sys.stdout.write(json.dumps(result))


if __name__ == "__main__":
    main()
