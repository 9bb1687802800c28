"""Media library throughput and memory (issue #17).

1. **Photos**: 100 phone photos of 12 MP (4032×3024 with EXIF orientation, GPS, XMP, a comment
   and an ICC profile), half JPEG and half HEIC, uploaded through ``POST /v1/media`` of the real
   API (uvicorn, child process), then processed by one worker process (``bench/_media_worker``:
   what ``media.process`` runs — download, hash, type from the bytes, upright clean copy with no
   metadata, blob — then every platform's derivative of each photo, as publishing asks for
   them). Beside it, in the same run, a process opening each of the same files with the image
   library (Pillow, pillow-heif) and making one plain resize (1080 px on the long side).
   ``photos_per_s`` is photos per CPU-second of the worker (per core); ``ratio`` divides it by
   the plain resize's. ``rss_mb`` is the worker's peak resident memory.
   The photos differ only in a few bytes of their comment/EXIF (so each is its own file, hashed
   and processed on its own): encoding one 12 MP HEIC takes seconds even at x265's fastest.
2. **A 1 GiB upload** through the resumable (tus) route in one ``PATCH`` streamed from the
   client; ``upload_rss_growth_mb`` is the API process's peak resident memory during it less
   its memory just before.

Targets: ``ratio`` ≥ 0.5, ``rss_mb`` ≤ 400, ``upload_rss_growth_mb`` ≤ 50.
Ends with ``RESULT media photos_per_s=… ratio=… rss_mb=… upload_rss_growth_mb=…``.

    make bench NAME=media [ARGS='--photos 20']
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pillow_heif
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    ROOT,
    api_process,
    fresh_database,
    plain,
    redis_url,
    sign_up,
)
from tests.media import files

SIZE = (4032, 3024)
GIB = 1024**3
CHUNK = 1024 * 1024
MARK = b"CHORUS-BENCH-0000"


def _variants(template: bytes, count: int, suffix: str, folder: Path) -> list[Path]:
    """``count`` copies of ``template`` whose marker bytes differ (same length)."""
    assert template.count(MARK) == 1, "the marker must appear once"
    out = []
    for n in range(count):
        path = folder / f"photo-{suffix}-{n:04d}.{suffix}"
        path.write_bytes(template.replace(MARK, f"CHORUS-BENCH-{n:04d}".encode()))
        out.append(path)
    return out


def make_photos(folder: Path, count: int) -> list[Path]:
    """Half JPEG, half HEIC, 12 MP, phone-like."""
    base = files.write_phone_jpeg(folder / "base.jpg", size=SIZE)
    with Image.open(base) as image:
        exif = image.getexif()
        exif[0x010E] = MARK.decode()  # ImageDescription: the bytes each copy changes
        image.save(folder / "template.jpg", "JPEG", quality=90, exif=exif.tobytes())
        pillow_heif.register_heif_opener()
        image.save(
            folder / "template.heic",
            "HEIF",
            quality=80,
            exif=exif.tobytes(),
            enc_params={"preset": "ultrafast"},
        )
    jpegs = _variants((folder / "template.jpg").read_bytes(), count - count // 2, "jpg", folder)
    heics = _variants((folder / "template.heic").read_bytes(), count // 2, "heic", folder)
    return [p for pair in zip(jpegs, heics, strict=False) for p in pair] + jpegs[len(heics) :]


def run_child(kind: str, args: list[str], env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-m", "bench._media_worker", kind, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{kind} failed:\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


async def upload_photos(
    http: aiohttp.ClientSession, base: str, headers: dict[str, str], photos: list[Path]
) -> list[str]:
    ids = []
    for path in photos:
        form = aiohttp.FormData()
        form.add_field("file", path.read_bytes(), filename=path.name)
        async with http.post(f"{base}/v1/media", data=form, headers=headers) as r:
            body = await r.json()
            assert r.status == 202, body
            ids.append(str(body["id"]))
    return ids


async def _gib_of_video() -> AsyncIterator[bytes]:
    """1 GiB that starts like an MP4 (its type is read from the first bytes)."""
    head = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
    zeros = bytes(CHUNK)
    yield head + zeros[len(head) :]
    for _ in range(GIB // CHUNK - 1):
        yield zeros


def _rss(pid: int) -> int:
    """A process's resident memory now, in kB (``VmRSS``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def big_upload(
    http: aiohttp.ClientSession, base: str, headers: dict[str, str], pid: int
) -> tuple[float, float]:
    """(RSS growth in MB of the API during a 1 GiB resumable upload, seconds it took)."""
    tus = {**headers, "Tus-Resumable": "1.0.0"}
    metadata = "filename " + base64.b64encode(b"big.mp4").decode()
    created = await http.post(
        f"{base}/v1/media/uploads",
        headers={**tus, "Upload-Length": str(GIB), "Upload-Metadata": metadata},
    )
    assert created.status == 201, await created.text()
    location = created.headers["Location"]
    url = location if location.startswith("http") else base + location
    before = _rss(pid)
    peak = before
    stop = asyncio.Event()

    async def watch() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _rss(pid))
            await asyncio.sleep(0.05)

    watcher = asyncio.create_task(watch())
    began = time.perf_counter()
    async with http.patch(
        url,
        data=_gib_of_video(),
        headers={
            **tus,
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
            "Content-Length": str(GIB),
        },
    ) as r:
        assert r.status == 204, await r.text()
        assert r.headers.get("Upload-Offset") == str(GIB), dict(r.headers)
    took = time.perf_counter() - began
    stop.set()
    await watcher
    return (peak - before) / 1024, took


