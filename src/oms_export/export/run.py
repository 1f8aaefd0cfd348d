"""One export from start to end: entitlement, plan, a cursor streamed in batches.

``start_export`` does everything that can fail, up to opening the cursor, before a byte is
sent, so errors still get a proper status; the rows are then read from the same transaction,
one consistent snapshot of the store.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, CursorResult, Engine

from oms_export.export.encoders import json_array
from oms_export.export.params import ExportQuery
from oms_export.export.query import ExportPlan, build_plan
from oms_export.export.rows import row_builder
from oms_export.export.tenancy import Entitlement


class Export:
    """An export under way: holds its database connection until closed."""

    def __init__(self, conn: Connection, plan: ExportPlan, result: CursorResult[Any]) -> None:
        self._conn = conn
        self._result = result
        self.plan = plan

    def row_batches(self) -> Iterator[list[dict[str, Any]]]:
        build = row_builder(self.plan)
        try:
            for part in self._result.partitions():
                yield [build(raw) for raw in part]
        finally:
            self.close()

    def json_chunks(self) -> Iterator[bytes]:
        return json_array(self.row_batches())

    def close(self) -> None:
        if not self._conn.closed:
            self._conn.close()


def start_export(
    engine: Engine, query: ExportQuery, entitled: Entitlement, *, batch_rows: int = 2000
) -> Export:
    """Plan the export and open its cursor; the rows are read as the caller iterates."""
    conn = engine.connect()
    try:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        conn.begin()
        plan = build_plan(conn, query, entitled)
        result = conn.execution_options(stream_results=True, yield_per=batch_rows).execute(
            plan.statement
        )
    except BaseException:
        conn.close()
        raise
    return Export(conn, plan, result)
