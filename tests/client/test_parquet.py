"""``--format parquet``: typed columns whatever the data, values read back equal, bounded groups."""

from __future__ import annotations

import gc
import io
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from oms_export.pull import parquet
from oms_export.pull.outputs import FileOutput
from oms_export.pull.parquet import ParquetEncoder

Row = dict[str, Any]


def order(order_id: int, item_ids: Sequence[int] = (), **changes: Any) -> list[Row]:
    """An order's export rows: one per item, or one row with null item fields when it has none."""
    head: Row = {
        "id": order_id,
        "ref": f"SO-{order_id}",
        "completion_datetime": "2024-03-01 12:30:00",
        "is_free_of_charge": False,
        "shipping_price": 4.95,
        "required_dispatch_date": "2024-03-04",
    }
    items = [
        {
            "items__id": item_id,
            "items__quantity": 2,
            "items__unit_sale_price": 12.5,
            "attributes__channel": "web",
        }
        for item_id in item_ids
    ] or [
        {
            "items__id": None,
            "items__quantity": None,
            "items__unit_sale_price": None,
            "attributes__channel": "web",
        }
    ]
    return [head | item | changes for item in items]


def encoded(*batches: list[Row]) -> pa.Table:
    """The batches through one encoder, read back from the bytes it wrote."""
    stream = io.BytesIO()
    encoder = ParquetEncoder(stream)
    for batch in batches:
        encoder.write(batch)
    encoder.finish()
    return pq.read_table(io.BytesIO(stream.getvalue()))


def exported(value: Any) -> Any:
    """A value read back, in the form the export sent it."""
    if isinstance(value, datetime):
        assert value.utcoffset() is not None
        assert value.utcoffset() == UTC.utcoffset(None)
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return value


def test_each_column_has_its_type_even_when_every_value_is_null() -> None:
    rows = order(1, required_dispatch_date=None, shipping_price=None, is_free_of_charge=None)
    table = encoded(rows)
    assert table.schema == pa.schema(
        [
            pa.field("id", pa.int64()),
            pa.field("ref", pa.string()),
            pa.field("completion_datetime", pa.timestamp("ms", tz="UTC")),
            pa.field("is_free_of_charge", pa.bool_()),
            pa.field("shipping_price", pa.float64()),
            pa.field("required_dispatch_date", pa.date32()),
            pa.field("items__id", pa.int64()),
            pa.field("items__quantity", pa.int64()),
            pa.field("items__unit_sale_price", pa.float64()),
            pa.field("attributes__channel", pa.string()),
        ]
    )
    assert all(field.nullable for field in table.schema)
    assert table.column("items__quantity").null_count == 1


def test_every_type_round_trips_nulls_included() -> None:
    rows = [
        *order(1, [11, 12], is_free_of_charge=True, completion_datetime="2024-12-31 23:59:59"),
        *order(2, shipping_price=None, required_dispatch_date=None, completion_datetime=None),
        *order(3, [31], shipping_price=0.1, ref='Ünïcödé "quoted"\nline', id=2**53 + 1),
        *order(4, [41], completion_datetime="1970-01-01 00:00:00", is_free_of_charge=None),
    ]
    table = encoded(rows[:3], rows[3:])
    read = [{key: exported(value) for key, value in row.items()} for row in table.to_pylist()]
    assert read == rows
    assert table.column("completion_datetime")[0].as_py() == datetime(
        2024, 12, 31, 23, 59, 59, tzinfo=UTC
    )


def test_batches_are_gathered_into_row_groups_of_bounded_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(parquet, "ROW_GROUP_ROWS", 5_000)
    batches = [
        [row for order_id in range(first, first + 1_000) for row in order(order_id, [1, 2])]
        for first in range(0, 12_000, 1_000)
    ]  # 12 batches of 2,000 rows
    stream = io.BytesIO()
    encoder = ParquetEncoder(stream)
    for batch in batches:
        encoder.write(batch)
    encoder.finish()
    metadata = pq.ParquetFile(io.BytesIO(stream.getvalue())).metadata
    groups = [metadata.row_group(index).num_rows for index in range(metadata.num_row_groups)]
    assert groups == [6_000, 6_000, 6_000, 6_000]  # a group closes on the batch that fills it
    table = pq.read_table(io.BytesIO(stream.getvalue()))
    assert table.column("id").to_pylist() == [row["id"] for batch in batches for row in batch]


def test_wide_rows_close_a_row_group_by_bytes_before_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parquet, "ROW_GROUP_BYTES", 10_000)
    wordy = [order(order_id, [1], ref="x" * 1_000) for order_id in range(30)]
    stream = io.BytesIO()
    encoder = ParquetEncoder(stream)
    for batch in wordy:
        encoder.write(batch)
    encoder.finish()
    metadata = pq.ParquetFile(io.BytesIO(stream.getvalue())).metadata
    assert metadata.num_rows == 30
    assert 2 <= metadata.num_row_groups <= 5


def test_no_rows_give_a_valid_file_with_no_columns() -> None:
    table = encoded([], [])
    assert table.num_rows == 0
    assert table.num_columns == 0


def test_a_value_of_the_wrong_kind_is_named_by_its_column() -> None:
    with pytest.raises(ValueError, match=r"column 'items__quantity' \(int64\)"):
        encoded(order(1, [11], items__quantity="two"))
    with pytest.raises(ValueError, match=r"column 'completion_datetime'"):
        encoded(order(1, [11], completion_datetime="yesterday"))


def test_rows_whose_keys_change_within_the_file_are_refused() -> None:
    with pytest.raises(ValueError, match="changed keys"):
        encoded(order(1, [11]), order(2, [21], attributes__gift="yes"))


def test_a_file_output_commits_a_readable_file(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    output = FileOutput(path, "parquet")
    output.write(order(1, [11, 12]))
    output.write(order(2))
    output.commit()
    assert pq.read_table(path).column("items__id").to_pylist() == [11, 12, None]


def test_an_aborted_file_output_leaves_no_file_and_no_error_behind(tmp_path: Path) -> None:
    output = FileOutput(tmp_path / "orders.parquet", "parquet")
    output.write(order(1, [11]))
    output.abort()
    del output
    gc.collect()  # a writer finalising into the closed file would raise here, as unraisable
    assert list(tmp_path.iterdir()) == []
