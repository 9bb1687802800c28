"""Videos: probe what they are, prove they decode, and take a poster frame.

PyAV (FFmpeg's libraries, bundled in its wheels) reads the container and decodes a few frames
at the start and one near the end: a file whose header is fine but whose pictures are not
(cut off, damaged, or another format in an MP4 name) is refused, not published. Chorus takes
H.264 or HEVC video with AAC audio or none, as every target platform does; nothing is
transcoded.

Rotation: phones store video sideways and add a display matrix saying how to turn it.
``MediaFacts.width``/``height`` are the displayed size (after the turn) and ``rotation`` the
clockwise turn in degrees; the poster frame is written already turned.
"""

from __future__ import annotations

import math
from pathlib import Path

import av
from av.container import InputContainer
from av.video.frame import VideoFrame
from av.video.stream import VideoStream
from PIL import Image

from shared.media import images
from shared.media.facts import MediaFacts, MediaRefused, MediaType, RefusalCode
from shared.media.sniff import sniff_file

VIDEO_CODECS = frozenset({"h264", "hevc"})
AUDIO_CODECS = frozenset({"aac"})
PROBE_FRAMES = 5
POSTER_QUALITY = 90
_POSTER_AT = 1.0
"""Seconds into the video for the default poster (or a tenth of a shorter video): the first
frame is often black or a fade."""

_TURN = {
    90: Image.Transpose.ROTATE_270,  # Pillow's ROTATE_n turns counter-clockwise
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_90,
}


def probe_video(path: Path, *, decode_frames: int = PROBE_FRAMES) -> MediaFacts:
    """The facts of a video after decoding its first ``decode_frames`` frames and one near
    its end. Raises ``MediaRefused`` for another type, a damaged file, or a codec no
    platform takes."""
    media_type = sniff_file(path)
    if media_type not in (MediaType.MP4, MediaType.MOV):
        raise MediaRefused(RefusalCode.UNSUPPORTED_TYPE, "The file is not an MP4 or MOV video.")
    with _open(path) as container:
        stream = _video_stream(container)
        audio_codec = _audio_codec(container)
        first = _decode_start(container, stream, decode_frames)
        duration = _duration(container, stream)
        _decode_near_end(container, stream, duration)
        rotation = _clockwise(first)
        coded_width, coded_height = stream.codec_context.width, stream.codec_context.height
        turned = rotation in (90, 270)
        rate = stream.average_rate or stream.guessed_rate
        return MediaFacts(
            type=media_type,
            width=coded_height if turned else coded_width,
            height=coded_width if turned else coded_height,
            size_bytes=path.stat().st_size,
            duration_seconds=round(duration, 3),
            frame_rate=round(float(rate), 3) if rate else None,
            video_codec=stream.codec_context.name,
            audio_codec=audio_codec,
            bitrate=container.bit_rate or None,
            rotation=rotation,
        )


def extract_poster(path: Path, out_path: Path, *, at_seconds: float | None = None) -> MediaFacts:
    """Write one frame as a JPEG (turned upright, no metadata) and return its facts: at
    ``at_seconds``, or one second in (a tenth of the way into a shorter video)."""
    with _open(path) as container:
        stream = _video_stream(container)
        duration = _duration(container, stream)
        when = at_seconds if at_seconds is not None else min(_POSTER_AT, duration / 10)
        frame = _frame_at(container, stream, max(0.0, min(when, duration)))
        picture = frame.to_image()  # type: ignore[no-untyped-call]
        turn = _TURN.get(_clockwise(frame))
        if turn is not None:
            picture = picture.transpose(turn)
    data = images.encode_clean(picture.convert("RGB"), MediaType.JPEG, POSTER_QUALITY)
    out_path.write_bytes(data)
    return MediaFacts(
        type=MediaType.JPEG, width=picture.width, height=picture.height, size_bytes=len(data)
    )


class _Opened:
    """``av.open`` with its errors turned into refusals (a context manager)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.container: InputContainer | None = None

    def __enter__(self) -> InputContainer:
        try:
            self.container = av.open(str(self.path), mode="r")
        except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
            raise MediaRefused(
                RefusalCode.CORRUPT,
                "The video cannot be read: its container is damaged or incomplete. Upload "
                "the original file again.",
            ) from exc
        return self.container

    def __exit__(self, *exc: object) -> None:
        if self.container is not None:
            self.container.close()


def _open(path: Path) -> _Opened:
    return _Opened(path)


def _video_stream(container: InputContainer) -> VideoStream:
    if not container.streams.video:
        raise MediaRefused(RefusalCode.NO_VIDEO, "The file has no video track.")
    stream = container.streams.video[0]
    codec = stream.codec_context.name
    if codec not in VIDEO_CODECS:
        raise MediaRefused(
            RefusalCode.UNSUPPORTED_CODEC,
            f"The video is encoded as {codec}; platforms take H.264 or HEVC. Export it as "
            'H.264 ("MP4, H.264" in most editors) and upload it again.',
        )
    return stream


def _audio_codec(container: InputContainer) -> str | None:
    if not container.streams.audio:
        return None
    codec = container.streams.audio[0].codec_context.name
    if codec not in AUDIO_CODECS:
        raise MediaRefused(
            RefusalCode.UNSUPPORTED_CODEC,
            f"The audio is encoded as {codec}; platforms take AAC. Export it with AAC audio "
            "and upload it again.",
        )
    return codec


def _decode_start(container: InputContainer, stream: VideoStream, count: int) -> VideoFrame:
    first: VideoFrame | None = None
    decoded = 0
    try:
        for frame in container.decode(stream):
            first = first or frame
            decoded += 1
            if decoded >= count:
                break
    except (av.FFmpegError, ValueError) as exc:
        raise _undecodable() from exc
    if first is None:
        raise _undecodable()
    return first


def _decode_near_end(container: InputContainer, stream: VideoStream, duration: float) -> None:
    """Seek to 90% of the duration and decode one frame: a file cut short fails here even
    when its index (the ``moov`` atom) came first and promised more."""
    if duration <= 0:
        return
    try:
        _frame_at(container, stream, duration * 0.9)
    except MediaRefused:
        raise
    except (av.FFmpegError, ValueError) as exc:
        raise _undecodable() from exc


def _frame_at(container: InputContainer, stream: VideoStream, seconds: float) -> VideoFrame:
    """The first frame at or after ``seconds`` (or the last frame before the end)."""
    time_base = stream.time_base
    try:
        if seconds > 0 and time_base:
            container.seek(int(seconds / time_base), stream=stream, backward=True)
        last: VideoFrame | None = None
        for frame in container.decode(stream):
            last = frame
            if frame.time is None or frame.time >= seconds - 1e-3:
                return frame
    except (av.FFmpegError, ValueError) as exc:
        raise _undecodable() from exc
    if last is None:
        raise _undecodable()
    return last


def _duration(container: InputContainer, stream: VideoStream) -> float:
    if container.duration:
        return container.duration / av.time_base
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return 0.0


def _clockwise(frame: VideoFrame) -> int:
    """The clockwise turn a player applies, from the frame's display matrix (PyAV reports it
    counter-clockwise, -180 to 180), snapped to a quarter turn."""
    degrees = -frame.rotation % 360
    return int(90 * round(degrees / 90)) % 360 if not math.isnan(degrees) else 0


def _undecodable() -> MediaRefused:
    return MediaRefused(
        RefusalCode.CORRUPT,
        "The video does not decode: its pictures are damaged or the file ends early. Upload "
        "the original file again.",
    )
