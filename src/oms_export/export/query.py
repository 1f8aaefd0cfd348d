"""The export as one SQL statement: filters and tenancy in WHERE, fields in SELECT order.

Every value leaves the database ready for JSON: datetimes formatted, money and rates as
doubles (exact for the stored 4 and 6 decimals), status names looked up, one column per
attribute name. Columns carry no SQLAlchemy type, so rows skip result processing: the Python
side only pairs keys with values and encodes. Rows are ordered by order id, then item id.

On PostgreSQL the per-row lookups are LATERAL joins: one probe gathers all attributes of an
order (once per order, not per item row) or of an item, and the price lookups are memoized by
the planner on (product, company, quantity). Together they cut the SELECT's time by about 40%
against one correlated subquery per value (docs/performance.md). SQLite has no LATERAL and keeps
the subqueries. An item's latest shipment (``includeFulfilment``) is looked up the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Connection,
    Float,
    LargeBinary,
    Select,
    and_,
    case,
    cast,
    exists,
    func,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.sql.selectable import FromClause, LateralFromClause
from sqlalchemy.types import NullType

from oms_export.db import schema
from oms_export.export.paging import AttributeColumns, PageCursor
from oms_export.export.params import ExportQuery, Filter
from oms_export.export.tenancy import Entitlement
from oms_export.fields import BY_NAME, FIELDS, field_names
from oms_export.statuses import ITEM_STATUSES, ORDER_STATUSES

o = schema.orders.alias("o")
c = schema.companies.alias("c")
sc = schema.companies.alias("sc")
i = schema.order_items.alias("i")
p = schema.products.alias("p")
owner = schema.companies.alias("owner")
pp = schema.product_prices.alias("pp")
bp = schema.product_prices.alias("bp")
pe = schema.product_ecommerce.alias("pe")
ls = schema.shipments.alias("ls")

_RAW = NullType()
"""The type of every selected column: no result processing, the driver's value as it is."""


@dataclass(frozen=True)
class ExportPlan:
    """What one export will select: the listed fields and the attribute columns after them."""

    fields: tuple[str, ...]
    order_attribute_names: tuple[str, ...]
    item_attribute_names: tuple[str, ...]
    statement: Select[Any]
    next_after: int | None = None
    """Last order id of this page when more orders remain after it; None on the last page."""
    has_attributes: bool = False
    """``includeAttributes`` is on (the export may still find no attribute names)."""

    @property
    def keys(self) -> tuple[str, ...]:
        return export_keys(self.fields, self.order_attribute_names, self.item_attribute_names)

    @property
    def attribute_columns(self) -> AttributeColumns | None:
        """The attribute names a page cursor carries on, None when the export has none."""
        if not self.has_attributes:
            return None
        return self.order_attribute_names, self.item_attribute_names


def export_keys(
    fields: tuple[str, ...], order_names: tuple[str, ...], item_names: tuple[str, ...]
) -> tuple[str, ...]:
    """The keys of every row: the listed fields, then the attribute columns."""
    return (
        fields
        + tuple(f"attributes__{name}" for name in order_names)
        + tuple(f"items__attributes__{name}" for name in item_names)
    )


