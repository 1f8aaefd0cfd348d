"""``shape=orders``: the flat rows folded back into one nested object per order.

The rows arrive ordered by order id, so an order is complete when the next one starts; only
one order is held at a time. The keys say the nesting:
``company__x`` goes to ``company.x``; a bare relation key (``secondary_company``,
``items__product_owner`` …) becomes the nested object's ``id``, and the object is null when
that id is; ``attributes__name`` goes to ``attributes.name`` (attributes an order or item
does not have are left out).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Final

from oms_export.fields import FIELDS

Row = dict[str, Any]

_RELATIONS: Final = frozenset(field.name for field in FIELDS if field.type == "relation")
ORDER_RELATIONS: Final = frozenset(key for key in _RELATIONS if not key.startswith("items__"))
"""The registry's ``relation`` keys of the order, and of the item (without ``items__``)."""
ITEM_RELATIONS: Final = frozenset(
    key.removeprefix("items__") for key in _RELATIONS if key.startswith("items__")
)


def _nest(flat: Row, relations: frozenset[str]) -> Row:
    """One level of nesting: ``head__rest`` keys (and a bare relation key) into ``head``."""
    out: Row = {}
    groups: set[str] = set()
    for key, value in flat.items():
        head, sep, rest = key.partition("__")
        if sep or key in relations:
            groups.add(head)
            group = out.setdefault(head, {})
            group["id" if not sep else rest] = value
        else:
            out[key] = value
    for head in groups:
        fields: Row = out[head]
        if head == "attributes":
            out[head] = {name: value for name, value in fields.items() if value is not None}
        elif all(value is None for value in fields.values()):
            out[head] = None  # no such record: a missing relation, or no e-commerce data
    return out


def _split(row: Row) -> tuple[Row, Row]:
    order: Row = {}
    item: Row = {}
    for key, value in row.items():
        if key.startswith("items__"):
            item[key[7:]] = value
        else:
            order[key] = value
    return order, item


def nest_orders(batches: Iterable[list[Row]]) -> Iterator[list[Row]]:
    """Batches of flat rows in, batches of complete nested orders out."""
    current: Row | None = None
    for batch in batches:
        done: list[Row] = []
        for row in batch:
            order_fields, item_fields = _split(row)
            if current is None or row["id"] != current["id"]:
                if current is not None:
                    done.append(current)
                current = _nest(order_fields, ORDER_RELATIONS)
                current["items"] = []
            if item_fields["id"] is not None:
                current["items"].append(_nest(item_fields, ITEM_RELATIONS))
        if done:
            yield done
    if current is not None:
        yield [current]
