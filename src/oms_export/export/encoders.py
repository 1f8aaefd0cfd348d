"""Export rows to bytes on the wire, a batch at a time, never the whole result at once.

JSON is written by msgspec, which takes the flat export's records (``rows.record_batcher``) as
well as dicts. Its numbers are orjson's, which wrote the export before, except that a float of
10^16 or more gets no ``+`` in its exponent (``1e16``, orjson ``1e+16``); the schema keeps every
exported number (money, rates, weights) below 10^10, so no export can tell the two apart
(tests/api/test_export_bytes.py pins the bytes).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import msgspec

Batches = Iterable[Sequence[Any]]
"""Records (dicts or ``rows.record_batcher``'s Structs), a batch at a time. Which format uses
which encoder: ``formats.py``."""

_ENCODER = msgspec.json.Encoder()
_COMMA = ord(",")


def json_array(batches: Batches) -> Iterator[bytes]:
    """One JSON array, written as the batches arrive: ``[`` row ``,`` row … ``]``.

    Each batch is encoded as an array into a buffer of its own, and its brackets are turned
    into the separators in place (the first ``[`` kept, later ones made ``,``, every ``]``
    dropped), so the megabytes are written once and never copied.
    """
    opened = False
    for batch in batches:
        if batch:
            chunk = bytearray()
            _ENCODER.encode_into(batch, chunk)
            if opened:
                chunk[0] = _COMMA
            del chunk[-1]
            opened = True
            yield chunk  # type: ignore[misc]  # a bytes-like chunk; the sender takes a view
    yield b"]" if opened else b"[]"


def ndjson(batches: Batches) -> Iterator[bytes]:
    """One JSON document per line."""
    for batch in batches:
        if batch:
            yield _ENCODER.encode_lines(batch)


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
