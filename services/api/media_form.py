"""``POST /v1/media``'s body read once, as it arrives: the one file part streamed on (to
storage), the small text fields kept, wherever they sit in the body. Nothing of the file is
held beyond the chunk in hand (and the first bytes, until they say the file's type), so memory
stays flat whatever the size.

The type comes from the bytes: the first ``HEAD_BYTES`` are sniffed before anything is passed
on, and a file that is not an accepted type stops the upload there (415 naming the accepted
types). Size and SHA-256 are counted as the bytes go."""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from shared.errors import AppError, BadRequest, FieldProblem, PayloadTooLarge
from shared.media.facts import MediaType
from shared.media.sniff import ACCEPTED_DESCRIPTION, HEAD_BYTES, Unsupported, sniff

FILE_FIELD = "file"
MAX_FIELD_BYTES = 4096
MAX_FIELDS = 50


def _malformed() -> BadRequest:
    return BadRequest(
        "the multipart/form-data body is malformed (a part without headers, or a boundary "
        "that does not match the Content-Type's)",
        code="multipart_malformed",
        errors=[FieldProblem("body", "not a well-formed multipart/form-data body")],
    )


class UnsupportedMediaType(AppError):
    status_code = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"


@dataclass
class _State:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    header_field: bytes = b""
    header_value: bytes = b""
    current: str | None = None
    """The part being read: its field name."""
    in_file: bool = False
    file_seen: bool = False
    file_name: str = ""
    field_bytes: bytearray = field(default_factory=bytearray)
    fields: dict[str, list[str]] = field(default_factory=dict)
    pending: deque[bytes] = field(default_factory=deque)
    ended: bool = False


class MediaForm:
    """One multipart body: iterate :meth:`file_chunks` (to the end) to store the file, then
    read :attr:`fields`, :attr:`size`, :attr:`sha256`, :attr:`media_type`."""

    def __init__(self, content_type: str, body: AsyncIterator[bytes], max_bytes: int) -> None:
        kind, options = parse_options_header(content_type)
        boundary = options.get(b"boundary")
        if kind != b"multipart/form-data" or not boundary:
            raise BadRequest(
                "send the file as multipart/form-data with a `file` part (or use a resumable "
                "upload: POST /v1/media/uploads)",
                code="multipart_expected",
                errors=[FieldProblem("header.content-type", "must be multipart/form-data")],
            )
        self._body = body
        self._max = max_bytes
        self._state = _State()
        self._hash = hashlib.sha256()
        self.size = 0
        self.media_type: MediaType | None = None
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
                "on_end": self._end,
            },
            max_header_count=16,
        )

    # The parser's callbacks ------------------------------------------------------------------

    def _part_begin(self) -> None:
        self._state.headers = {}
        self._state.current = None
        self._state.in_file = False
        self._state.field_bytes = bytearray()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._state.header_field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._state.header_value += data[start:end]

    def _header_end(self) -> None:
        s = self._state
        s.headers[s.header_field.lower()] = s.header_value
        s.header_field = s.header_value = b""

    def _headers_finished(self) -> None:
        s = self._state
        _, options = parse_options_header(s.headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        s.current = name
        if name == FILE_FIELD:
            if s.file_seen:
                raise BadRequest(
                    "send one file per request",
                    code="one_file",
                    errors=[FieldProblem("body.file", "only one `file` part is taken")],
                )
            s.file_seen = s.in_file = True
            s.file_name = options.get(b"filename", b"").decode("utf-8", "replace")
        elif len(s.fields) >= MAX_FIELDS:
            raise BadRequest("too many form fields", code="too_many_fields")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        s = self._state
        if s.in_file:
            s.pending.append(bytes(data[start:end]))
            return
        s.field_bytes += data[start:end]
        if len(s.field_bytes) > MAX_FIELD_BYTES:
            raise BadRequest(
                f"the form field `{s.current}` is longer than {MAX_FIELD_BYTES} bytes",
                code="field_too_long",
                errors=[FieldProblem(f"body.{s.current}", f"at most {MAX_FIELD_BYTES} bytes")],
            )

    def _part_end(self) -> None:
        s = self._state
        if not s.in_file and s.current:
            try:
                value = s.field_bytes.decode("utf-8")
            except UnicodeDecodeError:
                raise BadRequest(
                    f"the form field `{s.current}` is not UTF-8 text",
                    code="field_not_text",
                    errors=[FieldProblem(f"body.{s.current}", "must be UTF-8 text")],
                ) from None
            s.fields.setdefault(s.current, []).append(value)
        s.in_file = False

    def _end(self) -> None:
        self._state.ended = True

    # Reading ---------------------------------------------------------------------------------

    @property
    def fields(self) -> dict[str, list[str]]:
        return self._state.fields

    @property
    def file_name(self) -> str:
        return self._state.file_name

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def field(self, name: str) -> str | None:
        values = self._state.fields.get(name)
        return values[-1] if values else None

    async def file_chunks(self) -> AsyncIterator[bytes]:
        """The file's bytes, checked (type from the first bytes, size) as they pass; reads the
        whole body, so the fields after the file are there once it ends."""
        head = bytearray()
        async for chunk in self._body:
            self._write(chunk)
            while self._state.pending:
                piece = self._state.pending.popleft()
                self._count(piece)
                if self.media_type is None:
                    head += piece
                    if len(head) < HEAD_BYTES:
                        continue
                    self._check_type(bytes(head))
                    piece, head = bytes(head), bytearray()
                yield piece
        try:
            self._parser.finalize()
        except FormParserError:
            raise _malformed() from None
        if not self._state.ended:
            raise BadRequest("the form ended before its closing boundary", code="multipart_cut")
        if not self._state.file_seen:
            raise BadRequest(
                "no file: send it in a part named `file`",
                code="file_missing",
                errors=[FieldProblem("body.file", "required")],
            )
        if self.media_type is None:
            self._check_type(bytes(head))
            if head:
                yield bytes(head)

    def _write(self, chunk: bytes) -> None:
        try:
            self._parser.write(chunk)
        except FormParserError:
            raise _malformed() from None

    def _count(self, piece: bytes) -> None:
        self.size += len(piece)
        self._hash.update(piece)
        if self.size > self._max:
            raise PayloadTooLarge(
                f"the file is larger than {self._max} bytes, the most one request takes; send "
                "larger files as a resumable upload (POST /v1/media/uploads, the tus protocol)",
                code="media_too_large",
                extra={"max_bytes": self._max},
            )

    def _check_type(self, head: bytes) -> None:
        found = sniff(head)
        if isinstance(found, Unsupported):
            raise UnsupportedMediaType(
                f"{found.message}; Chorus takes {ACCEPTED_DESCRIPTION}",
                code="unsupported_media_type",
                errors=[FieldProblem("body.file", f"accepted: {ACCEPTED_DESCRIPTION}")],
                extra={"accepted": list(found.accepted)},
            )
        self.media_type = found
