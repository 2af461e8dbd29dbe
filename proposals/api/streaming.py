"""Responses too large to build in memory: the export and the whole matrix as CSV.

A streamed body is produced while it is sent, a batch of rows at a time, so a worker's memory
holds one batch however large the dataset. Three things every such response shares:

- **one snapshot**: the queries of one body all read one transaction (REPEATABLE READ on
  PostgreSQL; SQLite's single writer gives the same), so a body never mixes two states of the
  data, e.g. a citation whose source it missed because a curator saved in between. The
  transaction is opened when the first chunk is asked for and closed after the last one, or
  when the client goes away;
- **chunks of ``CHUNK_BYTES``**: small pieces (a CSV line, one row's JSON) are joined before they
  are written, one write per chunk rather than one per row;
- **a heartbeat** after each chunk (``common.heartbeat``), so gunicorn's worker timeout ends a
  stuck request but not a long one that is making progress.

Once the first chunk is sent the status is 200: an error later ends the body early (the
connection closes without the document's end; a JSON reader fails on it, and a CSV reader
should count the rows it expected).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.db import connection, transaction
from django.http import StreamingHttpResponse

from common import heartbeat

CHUNK_BYTES = 64 * 1024


@contextmanager
def consistent_read() -> Iterator[None]:
    """Run several queries against one snapshot of the database."""
    if connection.in_atomic_block:  # the surrounding transaction already decides
        yield
        return
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as db:
                db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def chunks(pieces: Iterable[bytes | str], *, size: int = CHUNK_BYTES) -> Iterator[bytes]:
    """``pieces`` read inside one snapshot and joined into chunks of about ``size`` bytes."""
    with consistent_read():
        buffer: list[bytes] = []
        buffered = 0
        for piece in pieces:
            data = piece.encode() if isinstance(piece, str) else piece
            buffer.append(data)
            buffered += len(data)
            if buffered >= size:
                yield b"".join(buffer)
                heartbeat.beat()
                buffer.clear()
                buffered = 0
        if buffer:
            yield b"".join(buffer)


def streamed(
    pieces: Iterable[bytes | str], *, content_type: str, filename: str
) -> StreamingHttpResponse:
    """An attachment whose body is ``pieces``, produced as it is sent."""
    response = StreamingHttpResponse(chunks(pieces), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
