"""Where pulled rows go: a file written whole or not at all, or stdout.

Every output takes rows in batches (``write``), makes them durable in ``commit`` and leaves no
trace on ``abort``. A file is written beside its final name and renamed over it only once
flushed and fsynced, so a reader, or a sync state that points at it, never sees half a file.
"""

from __future__ import annotations

import csv
import io
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Final, Protocol

import orjson

from oms_export.pull.sink import Sink

if TYPE_CHECKING:
    from typing_extensions import Buffer  # collections.abc has it from Python 3.12

Row = dict[str, Any]

FORMATS: Final = ("json", "ndjson", "csv", "parquet")


class Output(Protocol):
    """A destination for rows: ``commit`` once at the end makes them durable.

    A file output leaves no trace on ``abort``; a table output has committed each batch as it
    was written (delivering them again changes nothing) and only closes.
    """

    description: str

    @property
    def written(self) -> int | None:
        """Bytes written so far; None where bytes mean nothing (a table)."""
        ...

    def write(self, rows: Sequence[Row]) -> None: ...

    def commit(self) -> None: ...

    def abort(self) -> None: ...


class Counted(io.RawIOBase):
    """A write-only stream that passes everything to ``stream`` and counts the bytes.

    What a pull reports as written is what reached the file or stdout, not what came over the
    network: the two differ by format (CSV is smaller than the service's NDJSON, parquet much
    smaller) and by the rows an incremental pull leaves out. Counting here, in front of the
    encoder, works for a pipe, which has no position to ask. ``tell`` is the count, as pyarrow
    asks its sink where it is.
    """

    def __init__(self, stream: BinaryIO) -> None:
        super().__init__()
        self._stream = stream
        self.count = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Buffer, /) -> int:
        size = memoryview(data).nbytes
        self._stream.write(data)
        self.count += size
        return size

    def tell(self) -> int:
        return self.count

    def flush(self) -> None:
        # Also called when this wrapper is collected, after a file output closed the file.
        if not self._stream.closed:
            self._stream.flush()


class Encoder(Protocol):
    """Rows to bytes in one file format."""

    def write(self, rows: Sequence[Row]) -> None: ...

    def finish(self) -> None: ...

    def abort(self) -> None: ...


class NdjsonEncoder:
    def __init__(self, stream: Sink) -> None:
        self._stream = stream

    def write(self, rows: Sequence[Row]) -> None:
        self._stream.write(
            b"".join(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE) for row in rows)
        )

    def finish(self) -> None:
        pass

    def abort(self) -> None:
        pass


class JsonEncoder:
    """One JSON array, laid out byte for byte as the service writes it."""

    def __init__(self, stream: Sink) -> None:
        self._stream = stream
        self._separator = b"["

    def write(self, rows: Sequence[Row]) -> None:
        if rows:
            self._stream.write(self._separator + orjson.dumps(list(rows))[1:-1])
            self._separator = b","

    def finish(self) -> None:
        self._stream.write(b"[]" if self._separator == b"[" else b"]")

    def abort(self) -> None:
        pass


class CsvEncoder:
    """RFC 4180 CSV as the service writes it: header of the first row's keys, CRLF, null empty,
    ``true``/``false``. An export with no rows gives an empty file: the client never saw a key."""

    def __init__(self, stream: Sink) -> None:
        self._stream = stream
        self._text = io.StringIO()
        self._csv = csv.writer(self._text, lineterminator="\r\n")
        self._header: list[str] | None = None

    def write(self, rows: Sequence[Row]) -> None:
        if not rows:
            return
        if self._header is None:
            self._header = list(rows[0])
            self._csv.writerow(self._header)
        header = self._header
        self._csv.writerows([_csv_value(row.get(key)) for key in header] for row in rows)
        self._stream.write(self._text.getvalue().encode())
        self._text.seek(0)
        self._text.truncate()

    def finish(self) -> None:
        pass

    def abort(self) -> None:
        pass


def _csv_value(value: Any) -> Any:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return value


def encoder(fmt: str, stream: Sink) -> Encoder:
    if fmt == "parquet":
        from oms_export.pull.parquet import ParquetEncoder  # pyarrow is big: only when asked

        return ParquetEncoder(stream)
    encoders: dict[str, type[NdjsonEncoder | JsonEncoder | CsvEncoder]] = {
        "json": JsonEncoder,
        "ndjson": NdjsonEncoder,
        "csv": CsvEncoder,
    }
    return encoders[fmt](stream)


class FileOutput:
    """Rows encoded into ``path``: written to a temporary file beside it, renamed at commit."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.description = str(path)
        self._path = path
        self._temporary = _partial(path)
        self._stream: BinaryIO = open(self._temporary, "wb")  # noqa: SIM115  (closed at commit)
        self._counted = Counted(self._stream)
        self._encoder = encoder(fmt, self._counted)

    @property
    def written(self) -> int:
        return self._counted.count

    def write(self, rows: Sequence[Row]) -> None:
        self._encoder.write(rows)

    def commit(self) -> None:
        self._encoder.finish()
        self._stream.flush()
        os.fsync(self._stream.fileno())
        self._stream.close()
        os.replace(self._temporary, self._path)
        _fsync_directory(self._path.parent)

    def abort(self) -> None:
        self._encoder.abort()
        self._stream.close()
        self._temporary.unlink(missing_ok=True)


class StdoutOutput:
    """Rows encoded onto stdout as they come; commit means flushed."""

    description = "stdout"

    def __init__(self, fmt: str, stream: BinaryIO | None = None) -> None:
        self._stream = stream or sys.stdout.buffer
        self._counted = Counted(self._stream)
        self._encoder = encoder(fmt, self._counted)

    @property
    def written(self) -> int:
        return self._counted.count

    def write(self, rows: Sequence[Row]) -> None:
        self._encoder.write(rows)

    def commit(self) -> None:
        self._encoder.finish()
        self._stream.flush()

    def abort(self) -> None:
        self._encoder.abort()
        self._stream.flush()


def _partial(path: Path) -> Path:
    """The one temporary name of ``path``: a run killed midway leaves it, the next overwrites it."""
    return path.with_name(f".{path.name}.part")


def _fsync_directory(directory: Path) -> None:
    """Make a rename durable: on POSIX the directory entry is only safe once the directory is."""
    fd = os.open(directory or ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves either the old or the new content."""
    temporary = _partial(path)
    try:
        with open(temporary, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)