def build_plan(
    conn: Connection, query: ExportQuery, entitled: Entitlement, *, after: PageCursor | None = None
) -> ExportPlan:
    """The export's statement; with ``query.page_size``, bounded to one page of orders.

    A page is the next ``page_size`` order ids after the cursor's (keyset paging), so an
    order's rows never straddle pages and new orders cannot shift what later pages hold. Later
    pages keep the first page's attribute columns, carried by the cursor.
    """
    dialect = conn.dialect.name
    names = field_names(query.options)
    exprs = _field_expressions(dialect)
    columns = [exprs[name] for name in names]
    order_names: tuple[str, ...] = ()
    item_names: tuple[str, ...] = ()
    order_row = item_row = None
    if "includeAttributes" in query.options:
        if after is not None and after.columns is not None:
            order_names, item_names = after.columns
        else:
            order_names, item_names = _attribute_names(conn, query, entitled)
            if after is not None:
                after.check_columns((order_names, item_names))
        if dialect == "postgresql":
            order_row = _attribute_row("order", order_names)
            item_row = _attribute_row("item", item_names)
            columns += _lateral_values(order_row) + _lateral_values(item_row)
        else:
            columns += [_attribute("order", name) for name in order_names]
            columns += [_attribute("item", name) for name in item_names]
    keys = export_keys(names, order_names, item_names)
    conditions = _conditions(query, entitled, in_id_order=dialect == "sqlite")
    if after is not None:
        conditions.append(o.c.id > after.last_id)
    next_after: int | None = None
    if query.page_size is not None:
        page_ids = select(o.c.id).where(*conditions).order_by(o.c.id).limit(query.page_size + 1)
        ids = conn.scalars(page_ids).all()
        if len(ids) > query.page_size:
            next_after = ids[query.page_size - 1]
            conditions.append(o.c.id <= next_after)
    statement = (
        select(*(type_coerce(col, _RAW).label(k) for col, k in zip(columns, keys, strict=True)))
        .select_from(_joins(query.options, dialect, order_row, item_row))
        .where(*conditions)
        .order_by(o.c.id, i.c.id)
    )
    return ExportPlan(
        names,
        order_names,
        item_names,
        statement,
        next_after,
        has_attributes="includeAttributes" in query.options,
    )


_JSON_PAIRS_PER_CALL = 60
"""``json_object`` takes at most 127 arguments in a stock SQLite build."""
_FLAGS: Final = frozenset(field.name for field in FIELDS if field.type == "flag")
_RATES: Final = frozenset(field.name for field in FIELDS if field.type == "rate")


def sqlite_json_rows(plan: ExportPlan) -> Select[Any]:
    """SQLite: the plan's rows as JSON objects SQLite writes itself, one BLOB per row.

    Python's driver spends more building a tuple of ~100 values per row than SQLite spends
    on the row, so for a flat JSON export SQLite formats each row (``json_object``, as the
    ``sqlite3`` shell does) and the service only joins the bytes. The text is the export's to
    the byte (tests/api/test_export_bytes.py): flags become ``true``/``false``, and the one
    number SQLite writes otherwise than the JSON encoder, a rate below 10⁻⁴ (``5.0e-05``,
    encoder ``0.00005``; money has 4 decimals and stays above that), is written in SQL.
    """
    values: list[Any] = []
    for key, column in zip(plan.keys, plan.statement.selected_columns, strict=True):
        value: Any = column.element if hasattr(column, "element") else column
        if key in _FLAGS:
            value = case(
                (value.is_(None), None), (value != 0, func.json("true")), else_=func.json("false")
            )
        elif key in _RATES:
            small = case(
                (value < 0.00001, func.printf("%de-6", func.round(value * 1000000))),
                else_=func.rtrim(func.printf("%.6f", value), "0"),
            )
            value = case((and_(value > 0, value < 0.0001), func.json(small)), else_=value)
        values += [key, value]
    step = 2 * _JSON_PAIRS_PER_CALL
    parts = [func.json_object(*values[n : n + step]) for n in range(0, len(values), step)]
    text: Any = parts[0]
    if len(parts) > 1:  # {a…} {b…} {c…} → {a…,b…,c…}
        middle = [func.ltrim(func.rtrim(part, "}"), "{") for part in parts[1:-1]]
        text = func.rtrim(parts[0], "}")
        for piece in [*middle, func.ltrim(parts[-1], "{")]:
            text = text.op("||")(",").op("||")(piece)
    return plan.statement.with_only_columns(cast(text, LargeBinary).label("json"))


