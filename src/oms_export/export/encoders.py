"""Export rows to bytes on the wire, a batch at a time, never the whole result at once."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import orjson

Batches = Iterable[list[dict[str, Any]]]
"""Rows as dicts, a batch at a time. Which format uses which encoder: ``formats.py``."""


def json_array(batches: Batches) -> Iterator[bytes]:
    """One JSON array, written as the batches arrive: ``[`` row ``,`` row … ``]``."""
    yield b"["
    separator = b""
    for batch in batches:
        if batch:
            # One orjson call per batch, its list's brackets cut off through a memoryview: the
            # megabytes are copied once (a slice, then the separator added, copied them twice).
            yield b"".join((separator, memoryview(orjson.dumps(batch))[1:-1]))
            separator = b","
    yield b"]"


def ndjson(batches: Batches) -> Iterator[bytes]:
    """One JSON document per line."""
    for batch in batches:
        if batch:
            yield b"".join([orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE) for row in batch])


def csv_table(
    keys: Sequence[str], flags: Sequence[int], batches: Iterable[Sequence[Sequence[Any]]]
) -> Iterator[bytes]:
    """RFC 4180 CSV: a header row of ``keys``, CRLF line ends, null as an empty field.

    ``flags`` are the positions of boolean columns, written ``true``/``false`` as in JSON.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(keys)
    yield _drain(buffer)
    for batch in batches:
        if flags:
            batch = [_with_words(values, flags) for values in batch]
        writer.writerows(batch)
        yield _drain(buffer)


def _with_words(values: Sequence[Any], flags: Sequence[int]) -> list[Any]:
    out = list(values)
    for index in flags:
        if out[index] is not None:
            out[index] = "true" if out[index] else "false"
    return out


def _drain(buffer: io.StringIO) -> bytes:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text.encode()