async def main(count: int) -> None:
    with tempfile.TemporaryDirectory(prefix="chorus-bench-media-") as folder:
        work = Path(folder)
        began = time.perf_counter()
        photos = make_photos(work, count)
        print(f"{len(photos)} photos of {SIZE[0]}x{SIZE[1]} in {time.perf_counter() - began:.1f} s")
        media_root = work / "storage"
        async with fresh_database("media") as database:
            env = {"CHORUS_MEDIA_ROOT": str(media_root)}
            child_env = {
                **os.environ,
                "DATABASE_URL": plain(database),
                "REDIS_URL": redis_url(),
                "CHORUS_ENV": "development",
                "CHORUS_LOG_LEVEL": "WARNING",
                "PYTHONPATH": str(ROOT),
                **env,
            }
            with api_process(database, env=env) as (base, process):
                timeout = aiohttp.ClientTimeout(total=None, sock_read=600)
                async with aiohttp.ClientSession(timeout=timeout) as http:
                    owner = await sign_up(http, base)
                    began = time.perf_counter()
                    ids = await upload_photos(http, base, owner.headers, photos)
                    uploaded = time.perf_counter() - began
                    print(f"uploaded {len(ids)} photos in {uploaded:.1f} s")
                    worker = run_child("pipeline", [owner.agency_id, *ids], child_env)
                    print(f"worker: {json.dumps(worker)}")
                    plain_resize = run_child("baseline", [str(p) for p in photos], child_env)
                    print(f"plain resize: {json.dumps(plain_resize)}")
                    growth, took = await big_upload(http, base, owner.headers, process.pid)
                    print(f"1 GiB resumable upload in {took:.1f} s, API RSS +{growth:.1f} MB")
    photos_per_s = worker["done"] / worker["cpu_s"]
    baseline_per_s = plain_resize["done"] / plain_resize["cpu_s"]
    print(
        f"worker: {photos_per_s:.2f} photos per CPU-second ({worker['derivatives']:.0f} "
        f"derivatives), plain resize: {baseline_per_s:.2f}; targets ratio >= 0.5, "
        "rss_mb <= 400, upload_rss_growth_mb <= 50"
    )
    print(
        f"RESULT media photos_per_s={photos_per_s:.2f} ratio={photos_per_s / baseline_per_s:.2f} "
        f"rss_mb={worker['peak_rss_mb']:.0f} upload_rss_growth_mb={growth:.1f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=100, help="photos (half JPEG, half HEIC)")
    asyncio.run(main(parser.parse_args().photos))
