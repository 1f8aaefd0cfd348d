"""Export rows to bytes on the wire, a batch at a time, never the whole result at once."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Final

import orjson

Batches = Iterable[list[dict[str, Any]]]

MEDIA_TYPES: Final = {
    "json": "application/json",
    "ndjson": "application/x-ndjson",
    "csv": "text/csv; charset=utf-8",
}


def json_array(batches: Batches) -> Iterator[bytes]:
    """One JSON array, written as the batches arrive: ``[`` row ``,`` row … ``]``."""
    yield b"["
    separator = b""
    for batch in batches:
        if batch:
            # One orjson call per batch: the list's own brackets are cut off.
            yield separator + orjson.dumps(batch)[1:-1]
            separator = b","
    yield b"]"


def ndjson(batches: Batches) -> Iterator[bytes]:
    """One JSON document per line."""
    for batch in batches:
        if batch:
            yield b"\n".join(map(orjson.dumps, batch)) + b"\n"


def csv_table(keys: Sequence[str]) -> Callable[[Batches], Iterator[bytes]]:
    """RFC 4180 CSV: a header row of ``keys``, CRLF line ends, null as an empty field."""

    def encode(batches: Batches) -> Iterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(keys)
        yield _drain(buffer)
        for batch in batches:
            writer.writerows(map(_csv_values, batch))
            yield _drain(buffer)

    return encode


def _csv_values(row: dict[str, Any]) -> list[Any]:
    return [_CSV_WORDS.get(v, v) if v is True or v is False else v for v in row.values()]


_CSV_WORDS: Final = {True: "true", False: "false"}


def _drain(buffer: io.StringIO) -> bytes:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text.encode()
