"""Rows to one Parquet file, typed by ``columns.column_type`` so all-null columns keep their type.

The only module of the client that imports pyarrow: ``outputs.encoder`` loads it when asked
for ``--format parquet``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

import pyarrow as pa
import pyarrow.parquet as pq

from oms_export.pull.columns import ColumnType, column_type

if TYPE_CHECKING:
    from oms_export.pull.sink import Sink

Row = dict[str, Any]

ROW_GROUP_ROWS: Final = 65_536
"""Rows per row group at most: big enough for readers to scan fast, small enough to buffer."""

ROW_GROUP_BYTES: Final = 64 * 1024 * 1024
"""Buffered Arrow bytes that end a row group early, so wide or wordy rows stay bounded too."""

TIMESTAMP: Final = pa.timestamp("ms", tz="UTC")
"""Parquet has no second unit: milliseconds is the coarsest it stores (whole seconds here)."""

ARROW_TYPES: Final[dict[ColumnType, pa.DataType]] = {
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "datetime": TIMESTAMP,
    "date": pa.date32(),
    "text": pa.string(),
}


def arrow_schema(names: Sequence[str]) -> pa.Schema:
    """Every column nullable, typed by its name: the data of one pull may hold no value at all."""
    return pa.schema([pa.field(name, ARROW_TYPES[column_type(name)]) for name in names])


class ParquetEncoder:
    """One Parquet file: the schema from the first batch's keys, a row group per ~64k rows.

    Batches (2,000 rows from ``pull``) are converted to Arrow at once and buffered until a row
    group is full, so memory holds one row group of compact columns, however long the pull.
    Datetimes (``YYYY-MM-DD HH:MM:SS``, UTC) become UTC timestamps in milliseconds, as
    Parquet has no second unit; dates become ``date32``.

    No rows at all give a valid Parquet file with no columns and no rows: without a row the
    keys are unknown (attribute columns come from data), and a reader opening the file should
    find an empty table rather than an error, as the CSV encoder gives an empty file.
    """

    def __init__(self, stream: Sink) -> None:
        self._stream = stream
        self._schema: pa.Schema | None = None
        self._writer: pq.ParquetWriter | None = None
        self._buffer: list[pa.RecordBatch] = []
        self._buffered_rows = 0
        self._buffered_bytes = 0
        self._finished = False

    def write(self, rows: Sequence[Row]) -> None:
        if not rows:
            return
        if self._schema is None:
            self._schema = arrow_schema(list(rows[0]))
            self._writer = pq.ParquetWriter(self._stream, self._schema)
        batch = _record_batch(rows, self._schema)
        self._buffer.append(batch)
        self._buffered_rows += batch.num_rows
        self._buffered_bytes += batch.nbytes
        if self._buffered_rows >= ROW_GROUP_ROWS or self._buffered_bytes >= ROW_GROUP_BYTES:
            self._flush()

    def finish(self) -> None:
        if self._writer is None:
            pq.write_table(pa.table({}), self._stream)
        else:
            self._flush()
            self._writer.close()
        self._finished = True

    def _flush(self) -> None:
        if not self._buffer or self._writer is None:
            return
        table = pa.Table.from_batches(self._buffer, self._schema)
        self._writer.write_table(table, row_group_size=table.num_rows)  # one group a flush
        self._buffer = []
        self._buffered_rows = 0
        self._buffered_bytes = 0

    def abort(self) -> None:
        # The file is being thrown away and its stream closed: no footer may be written into
        # it, neither now nor when pyarrow's writer is collected.
        if self._writer is not None:
            self._writer.is_open = False
        self._finished = True


def _record_batch(rows: Sequence[Row], schema: pa.Schema) -> pa.RecordBatch:
    if list(rows[0]) != schema.names:
        raise ValueError(
            f"parquet: rows changed keys within one file: {list(rows[0])} after {schema.names}"
        )
    return pa.RecordBatch.from_arrays(
        [_array([row[field.name] for row in rows], field) for field in schema], schema=schema
    )


def _array(values: list[Any], field: pa.Field) -> pa.Array:
    """One column; a value of the wrong kind is named by its column, not left to a bare
    ArrowInvalid."""
    try:
        if field.type == TIMESTAMP:
            # The string cast cannot attach a zone; a naive timestamp cast to UTC keeps the
            # instant, which is what the service's UTC strings mean.
            return pa.array(values, pa.string()).cast(pa.timestamp("s")).cast(TIMESTAMP)
        if field.type == pa.date32():
            return pa.array(values, pa.string()).cast(pa.date32())
        return pa.array(values, field.type)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ValueError(f"parquet: column {field.name!r} ({field.type}): {exc}") from exc
