"""Database rows to export rows: pair the plan's keys with the values, nothing more.

The statement already yields every value in its exported form (see query.py); the one thing
a driver cannot give is SQLite's booleans, which arrive as 0/1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from oms_export.export.query import ExportPlan

Row = dict[str, Any]

BOOLEAN_FIELDS = ("is_free_of_charge",)


def row_builder(plan: ExportPlan, *, dialect: str) -> Callable[[Sequence[Any]], Row]:
    """A function from one result tuple (in ``plan``'s column order) to one export row."""
    keys = plan.keys
    if dialect != "sqlite":
        # The statement's columns are built from these keys, so lengths always match; the
        # strict check would cost a tenth of this, the hottest line of an export.
        return lambda raw: dict(zip(keys, raw, strict=False))
    flags = [keys.index(name) for name in BOOLEAN_FIELDS]

    def build(raw: Sequence[Any]) -> Row:
        values = list(raw)
        for index in flags:
            if values[index] is not None:
                values[index] = bool(values[index])
        return dict(zip(keys, values, strict=True))

    return build
