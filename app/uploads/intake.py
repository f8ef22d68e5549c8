"""Receiving an upload: the multipart body streamed into a staging file, never whole in memory.

The body is parsed as it arrives (python-multipart's streaming parser): the `file` part goes to a file in the
staging directory through a buffer of at most 1 MB, the small `keep` field is kept in memory, and the body is cut
off (413) as soon as it passes the largest file accepted (a 300 MB video).
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from app.errors import AppError, BadRequest

if TYPE_CHECKING:
    # Only the API's route passes a request; the worker imports this module and no web framework.
    from starlette.requests import Request

MB = 1024 * 1024
MAX_IMAGE_BYTES = 8 * MB
MAX_VIDEO_BYTES = 300 * MB
# Part headers and boundaries around the file.
MULTIPART_OVERHEAD = 64 * 1024
_WRITE_AT = MB
_MAX_FIELD_BYTES = 64


class UploadTooLarge(AppError):
    status_code = 413
    code = "upload_too_large"
    message = "The file is too large: images may be up to 8 MB and videos up to 300 MB"


@dataclass
class Received:
    """The staged file and the form's other fields."""

    path: Path
    size: int
    filename: str | None
    content_type: str | None
    keep: bool


@dataclass
class _Part:
    headers: dict[str, str] = field(default_factory=dict)
    name: str | None = None
    filename: str | None = None


class _Collector:
    """The parser's callbacks: which part is which, the file's bytes to the buffer, small fields to memory."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file
        self.buffer = bytearray()
        self.part = _Part()
        self.header_field = bytearray()
        self.header_value = bytearray()
        self.fields: dict[str, bytearray] = {}
        self.files = 0
        self.file_size = 0
        self.filename: str | None = None
        self.content_type: str | None = None
        self.error: str | None = None

    def on_part_begin(self) -> None:
        self.part = _Part()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.part.headers[self.header_field.decode("latin-1").lower()] = self.header_value.decode("latin-1")
        self.header_field.clear()
        self.header_value.clear()

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.part.headers.get("content-disposition", ""))
        name = options.get(b"name")
        filename = options.get(b"filename")
        self.part.name = name.decode("utf-8", "replace") if name else None
        self.part.filename = filename.decode("utf-8", "replace") if filename is not None else None
        if self.part.name == "file":
            self.files += 1
            self.filename = self.part.filename
            self.content_type = self.part.headers.get("content-type")
        elif self.part.name:
            self.fields[self.part.name] = bytearray()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.part.name == "file":
            if self.files == 1:
                self.buffer += data[start:end]
                self.file_size += end - start
        elif self.part.name in self.fields:
            value = self.fields[self.part.name]
            if len(value) + end - start > _MAX_FIELD_BYTES:
                self.error = f"the form field {self.part.name} is too long"
            else:
                value += data[start:end]


def _boundary(request: Request) -> bytes:
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise BadRequest(
            'The upload must be multipart/form-data, with the file in a field named "file"', code="validation_error"
        )
    return boundary


def _keep(value: bytearray | None) -> bool:
    text = bytes(value or b"").decode("ascii", "replace").strip().lower()
    if text in ("", "false", "0", "no"):
        return False
    if text in ("true", "1", "yes"):
        return True
    raise BadRequest("keep must be true or false", code="validation_error")


async def receive(request: Request, staging: Path) -> Received:
    """Stream the request's multipart body into a new file under `staging`; BadRequest or UploadTooLarge when it
    is not a form with one file of at most 300 MB (the file is then removed)."""
    boundary = _boundary(request)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_VIDEO_BYTES + MULTIPART_OVERHEAD:
        raise UploadTooLarge()
    path = staging / f"incoming-{secrets.token_hex(16)}"
    try:
        with path.open("wb") as file:
            collector = _Collector(file)
            parser = MultipartParser(boundary, _callbacks(collector))  # type: ignore[arg-type]
            async for chunk in request.stream():
                _feed(parser, chunk)
                if collector.error is not None:
                    raise BadRequest(collector.error, code="validation_error")
                if collector.file_size > MAX_VIDEO_BYTES:
                    raise UploadTooLarge()
                if len(collector.buffer) >= _WRITE_AT:
                    await asyncio.to_thread(file.write, bytes(collector.buffer))
                    collector.buffer.clear()
            _feed(parser, None)
            await asyncio.to_thread(file.write, bytes(collector.buffer))
            collector.buffer.clear()
        if collector.files != 1:
            message = "file is required" if collector.files == 0 else "send one file per upload"
            raise BadRequest(f'{message} (a multipart/form-data field named "file")', code="validation_error")
        if collector.file_size == 0:
            raise BadRequest("file is empty", code="validation_error")
        return Received(
            path=path,
            size=collector.file_size,
            filename=(collector.filename or None) and collector.filename[:255],
            content_type=collector.content_type,
            keep=_keep(collector.fields.get("keep")),
        )
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _feed(parser: MultipartParser, chunk: bytes | None) -> None:
    try:
        if chunk is None:
            parser.finalize()
        else:
            parser.write(chunk)
    except MultipartParseError as exc:
        raise BadRequest("The upload is not a well-formed multipart/form-data body", code="validation_error") from exc


def _callbacks(collector: _Collector) -> dict[str, object]:
    return {
        "on_part_begin": collector.on_part_begin,
        "on_part_data": collector.on_part_data,
        "on_header_field": collector.on_header_field,
        "on_header_value": collector.on_header_value,
        "on_header_end": collector.on_header_end,
        "on_headers_finished": collector.on_headers_finished,
    }
