"""One export from start to end: cursor check, plan, a database cursor streamed in batches.

``start_export`` does everything that can fail, up to opening the cursor, before a byte is
sent, so errors still get a proper status; the rows are then read from the same transaction,
one consistent snapshot of the store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Connection, CursorResult, Engine

from oms_export.export.encoders import Batches, csv_table, json_array, ndjson
from oms_export.export.paging import make_cursor, read_cursor
from oms_export.export.params import ExportQuery
from oms_export.export.query import ExportPlan, build_plan
from oms_export.export.rows import row_builder
from oms_export.export.shapes import nest_orders
from oms_export.export.tenancy import Entitlement


class Export:
    """An export under way: holds its database connection until closed."""

    def __init__(
        self,
        conn: Connection,
        plan: ExportPlan,
        result: CursorResult[Any],
        query: ExportQuery,
        next_cursor: str | None,
    ) -> None:
        self._conn = conn
        self._result = result
        self.plan = plan
        self.query = query
        self.next_cursor = next_cursor
        """Cursor for the next page's ``page[after]``; None when this is the last page."""
        self.rows = 0

    def row_batches(self) -> Iterator[list[dict[str, Any]]]:
        build = row_builder(self.plan)
        try:
            for part in self._result.partitions():
                self.rows += len(part)
                yield [build(raw) for raw in part]
        finally:
            self.close()

    def chunks(self, fmt: str) -> Iterator[bytes]:
        """The export encoded as ``fmt`` (json, ndjson or csv), a batch per chunk."""
        batches: Batches = self.row_batches()
        if self.query.shape == "orders":
            batches = nest_orders(batches)
        encoders: dict[str, Callable[[Batches], Iterator[bytes]]] = {
            "json": json_array,
            "ndjson": ndjson,
            "csv": csv_table(self.plan.keys),
        }
        return encoders[fmt](batches)

    def close(self) -> None:
        if not self._conn.closed:
            self._conn.close()


def start_export(
    engine: Engine,
    query: ExportQuery,
    entitled: Entitlement,
    *,
    client_id: str,
    cursor_key: bytes,
    batch_rows: int = 2000,
) -> Export:
    """Check the page cursor, plan the export and open its cursor; rows are read on demand."""
    after_id = (
        None if query.after is None else read_cursor(cursor_key, client_id, query, query.after)
    )
    conn = engine.connect()
    try:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        conn.begin()
        plan = build_plan(conn, query, entitled, after_id=after_id)
        result = conn.execution_options(stream_results=True, yield_per=batch_rows).execute(
            plan.statement
        )
    except BaseException:
        conn.close()
        raise
    next_cursor = (
        None
        if plan.next_after is None
        else make_cursor(cursor_key, client_id, query, plan.next_after)
    )
    return Export(conn, plan, result, query, next_cursor)