def _joins(
    options: frozenset[str],
    dialect: str,
    order_row: LateralFromClause | None,
    item_row: LateralFromClause | None,
) -> FromClause:
    """The FROM clause; ``order_row``/``item_row`` are the LATERAL attribute rows, if any."""
    joined = o.join(c, c.c.id == o.c.company_id).outerjoin(sc, sc.c.id == o.c.secondary_company_id)
    if order_row is not None:
        joined = joined.outerjoin(order_row, true())  # before the items: once per order
    joined = joined.outerjoin(i, i.c.order_id == o.c.id)
    if item_row is not None:
        joined = joined.outerjoin(item_row, true())
    if "includeProductOwner" in options:
        joined = joined.outerjoin(p, p.c.id == i.c.product_id).outerjoin(
            owner, owner.c.id == p.c.owner_company_id
        )
    if "includeProductPrice" in options:
        if dialect == "postgresql":
            joined = joined.outerjoin(pp_row, true()).outerjoin(bp_row, true())
        else:
            joined = joined.outerjoin(pp, pp.c.id == _price_id("product")).outerjoin(
                bp, bp.c.id == _price_id("base")
            )
    if "includeProductEcommerceInfo" in options:
        joined = joined.outerjoin(pe, pe.c.product_id == i.c.product_id)
    if "includeFulfilment" in options:
        if dialect == "postgresql":
            joined = joined.outerjoin(ls_row, true())
        else:
            joined = joined.outerjoin(ls, ls.c.id == _latest_shipment_id())
    return joined


def _price_conditions(price_list: str) -> list[ColumnElement[bool]]:
    """The item's price rows in one list: its product, its order's company, breaks it reaches."""
    prices = schema.product_prices
    return [
        prices.c.product_id == i.c.product_id,
        prices.c.price_list == price_list,
        prices.c.company_id == o.c.company_id,
        prices.c.quantity <= i.c.quantity,
    ]


def _price_id(price_list: str) -> Any:
    """The price row at the largest quantity break not above the item's quantity."""
    prices = schema.product_prices
    return (
        select(prices.c.id)
        .where(*_price_conditions(price_list))
        .order_by(prices.c.quantity.desc())
        .limit(1)
        .scalar_subquery()
    )


def _price_row(price_list: str, name: str) -> LateralFromClause:
    """As ``_price_id``, the whole row as a LATERAL join, which PostgreSQL memoizes."""
    prices = schema.product_prices
    return (
        select(prices)
        .where(*_price_conditions(price_list))
        .order_by(prices.c.quantity.desc())
        .limit(1)
        .lateral(name)
    )


pp_row = _price_row("product", "pp")
bp_row = _price_row("base", "bp")


def _latest_shipment(*columns: Any) -> Select[Any]:
    """The row's item's shipments, latest first: by dispatch time, a tie by the later shipment.

    An item's shipments are few and found through ``shipment_items``' item index, so the sort
    is cheap; an item never shipped (or an order row without items) has none, hence nulls.
    Only an item with shipped units has a shipment (every writer ships units and records their
    shipment in one change), and most items have none yet: the test of ``shipped_quantity``
    refers to the outer row alone, so PostgreSQL checks it before probing the index at all,
    which took a fifth off an export with every option on (docs/performance.md).
    """
    shipments, lines = schema.shipments, schema.shipment_items
    return (
        select(*columns)
        .join_from(lines, shipments, shipments.c.id == lines.c.shipment_id)
        .where(i.c.shipped_quantity > 0, lines.c.item_id == i.c.id)
        .order_by(shipments.c.dispatch_datetime.desc(), shipments.c.id.desc())
        .limit(1)
    )


def _latest_shipment_id() -> Any:
    """SQLite: the id of the item's latest shipment, the row joined as ``ls`` by primary key."""
    return _latest_shipment(schema.shipments.c.id).scalar_subquery()


ls_row = _latest_shipment(*schema.shipments.c).lateral("ls")
"""PostgreSQL: the item's latest shipment as a LATERAL row, one index probe per item."""


