"""Reading an import file: a JSON array of records, or NDJSON (one record per line).

The format is told by the first non-blank character: ``[`` is a JSON array, ``{`` is NDJSON.
Records are numbered so a user can find the bad ones: NDJSON by **line number** (1-based, as
editors and ``sed -n 3p`` count), a JSON array by **index** (0-based, as ``jq '.[3]'`` counts).

NDJSON is read line by line, so its memory stays flat however long the file; a JSON array is
read whole, so prefer NDJSON for very large imports.

Nothing here raises on any input: whatever cannot be read becomes a ``BadJson`` record standing
where its record would be, which the import reports as a rejection while the others go on.

- A line of NDJSON that does not parse is a ``BadJson`` for that line.
- A JSON array that does not parse whole — one element nested 100,000 deep, a number past what
  a decimal holds, a stray comma — is split into its top-level elements by a scan that skips
  strings and counts brackets, and each element is parsed alone: the bad one is rejected at its
  index, the others are read. Where the brackets themselves are broken, elements can no longer
  be told apart (nor numbered): from that element to the end of the file is one rejection.
- A file that is neither format, or one JSON object spread over several lines, is one
  ``BadJson`` for the whole file.

Integer literals longer than 20 digits come back as ``Decimal``: no column holds them, and
``int()`` of thousands of digits is slow and, past 4,300, refused by Python itself.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any, Final, Literal

from oms_export.admin.records import DuplicateKeys

Position = Literal["line", "index"]
_BOM: Final = b"\xef\xbb\xbf"
_LONGEST_INT: Final = 20  # digits and sign of the widest 64-bit integer
_NOTHING_AFTER: Final = "nothing from there to the end of the file was imported"
# A JSON string (escapes included) or one structural character; a lone '"' is a string that
# never ends. UTF-8 continuation bytes are never '"' or '\\', so bytes scan as safely as text.
_TOKEN: Final = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|["\[\]{},]', re.DOTALL)
_OPENER_OF: Final = {ord("]"): ord("["), ord("}"): ord("{")}


class Unreadable(ValueError):
    """JSON the parser cannot turn into values; its message is the whole reason."""


@dataclass(frozen=True)
class BadJson:
    """A line or element that cannot be read, standing where its record would be."""

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


def _integer(text: str) -> int | Decimal:
    return int(text) if len(text) <= _LONGEST_INT else Decimal(text)


def _fraction(text: str) -> Decimal:
    try:
        return Decimal(text)
    except ArithmeticError:
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise Unreadable(f"the number {shown} is out of any range the store holds") from None


def loads(data: bytes | str) -> Any:
    """JSON with exact decimals, no NaN/Infinity, and objects that name a key twice marked.

    Raises ``ValueError`` on anything it cannot read, nesting too deep for the parser included.
    """
    try:
        return json.loads(
            data,
            parse_float=_fraction,
            parse_int=_integer,
            parse_constant=_no_constant,
            object_pairs_hook=_object_without_duplicates,
        )
    except RecursionError:
        raise Unreadable(
            "nested too deeply to read (a record needs only a few levels of [ and {)"
        ) from None


def _bad_json(exc: ValueError) -> BadJson:
    if isinstance(exc, Unreadable):
        return BadJson(str(exc))
    if isinstance(exc, json.JSONDecodeError):
        return BadJson(f"not valid JSON: {exc.msg} at column {exc.colno}")
    if isinstance(exc, UnicodeDecodeError):
        return BadJson("not valid JSON: the text is not UTF-8")
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
            return "index", _array(first + stream.read(), number - 1)
        if start != b"{":
            shown = first.strip()[:20].decode(errors="replace")
            reason = (
                "the file is neither a JSON array nor NDJSON (one JSON object per line): "
                f"line {number} starts with {shown!r}; nothing was imported"
            )
            return "line", iter([(number, BadJson(reason))])
        try:
            record = loads(first.rstrip())
        except ValueError as exc:
            rest = stream.read()
            if _is_one_object(first + rest):
                reason = (
                    "the file is one JSON object spread over several lines; give a JSON array "
                    "of records ([{…}, {…}]) or NDJSON, one record per line; nothing was imported"
                )
                return "line", iter([(number, BadJson(reason))])
            lines = _ndjson(number + 1, io.BytesIO(rest))
            return "line", _chain((number, _bad_json(exc)), lines)
        return "line", _chain((number, record), _ndjson(number + 1, stream))


def _is_one_object(data: bytes) -> bool:
    try:
        loads(data)
    except ValueError:
        return False
    return True


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


# --- JSON arrays -----------------------------------------------------------------------------


def _array(data: bytes, skipped_lines: int) -> Iterator[tuple[int, Any]]:
    """The elements of ``data``, a JSON array after ``skipped_lines`` blank lines of the file."""
    try:
        records = loads(data)
    except ValueError:
        return _Elements(data, skipped_lines).split()
    return enumerate(records)


class _Elements:
    """A JSON array that did not parse whole, read one top-level element at a time."""

    def __init__(self, data: bytes, skipped_lines: int) -> None:
        self.data = data
        self.skipped_lines = skipped_lines

    def split(self) -> Iterator[tuple[int, Any]]:
        data = self.data
        index, start = 0, data.index(b"[") + 1
        openers = bytearray()
        for match in _TOKEN.finditer(data, start):
            kind = data[match.start()]
            if kind == ord('"'):
                if match.end() - match.start() == 1:
                    break  # a string that never ends swallows the rest of the file
            elif kind in b"[{":
                openers.append(kind)
            elif kind == ord(","):
                if not openers:
                    yield index, self.element(start, match.start())
                    index, start = index + 1, match.end()
            elif openers and openers[-1] == _OPENER_OF[kind]:
                openers.pop()
            elif not openers and kind == ord("]"):
                if index or data[start : match.start()].strip():
                    yield index, self.element(start, match.start())
                    index += 1
                tail = data[match.end() :]
                if tail.strip():
                    where = self.where(len(data) - len(tail.lstrip()), 0)
                    yield index, BadJson(f"not valid JSON: text after the array's end at {where}")
                return
            else:
                break  # a bracket closes what it did not open: elements run together from here
        yield index, self.rest(start)

    def element(self, start: int, end: int) -> Any:
        if not self.data[start:end].strip():
            return BadJson(
                f"not valid JSON: an empty element (a comma too many?) at {self.where(end, 0)}"
            )
        return self.parse(start, end)

    def rest(self, start: int) -> BadJson:
        """The element at ``start`` and all after it, which brackets no longer tell apart."""
        parsed = self.parse(start, len(self.data)) if self.data[start:].strip() else None
        if isinstance(parsed, BadJson):
            return BadJson(f"{parsed.reason}; {_NOTHING_AFTER}")
        return BadJson(
            "not valid JSON: the file ends before the array is closed (is it cut short?)"
            + ("" if parsed is None else f"; {_NOTHING_AFTER}")
        )

    def parse(self, start: int, end: int) -> Any:
        try:
            text = self.data[start:end].decode()
        except UnicodeDecodeError:
            return BadJson(f"not valid JSON: the element at {self.where(start, 0)} is not UTF-8")
        try:
            return loads(text)
        except json.JSONDecodeError as exc:
            return BadJson(f"not valid JSON: {exc.msg} at {self.where(start, exc.pos, text)}")
        except ValueError as exc:
            return _bad_json(exc)

    def where(self, offset: int, pos: int, text: str = "") -> str:
        """``line L, column C`` in the file of character ``pos`` of ``text``, read at ``offset``."""
        before = text[:pos]
        line = self.skipped_lines + self.data.count(b"\n", 0, offset) + before.count("\n") + 1
        if "\n" in before:
            column = len(before) - before.rfind("\n")
        else:
            line_start = self.data.rfind(b"\n", 0, offset) + 1
            column = len(self.data[line_start:offset].decode(errors="replace")) + len(before) + 1
        return f"line {line}, column {column}"


def read_records(stream: IO[bytes]) -> RecordReader:
    """The records of an import file opened in binary mode (``-`` on the CLI is stdin)."""
    return RecordReader(stream)
