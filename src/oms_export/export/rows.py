"""Database rows to export rows: pair the plan's keys with the values, nothing more.

The statement already yields every value in its exported form (see query.py); the one thing
a driver cannot give is SQLite's booleans, which arrive as 0/1. Which keys are booleans (the
registry's ``flag`` fields) is worked out once per export, as positions, never per row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

from oms_export.export.query import ExportPlan
from oms_export.fields import FIELDS

Row = dict[str, Any]

BOOLEAN_FIELDS: Final = tuple(field.name for field in FIELDS if field.type == "flag")
_BOOLEANS: Final = frozenset(BOOLEAN_FIELDS)


def flag_positions(keys: Sequence[str]) -> list[int]:
    """The positions of boolean values in rows with these keys (for SQLite rows and CSV)."""
    return [n for n, key in enumerate(keys) if key in _BOOLEANS]


def row_builder(plan: ExportPlan, *, dialect: str) -> Callable[[Sequence[Any]], Row]:
    """A function from one result tuple (in ``plan``'s column order) to one export row."""
    keys = plan.keys
    if dialect != "sqlite":
        # The statement's columns are built from these keys, so lengths always match; the
        # strict check would cost a tenth of this, the hottest line of an export.
        return lambda raw: dict(zip(keys, raw, strict=False))
    flags = flag_positions(keys)

    def build(raw: Sequence[Any]) -> Row:
        values = list(raw)
        for index in flags:
            if values[index] is not None:
                values[index] = bool(values[index])
        return dict(zip(keys, values, strict=True))

    return build