def _conditions(
    query: ExportQuery, entitled: Entitlement, *, in_id_order: bool = False
) -> list[ColumnElement[bool]]:
    """Tenancy and filters as WHERE clauses.

    ``in_id_order`` keeps SQLite from answering the tenancy test through its company indexes:
    that plan has to sort the whole result before the first row, while a scan in order-id order
    streams from the first order on (PostgreSQL's cursor planning finds that by itself).
    """
    ids = sorted(entitled.company_ids)
    company: ColumnElement[Any] = o.c.company_id
    secondary: ColumnElement[Any] = o.c.secondary_company_id
    if in_id_order:
        company, secondary = company + 0, secondary + 0  # an expression uses no index
    conditions: list[ColumnElement[bool]] = [or_(company.in_(ids), secondary.in_(ids))]
    if entitled.company_filter_ids is not None:
        conditions.append(o.c.company_id.in_(sorted(entitled.company_filter_ids)))
    conditions.extend(_filter_condition(flt) for flt in query.filters)
    return conditions


def _filter_condition(flt: Filter) -> ColumnElement[bool]:
    if flt.field == "company_ref_id":
        return true()  # turned into internal ids by the entitlement
    source = BY_NAME[flt.field].source
    if source is None:  # tests/unit/test_fields.py keeps every filterable field a stored column
        raise AssertionError(f"{flt.field} is computed; a filter needs a stored column")
    column = _source_column(source)
    value = flt.values[0]
    match flt.op:
        case "eq":
            return column == value
        case "in":
            return column.in_(list(flt.values))
        case "gt":
            return column > value
        case "gte":
            return column >= value
        case "lt":
            return column < value
        case "lte":
            return column <= value
    raise AssertionError(f"unhandled operator {flt.op}")  # params.py admits no other


