"""Reading an import file: a JSON array of records, or NDJSON (one record per line).

The format is told by the first non-blank character: ``[`` is a JSON array, ``{`` is NDJSON.
Records are numbered so a user can find the bad ones: NDJSON by **line number** (1-based, as
editors and ``sed -n 3p`` count), a JSON array by **index** (0-based, as ``jq '.[3]'`` counts).

NDJSON is read line by line, so its memory stays flat however long the file; a JSON array is
read whole, so prefer NDJSON for very large imports.

A line of NDJSON that is not valid JSON becomes a ``BadJson`` record, which the import reports
as a rejection of that line while the other lines go on. A file that is neither format — or a
JSON array that does not parse, since then no record can be trusted — raises ``ImportFileError``
before anything is stored.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any, Literal

from oms_export.admin.records import DuplicateKeys
from oms_export.errors import OmsExportError

Position = Literal["line", "index"]
_BOM = b"\xef\xbb\xbf"


class ImportFileError(OmsExportError):
    """The file as a whole cannot be read as records; nothing of it was imported."""

    error = "invalid_file"


@dataclass(frozen=True)
class BadJson:
    """A line that is not valid JSON, standing where its record would be."""

    reason: str


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> Any:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            return DuplicateKeys(key)
        obj[key] = value
    return obj


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def loads(data: bytes) -> Any:
    """JSON with exact decimals, no NaN/Infinity, and objects that name a key twice marked."""
    return json.loads(
        data,
        parse_float=Decimal,
        parse_constant=_no_constant,
        object_pairs_hook=_object_without_duplicates,
    )


def _bad_json(exc: ValueError) -> BadJson:
    if isinstance(exc, json.JSONDecodeError):
        return BadJson(f"not valid JSON: {exc.msg} at column {exc.colno}")
    if isinstance(exc, UnicodeDecodeError):
        return BadJson("not valid JSON: the line is not UTF-8 text")
    return BadJson(f"not valid JSON: {exc}")


class RecordReader(Iterator[tuple[int, Any]]):
    """``(line or index, record)`` pairs of one file; ``position`` says which of the two."""

    position: Position

    def __init__(self, stream: IO[bytes]) -> None:
        self.position, self._records = self._open(stream)

    def __next__(self) -> tuple[int, Any]:
        return next(self._records)

    def _open(self, stream: IO[bytes]) -> tuple[Position, Iterator[tuple[int, Any]]]:
        number, first = 0, b""
        for number, line in enumerate(stream, 1):
            content = line.removeprefix(_BOM) if number == 1 else line
            if content.strip():
                first = content
                break
        start = first.lstrip()[:1]
        if not start:
            return "line", iter(())
        if start == b"[":
            return "index", self._array(first + stream.read())
        if start != b"{":
            raise ImportFileError(
                f"The file is neither a JSON array nor NDJSON (one JSON object per line): "
                f"line {number} starts with {first.strip()[:20].decode(errors='replace')!r}."
            )
        try:
            record = loads(first.rstrip())
        except ValueError as exc:
            rest = stream.read()
            _refuse_multiline_object(first + rest)
            lines = _ndjson(number + 1, io.BytesIO(rest))
            return "line", _chain((number, _bad_json(exc)), lines)
        return "line", _chain((number, record), _ndjson(number + 1, stream))

    @staticmethod
    def _array(data: bytes) -> Iterator[tuple[int, Any]]:
        try:
            records = loads(data)
        except ValueError as exc:
            where = (
                f" at line {exc.lineno}, column {exc.colno}"
                if isinstance(exc, json.JSONDecodeError)
                else ""
            )
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            raise ImportFileError(
                f"The file starts as a JSON array but is not valid JSON: {reason}{where}. "
                "Nothing was imported."
            ) from None
        return enumerate(records)


def _refuse_multiline_object(data: bytes) -> None:
    try:
        loads(data)
    except ValueError:
        return
    raise ImportFileError(
        "The file is one JSON object spread over several lines. Give a JSON array of records "
        "([{…}, {…}]) or NDJSON, one record per line."
    )


def _chain(first: tuple[int, Any], rest: Iterator[tuple[int, Any]]) -> Iterator[tuple[int, Any]]:
    yield first
    yield from rest


def _ndjson(start: int, lines: IO[bytes]) -> Iterator[tuple[int, Any]]:
    for number, line in enumerate(lines, start):
        if not line.strip():
            continue
        try:
            yield number, loads(line.rstrip())
        except ValueError as exc:
            yield number, _bad_json(exc)


def read_records(stream: IO[bytes]) -> RecordReader:
    """The records of an import file opened in binary mode (``-`` on the CLI is stdin)."""
    return RecordReader(stream)
