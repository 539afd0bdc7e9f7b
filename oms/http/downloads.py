"""Downloads a client can verify and resume: a file written whole before its first byte is
sent, with its length, row count and SHA-256, and byte ranges.

Writing first (to memory, then to a temporary file) ends the database's part of an export
at the database's speed, whatever the client's: no transaction or cursor stays open while
a slow client reads. The response then says, before the body, everything a client needs to
know it got the whole file on any HTTP version: ``Content-Length``, ``X-Row-Count`` and
``Repr-Digest`` / ``Content-Digest`` (RFC 9530, SHA-256).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Iterator
from tempfile import SpooledTemporaryFile
from typing import IO, Any

from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    StreamingHttpResponse,
)

ROW_COUNT_HEADER = "X-Row-Count"
RANGE = re.compile(r"bytes=(\d*)-(\d*)")
READ_SIZE = 1024 * 1024


class Spool:
    """A file being written (in memory up to ``memory`` bytes, then on disk), and once
    :meth:`close_writing` has run, its size, SHA-256 and the rows it holds."""

    def __init__(self, memory: int) -> None:
        # Not a context manager: the response closes the file once it has been sent.
        self.file: IO[bytes] = SpooledTemporaryFile(max_size=memory)  # noqa: SIM115
        self.rows = 0
        self.size = 0
        self.sha256 = ""  # base64, as the digest fields carry it
        # What write() was given, hashed on the way (a writer given the file itself, such
        # as a workbook's, has the file read back instead).
        self.digest: Any = hashlib.sha256()
        self.written = 0

    @classmethod
    def stored(cls, file: IO[bytes], *, rows: int, size: int, sha256: str) -> Spool:
        """A file written before (an export job's), with what was measured of it then."""
        spool = cls(0)
        spool.file.close()
        spool.file, spool.rows, spool.size, spool.sha256 = file, rows, size, sha256
        return spool

    def write(self, data: bytes, /) -> int:
        self.file.write(data)
        self.digest.update(data)
        self.written += len(data)
        return len(data)

    # The rest of a writable binary file, for writers that seek back (zipfile rewrites a
    # header): bytes written twice make close_writing() read the file back for its digest.
    def tell(self) -> int:
        return self.file.tell()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.file.seek(offset, whence)

    def seekable(self) -> bool:
        return True

    def flush(self) -> None:
        self.file.flush()

    def close(self) -> None:
        self.file.close()

    def counted(self, rows: Iterable[Any]) -> Iterator[Any]:
        """``rows``, counting them as they are written."""
        for row in rows:
            self.rows += 1
            yield row

    def close_writing(self) -> None:
        """Size and digest of what was written."""
        self.size = self.file.tell()
        self.file.seek(0)
        if self.written != self.size:  # written to the file directly: read it back once
            self.digest = hashlib.sha256()
            while block := self.file.read(READ_SIZE):
                self.digest.update(block)
            self.file.seek(0)
        self.sha256 = base64.b64encode(self.digest.digest()).decode()

    @property
    def etag(self) -> str:
        return f'"sha256-{self.sha256}"'


def spooled_response(
    request: HttpRequest,
    spool: Spool,
    *,
    content_type: str,
    filename: str,
    immutable: bool = False,
) -> HttpResponseBase:
    """The whole file (200), or the byte range asked for (206; 416 beyond the end).

    ``immutable`` files (a finished export job's) answer any ``Range``. A file written anew
    for each request may differ between requests: a range of it is given only under an
    ``If-Range`` naming this very file (its ETag), otherwise the whole file is sent.
    """
    digest = f"sha-256=:{spool.sha256}:"
    headers = {
        ROW_COUNT_HEADER: str(spool.rows),
        "Repr-Digest": digest,
        "ETag": spool.etag,
        "Accept-Ranges": "bytes",
    }
    wanted = requested_range(request, spool, immutable)
    response: HttpResponseBase
    if wanted == UNSATISFIABLE:
        response = HttpResponse(
            status=416, headers={**headers, "Content-Range": f"bytes */{spool.size}"}
        )
        spool.file.close()
        return response
    if wanted is None:
        response = FileResponse(
            spool.file, as_attachment=True, filename=filename, content_type=content_type
        )
        response["Content-Length"] = str(spool.size)
        headers["Content-Digest"] = digest  # the content is the representation
    else:
        start, end = wanted
        response = StreamingHttpResponse(
            read_range(spool.file, start, end), status=206, content_type=content_type
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["Content-Range"] = f"bytes {start}-{end}/{spool.size}"
        response["Content-Length"] = str(end - start + 1)
    for name, value in headers.items():
        response[name] = value
    return response


UNSATISFIABLE = (-1, -1)  # a Range the file cannot answer: 416


def requested_range(request: HttpRequest, spool: Spool, immutable: bool) -> tuple[int, int] | None:
    """(first, last) byte of a single ``Range`` to answer, ``UNSATISFIABLE``, or None: the
    whole file."""
    header = request.META.get("HTTP_RANGE", "")
    match = RANGE.fullmatch(header.strip())
    if match is None:  # none, several ranges, or another unit: the whole file (allowed)
        return None
    condition = request.META.get("HTTP_IF_RANGE")
    if condition != spool.etag and not (immutable and condition is None):
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        length = min(int(last), spool.size)
        return (spool.size - length, spool.size - 1) if length else UNSATISFIABLE
    start = int(first)
    if start >= spool.size:
        return UNSATISFIABLE
    end = min(int(last), spool.size - 1) if last else spool.size - 1
    return (start, end) if end >= start else None


def read_range(file: IO[bytes], start: int, end: int) -> Iterator[bytes]:
    try:
        file.seek(start)
        left = end - start + 1
        while left > 0 and (block := file.read(min(READ_SIZE, left))):
            left -= len(block)
            yield block
    finally:
        file.close()
