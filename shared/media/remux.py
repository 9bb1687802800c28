"""A video's clean copy: the same pictures and sound in a fresh MP4, with nothing else.

Phones write where a video was taken into its container: QuickTime's ``©xyz`` atom and
Apple's ``com.apple.quicktime.location.ISO6709`` key (in ``udta``/``meta``), 3GPP's ``loci``,
and often a timed metadata track (``mebx``) with the same. Editors add titles, authors and
encoder names. None of it may reach a platform, so the clean copy is a *stream copy*: the
first video stream and the first audio stream are moved packet by packet (no decoding, no
re-encoding, no quality lost, seconds even for long files) into a new MP4 whose container and
streams carry no metadata at all; every other stream (data, timecode, subtitles, cover art,
metadata tracks) is left behind.

What is kept: the display matrix (a phone's "turn this 90°" is part of the picture, and
FFmpeg carries it with the codec parameters), the timing, the codecs. ``+faststart`` puts the
index (``moov``) before the pictures, so a platform or a browser can start playing before the
whole file arrives. ``+bitexact`` leaves out the muxer's own name, so the same input gives the
same bytes. FFmpeg still writes an empty ``udta/meta/ilst`` box: it holds nothing.

Memory: one packet at a time, whatever the file's length.
"""

from __future__ import annotations

from pathlib import Path

import av
from av.container import InputContainer, OutputContainer
from av.stream import Stream

from shared.media.facts import MediaRefused, RefusalCode

MP4_OPTIONS = {"movflags": "+faststart", "fflags": "+bitexact"}


def remux_clean(source: Path, out_path: Path) -> None:
    """Write ``source``'s first video and first audio stream, packet for packet, into a new
    MP4 at ``out_path`` with no metadata. ``MediaRefused(corrupt)`` when the source cannot
    be read or muxed (probe it first: ``video.probe_video`` says why in more detail)."""
    try:
        with av.open(str(source), mode="r") as container:
            assert isinstance(container, InputContainer)
            with av.open(str(out_path), mode="w", format="mp4", options=MP4_OPTIONS) as output:
                assert isinstance(output, OutputContainer)
                _copy_streams(container, output)
    except (av.FFmpegError, OSError, ValueError) as exc:
        out_path.unlink(missing_ok=True)
        raise MediaRefused(
            RefusalCode.CORRUPT,
            "The video cannot be copied into a clean MP4: its container is damaged. Export "
            "it again and upload the new file.",
        ) from exc


def _copy_streams(container: InputContainer, output: OutputContainer) -> None:
    kept = _kept_streams(container)
    if not kept:
        raise MediaRefused(RefusalCode.NO_VIDEO, "The file has no video track.")
    targets: dict[int, Stream] = {}
    for stream in kept:
        target = output.add_stream_from_template(stream)
        target.metadata.clear()
        targets[stream.index] = target
    output.metadata.clear()
    for packet in container.demux(*kept):
        if packet.dts is None:  # the demuxer's end-of-stream marker
            continue
        packet.stream = targets[packet.stream.index]
        output.mux(packet)


def _kept_streams(container: InputContainer) -> list[Stream]:
    """The first video stream and the first audio stream, if any: nothing else."""
    kept: list[Stream] = []
    if container.streams.video:
        kept.append(container.streams.video[0])
    else:
        return []
    if container.streams.audio:
        kept.append(container.streams.audio[0])
    return kept
