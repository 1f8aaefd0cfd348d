"""Database rows to export rows: name the statuses, spread the attributes into columns."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson

from oms_export.export.query import ExportPlan
from oms_export.statuses import ITEM_STATUSES, ORDER_STATUSES

Row = dict[str, Any]


def row_builder(plan: ExportPlan) -> Callable[[Sequence[Any]], Row]:
    """A function from one result tuple (in ``plan``'s column order) to one export row."""
    fields = plan.fields
    order_status = fields.index("status_name")
    item_status = fields.index("items__status_name")
    order_keys = tuple(f"attributes__{n}" for n in plan.order_attribute_names)
    item_keys = tuple(f"items__attributes__{n}" for n in plan.item_attribute_names)
    order_names = plan.order_attribute_names
    item_names = plan.item_attribute_names
    width = len(fields)

    def build(raw: Sequence[Any]) -> Row:
        values = list(raw[:width])
        values[order_status] = ORDER_STATUSES.get(values[order_status])
        code = values[item_status]
        values[item_status] = None if code is None else ITEM_STATUSES.get(code)
        row = dict(zip(fields, values, strict=True))
        if plan.include_attributes:
            order_attrs = _as_mapping(raw[width])
            item_attrs = _as_mapping(raw[width + 1])
            for key, name in zip(order_keys, order_names, strict=True):
                row[key] = order_attrs.get(name)
            for key, name in zip(item_keys, item_names, strict=True):
                row[key] = item_attrs.get(name)
        return row

    return build


def _as_mapping(value: Any) -> dict[str, Any]:
    # PostgreSQL hands json back decoded; SQLite hands back its text.
    if value is None:
        return {}
    if isinstance(value, str | bytes):
        decoded: dict[str, Any] = orjson.loads(value)
        return decoded
    mapping: dict[str, Any] = value
    return mapping
