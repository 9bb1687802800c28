"""The worker side of ``bench/media.py``, in a process of its own so that its CPU time and
peak memory are its own.

``pipeline`` runs what Chorus's ``media.process`` job runs for each media named, one after
the other: ``processing.process_upload`` (download, hash, check, clean copy, blob), then
``derivative_store.prepare_platform_copies`` (every platform's copy: one download, one decode
per scale). ``baseline`` opens each original with the image library and makes one plain resize
(1080 px on the long side). Each prints one JSON line: ``{"cpu_s": …, "wall_s": …,
"peak_rss_mb": …, "done": …, "derivatives": …}``.

    python -m bench._media_worker pipeline <agency id> <media id>…
    python -m bench._media_worker baseline <file>…
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
import uuid
from pathlib import Path

from PIL import Image


def _usage() -> tuple[float, float]:
    """CPU seconds so far, and the peak resident memory in MB of this process's own memory
    (``VmHWM``: ``ru_maxrss`` would carry the parent's peak across ``exec``)."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    peak_kb = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak_kb = int(line.split()[1])
    return used.ru_utime + used.ru_stime, peak_kb / 1024


async def pipeline(agency_id: uuid.UUID, media_ids: list[uuid.UUID]) -> dict[str, float]:
    from shared.config import get_settings
    from shared.db import Database
    from shared.media import derivative_store, processing
    from shared.media.storage import storage_from_settings

    settings = get_settings()
    db = Database(settings.app_db_url, pool_size=2)
    made = 0
    derivatives_cpu = 0.0
    cpu_before, _ = _usage()
    began = time.perf_counter()
    async with storage_from_settings(settings) as storage:
        for media_id in media_ids:
            outcome = await processing.process_upload(db, storage, agency_id, media_id)
            assert outcome.status == "ready", (media_id, outcome)
            started, _ = _usage()
            made += await derivative_store.prepare_platform_copies(db, storage, agency_id, media_id)
            derivatives_cpu += _usage()[0] - started
    await db.dispose()
    cpu_after, peak = _usage()
    return {
        "cpu_s": cpu_after - cpu_before,
        "wall_s": time.perf_counter() - began,
        "peak_rss_mb": peak,
        "done": len(media_ids),
        "derivatives": made,
        "derivatives_cpu_s": derivatives_cpu,
    }


def baseline(files: list[Path]) -> dict[str, float]:
    import pillow_heif

    pillow_heif.register_heif_opener()
    cpu_before, _ = _usage()
    began = time.perf_counter()
    for path in files:
        with Image.open(path) as image:
            scale = 1080 / max(image.size)
            size = (round(image.width * scale), round(image.height * scale))
            image.resize(size, Image.Resampling.LANCZOS)
    cpu_after, peak = _usage()
    return {
        "cpu_s": cpu_after - cpu_before,
        "wall_s": time.perf_counter() - began,
        "peak_rss_mb": peak,
        "done": len(files),
        "derivatives": 0,
    }


def main(argv: list[str]) -> None:
    kind, *rest = argv
    if kind == "pipeline":
        agency, *ids = rest
        result = asyncio.run(pipeline(uuid.UUID(agency), [uuid.UUID(i) for i in ids]))
    else:
        result = baseline([Path(p) for p in rest])
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