def _attribute_names(
    conn: Connection, query: ExportQuery, entitled: Entitlement
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Every attribute name in the filtered result: the attribute columns of this export.

    Scanning all attributes of a large result before the first byte would cost seconds, so the
    store's few distinct names are listed from the ``name`` index (a loose index scan) and each
    is kept when one matching order or item has it (an EXISTS that stops at the first).
    """
    conditions = _conditions(query, entitled)
    oa = schema.order_attributes.alias("oa")
    ia = schema.item_attributes.alias("ia")
    ii = schema.order_items.alias("ii")
    order_names = [
        name
        for name in _distinct(conn, schema.order_attributes.c.name)
        if conn.scalar(
            select(
                exists()
                .where(oa.c.name == name, o.c.id == oa.c.order_id, *conditions)
                .select_from(oa, o)
            )
        )
    ]
    item_names = [
        name
        for name in _distinct(conn, schema.item_attributes.c.name)
        if conn.scalar(
            select(
                exists()
                .where(
                    ia.c.name == name, ii.c.id == ia.c.item_id, o.c.id == ii.c.order_id, *conditions
                )
                .select_from(ia, ii, o)
            )
        )
    ]
    return tuple(order_names), tuple(item_names)


def _distinct(conn: Connection, column: ColumnElement[str]) -> list[str]:
    """The distinct values of an indexed column, one index probe per value."""
    table = column.table
    inner = table.alias()
    names = select(func.min(column).label("name")).cte("names", recursive=True)
    following = select(func.min(inner.c[column.key])).where(inner.c[column.key] > names.c.name)
    names = names.union_all(select(following.scalar_subquery()).where(names.c.name.is_not(None)))
    return list(conn.scalars(select(names.c.name).where(names.c.name.is_not(None))))


def _attribute(kind: str, name: str) -> ColumnElement[Any]:
    """The value of one named attribute of the row's order or item (a primary-key lookup)."""
    if kind == "order":
        table, key, owner_id = schema.order_attributes, "order_id", o.c.id
    else:
        table, key, owner_id = schema.item_attributes, "item_id", i.c.id
    return (
        select(table.c.value)
        .where(table.c[key] == owner_id, table.c.name == name)
        .scalar_subquery()
    )


def _attribute_row(kind: str, names: tuple[str, ...]) -> LateralFromClause | None:
    """All the named attributes of the row's order or item in one row: one index probe."""
    if not names:
        return None
    if kind == "order":
        table, key, owner_id, alias = schema.order_attributes, "order_id", o.c.id, "oa"
    else:
        table, key, owner_id, alias = schema.item_attributes, "item_id", i.c.id, "ia"
    values = (
        func.max(table.c.value).filter(table.c.name == name).label(f"v{n}")
        for n, name in enumerate(names)
    )  # (owner, name) is the key: max() picks the one value or none
    return select(*values).where(table.c[key] == owner_id).lateral(alias)


def _lateral_values(row: LateralFromClause | None) -> list[ColumnElement[Any]]:
    """The row's values in the order of its names (it selects nothing else)."""
    return [] if row is None else list(row.c)


def _named(code: ColumnElement[Any], names: dict[int, str]) -> ColumnElement[Any]:
    return case(*((code == number, name) for number, name in names.items()))


_STORED: Final[dict[str, FromClause]] = {
    "o": o, "c": c, "sc": sc, "i": i, "owner": owner, "pp": pp, "bp": bp, "pe": pe, "ls": ls,
}  # fmt: skip
"""Each alias of ``fields.TABLES`` to its joined table (on PostgreSQL the prices and the latest
shipment are LATERAL)."""


def _sources(dialect: str) -> dict[str, FromClause]:
    if dialect == "postgresql":
        return {**_STORED, "pp": pp_row, "bp": bp_row, "ls": ls_row}
    return _STORED


def _source_column(source: str, sources: dict[str, FromClause] = _STORED) -> ColumnElement[Any]:
    """The column a registry ``source`` (``alias.column``) names, in ``sources``' joins."""
    alias, _, column = source.partition(".")
    return sources[alias].c[column]


def _computed(dialect: str) -> dict[str, ColumnElement[Any]]:
    """The SQL of each field whose value is not one stored column (``source=None``).

    A computed field added to the registry adds its expression here; the rest is generic.
    """
    exprs = {
        "status_name": _named(o.c.status, ORDER_STATUSES),
        "items__status_name": _named(i.c.status, ITEM_STATUSES),
    }
    for prefix, alias in (("items__product_price", "pp"), ("items__base_product_price", "bp")):
        price = _sources(dialect)[alias]
        # A price row is looked up for the order's company, so its company is the order's.
        exprs[f"{prefix}__company_ref_id"] = case((price.c.id.is_not(None), c.c.ref_id))
    return exprs


_TIME_FORMATS: Final[dict[str, str]] = {"datetime": "%Y-%m-%d %H:%M:%S", "date": "%Y-%m-%d"}
_NUMBERS: Final = frozenset({"money", "rate", "decimal"})


@cache
def _field_expressions(dialect: str) -> dict[str, ColumnElement[Any]]:
    """Each field name to the SQL that yields its exported value, once per field.

    A stored field is its ``source`` column as its type is sent: datetimes and dates formatted,
    money, rates and decimals as doubles (exact enough for the stored 4 or 6 decimals).
    """

    def dt(column: ColumnElement[Any], fmt: str) -> ColumnElement[Any]:
        if dialect == "postgresql":
            pg_fmt = fmt.replace("%Y", "YYYY").replace("%m", "MM").replace("%d", "DD")
            pg_fmt = pg_fmt.replace("%H", "HH24").replace("%M", "MI").replace("%S", "SS")
            return func.to_char(column, pg_fmt)
        return func.strftime(fmt, column)

    computed = _computed(dialect)
    sources = _sources(dialect)
    exprs: dict[str, ColumnElement[Any]] = {}
    for field in FIELDS:
        if field.source is None:
            exprs[field.name] = computed[field.name]
            continue
        column = _source_column(field.source, sources)
        if field.type in _TIME_FORMATS:
            column = dt(column, _TIME_FORMATS[field.type])
        elif field.type in _NUMBERS:
            column = cast(column, Float)
        exprs[field.name] = column
    return exprs
