"""Import of products and orders (spec §4, §5): each record whole or not at all.

Every record is checked (``records.py``), then written in its own transaction, so a failure rolls
back that record only and a rejected record never stops the good ones. Re-importing a file
changes nothing: each row keeps the hash of its normalized record, and an equal hash is reported
``unchanged`` without a write.

Identity:

- Orders are keyed by (``company_ref_id``, ``external_ref``), products by ``product_id``. A key
  that appears again later in the same file is rejected ("the first one counts"), so that
  re-importing that file is still a no-op instead of flip-flopping between the two versions.
- The store gives orders and items an ``id`` (database sequence, creation order) and a ``ref``:
  ``O`` or ``I`` followed by the id in upper-case base 36 (order 1000 is ``ORS``).
- On update the order keeps its id and ref; its items are matched by ``external_ref``, or by
  position when an item has none, and matched items keep theirs. Items that vanished are deleted
  with their attributes; attributes are replaced whole. An item with units already shipped or
  cancelled (API.md §6) is never deleted: an update that drops one is rejected whole, with a
  reason naming the item, since its shipments and cancellations are facts the file cannot undo.
- ``updated_datetime`` is the time of the record's write (UTC, whole seconds), set on create and
  on a real update in the same transaction, and left alone when the record is ``unchanged``.
- A stored order's status moves only as the lifecycle of §6.3 lets the service move it
  (``orders.lifecycle``): forward, into and out of a hold, 8 to 64, never back and never out of a
  final status. A record that would undo progress made since (a selling system's stale file after
  the fulfiller dispatched) is rejected with the lifecycle's reason; a new order may have any
  status, since an import also brings in history.

Two processes importing the same file at once do not duplicate: the ``orders`` unique
constraint refuses the second insert and that record is retried once as an update.

No record can stop the import: whatever the file holds is refused by ``records.py`` with a
reason before it reaches a store, and what a store still refuses of one record (a data or
constraint error, or a value past one of PostgreSQL's limits) rejects that record alone. Only a
database that fails as a whole — unreachable, out of disk — ends the run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from functools import partial
from itertools import islice
from typing import Any, Literal, TypedDict

from sqlalchemy import Connection, Engine, bindparam, delete, insert, select, update
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError

from oms_export.admin.reader import BadJson, Position, RecordReader, read_records
from oms_export.admin.records import (
    ItemRecord,
    OrderRecord,
    ProductRecord,
    known_key,
    parse_order,
    parse_product,
)
from oms_export.db.engine import writer
from oms_export.db.schema import (
    companies,
    item_attributes,
    order_attributes,
    order_items,
    orders,
    product_ecommerce,
    product_prices,
    products,
)
from oms_export.errors import ImportRejected, InvalidTransition
from oms_export.orders import lifecycle, outbox, report_totals

__all__ = [
    "ImportSummary",
    "import_orders",
    "import_products",
    "item_ref",
    "order_ref",
    "read_records",
]

Outcome = Literal["created", "updated", "unchanged"]
_CHUNK = 500  # records checked and looked up together before their one-by-one writes
_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class ImportSummary(TypedDict):
    created: int
    updated: int
    unchanged: int
    rejected: int
    errors: list[dict[str, Any]]
    """``{"line" or "index": n, "reason": …}`` plus the record's key when it was readable."""


def _base36(number: int) -> str:
    digits = ""
    while True:
        number, digit = divmod(number, 36)
        digits = _DIGITS[digit] + digits
        if not number:
            return digits


def order_ref(order_id: int) -> str:
    """The short unique ``ref`` of an order: ``O`` + its id in base 36; order 1000 is ``ORS``."""
    return "O" + _base36(order_id)


def item_ref(item_id: int) -> str:
    """The short unique ``ref`` of an item: ``I`` + its id in base 36."""
    return "I" + _base36(item_id)


# --- the loop both imports share ------------------------------------------------------------


class _Run:
    """Counts and error reports of one import."""

    def __init__(self, records: Iterable[tuple[int, Any]], position: Position | None) -> None:
        if position is None:
            position = records.position if isinstance(records, RecordReader) else "index"
        self.position: Position = position
        self.summary = ImportSummary(created=0, updated=0, unchanged=0, rejected=0, errors=[])

    def count(self, outcome: Outcome) -> None:
        self.summary[outcome] += 1

    def reject(self, number: int, raw: Any, exc: ImportRejected, keys: tuple[str, ...]) -> None:
        entry: dict[str, Any] = {self.position: number}
        for key in keys:
            value = known_key(raw, key)
            if value is not None:
                entry[key] = value
        # A reason quotes the record; lone surrogates in it would make the summary unprintable.
        entry["reason"] = exc.description.encode("utf-8", "backslashreplace").decode()
        self.summary["rejected"] += 1
        self.summary["errors"].append(entry)


def _chunks(records: Iterable[tuple[int, Any]]) -> Iterator[list[tuple[int, Any]]]:
    iterator = iter(records)
    while chunk := list(islice(iterator, _CHUNK)):
        yield chunk


def _checked(raw: Any) -> Any:
    if isinstance(raw, BadJson):
        raise ImportRejected(raw.reason)
    return raw


def _company_ids(engine: Engine) -> dict[int, int]:
    with engine.connect() as conn:
        return dict(conn.execute(select(companies.c.ref_id, companies.c.id)).tuples().all())


def _company(ids: dict[int, int], ref_id: int, field: str) -> int:
    if ref_id not in ids:
        raise ImportRejected(
            f"{field}: no company {ref_id} (add it with `oms-export companies add`)"
        )
    return ids[ref_id]


def _refused(exc: DBAPIError) -> ImportRejected:
    """The rejection of the record the store refused; re-raises failures of the store itself.

    A data or constraint error is the record's, and so is PostgreSQL's class 54, "program limit
    exceeded" (an index entry too large). Any other operational error — a lost connection, a
    full disk — is the database's, and ends the import.
    """
    sqlstate = str(getattr(exc.orig, "sqlstate", "") or "")
    if isinstance(exc, OperationalError) and not sqlstate.startswith("54"):
        raise exc
    detail = str(exc.orig).strip().splitlines()[0] if exc.orig else exc.__class__.__name__
    return ImportRejected(f"the database refused the record: {detail}")


def _store(engine: Engine, write: Callable[[Connection], Outcome]) -> Outcome:
    """``write`` in a transaction of its own; once more if another import took the key first."""
    try:
        with writer(engine).begin() as conn:
            return write(conn)
    except IntegrityError:
        pass  # a concurrent import inserted the same key: the retry sees it and updates
    except (DataError, OperationalError) as exc:
        raise _refused(exc) from exc
    try:
        with writer(engine).begin() as conn:
            return write(conn)
    except (IntegrityError, DataError, OperationalError) as exc:
        raise _refused(exc) from exc


def _first_seen(seen: dict[Any, int], key: Any, number: int, position: Position, what: str) -> None:
    if key in seen:
        raise ImportRejected(
            f"{what} already came at {position} {seen[key]} of this import; the first one counts"
        )
    seen[key] = number


# --- orders -------------------------------------------------------------------------------


def import_orders(
    engine: Engine,
    records: Iterable[tuple[int, Any]],
    *,
    position: Position | None = None,
) -> ImportSummary:
    """Create or update each order of ``records`` (from ``read_records``, or ``enumerate(list)``).

    ``position`` names the numbers in error reports; a ``RecordReader`` knows its own, anything
    else defaults to ``"index"``.
    """
    run = _Run(records, position)
    company_ids = _company_ids(engine)
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    seen: dict[tuple[int, str], int] = {}
    keys = ("company_ref_id", "external_ref")
    for chunk in _chunks(records):
        ready: list[tuple[int, Any, OrderRecord, int, int | None]] = []
        for number, raw in chunk:
            try:
                record = parse_order(_checked(raw))
                company_id = _company(company_ids, record.company_ref_id, "company_ref_id")
                secondary_id = None
                if record.secondary_company_ref_id is not None:
                    secondary_id = _company(
                        company_ids, record.secondary_company_ref_id, "secondary_company_ref_id"
                    )
                key = (record.company_ref_id, record.external_ref)
                _first_seen(seen, key, number, run.position, "this company_ref_id and external_ref")
            except ImportRejected as exc:
                run.reject(number, raw, exc, keys)
                continue
            ready.append((number, raw, record, company_id, secondary_id))
        stored = _stored_order_hashes(engine, [(r[3], r[2].external_ref) for r in ready])
        known_products = _known_products(engine, ready)
        for number, raw, record, company_id, secondary_id in ready:
            try:
                _check_products(record.items, known_products)
                if stored.get((company_id, record.external_ref)) == record.source_hash:
                    run.count("unchanged")
                    continue
                write = partial(
                    write_order,
                    record=record,
                    company_id=company_id,
                    secondary_id=secondary_id,
                    now=now,
                )
                run.count(_store(engine, write))
            except ImportRejected as exc:
                run.reject(number, raw, exc, keys)
    return run.summary


def _stored_order_hashes(
    engine: Engine, keys: list[tuple[int, str]]
) -> dict[tuple[int, str], str | None]:
    if not keys:
        return {}
    wanted = set(keys)
    query = select(orders.c.company_id, orders.c.external_ref, orders.c.source_hash).where(
        orders.c.company_id.in_({company_id for company_id, _ in keys}),
        orders.c.external_ref.in_({ref for _, ref in keys}),
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return {(c, r): h for c, r, h in rows if (c, r) in wanted}


def _known_products(
    engine: Engine, ready: list[tuple[int, Any, OrderRecord, int, int | None]]
) -> set[int]:
    wanted = {
        item.columns["product_id"]
        for entry in ready
        for item in entry[2].items
        if item.columns["product_id"] is not None
    }
    if not wanted:
        return set()
    with engine.connect() as conn:
        return set(conn.execute(select(products.c.id).where(products.c.id.in_(wanted))).scalars())


def _check_products(items: tuple[ItemRecord, ...], known: set[int]) -> None:
    for n, item in enumerate(items):
        product_id = item.columns["product_id"]
        if product_id is not None and product_id not in known:
            raise ImportRejected(
                f"items[{n}].product_id: no product {product_id} "
                "(import it first with `oms-export import products`)"
            )


# Built once, values given at execution: SQLAlchemy then compiles each statement once per set of
# columns instead of per record, which more than halves the cost of an import.
_INSERT_ORDER = insert(orders).returning(orders.c.id)
_UPDATE_ORDER = update(orders).where(orders.c.id == bindparam("pk"))
_INSERT_ITEMS = insert(order_items).returning(order_items.c.id, sort_by_parameter_order=True)
_UPDATE_ITEM = update(order_items).where(order_items.c.id == bindparam("pk"))


class AlreadyStored(Exception):
    """``write_order(create_only=True)`` found the order stored: nothing was written."""

    def __init__(self, order_id: int, source_hash: str | None) -> None:
        super().__init__(order_id)
        self.order_id = order_id
        self.source_hash = source_hash


def write_order(
    conn: Connection,
    record: OrderRecord,
    company_id: int,
    secondary_id: int | None,
    now: datetime,
    *,
    create_only: bool = False,
) -> Outcome:
    """Store one checked record in the caller's transaction: the import's and the orders API's
    one way to write an order. A stored order's status moves only as §6.3 lets the service move
    it (``lifecycle.check_move``): an import cannot undo what fulfilment did.

    ``create_only`` (the orders API's create) raises ``AlreadyStored`` instead of touching an
    order that exists, decided under the same row lock as the write: a check made before would
    let a concurrent create slip in between.
    """
    found = conn.execute(
        select(orders.c.id, orders.c.source_hash, orders.c.status, orders.c.held_from)
        .where(orders.c.company_id == company_id, orders.c.external_ref == record.external_ref)
        .with_for_update()
    ).first()
    if found is not None and create_only:
        raise AlreadyStored(found.id, found.source_hash)
    if found is not None and found.source_hash == record.source_hash:
        return "unchanged"
    values = {**record.columns, "secondary_company_id": secondary_id}
    before = report_totals.Totals()
    if found is not None:
        values["held_from"] = _held_from(found, values["status"])
        before = report_totals.contribution(conn, found.id)
    values["source_hash"] = record.source_hash
    values["updated_datetime"] = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    if record.creation_datetime is not None:
        values["creation_datetime"] = record.creation_datetime
    if found is None:
        values.update(company_id=company_id, external_ref=record.external_ref)
        values.setdefault("creation_datetime", now)
        order_id: int = conn.execute(_INSERT_ORDER, values).scalar_one()
        conn.execute(_UPDATE_ORDER, {"pk": order_id, "ref": order_ref(order_id)})
        existing: list[Any] = []
    else:
        order_id = found.id
        conn.execute(_UPDATE_ORDER, {"pk": order_id, **values})
        conn.execute(delete(order_attributes).where(order_attributes.c.order_id == order_id))
        existing = list(
            conn.execute(
                select(
                    order_items.c.id,
                    order_items.c.ref,
                    order_items.c.external_ref,
                    order_items.c.position,
                    order_items.c.shipped_quantity,
                    order_items.c.cancelled_quantity,
                ).where(order_items.c.order_id == order_id)
            )
        )
    if record.attributes:
        conn.execute(
            insert(order_attributes),
            [{"order_id": order_id, "name": k, "value": v} for k, v in record.attributes.items()],
        )
    _write_items(conn, order_id, record.items, existing)
    outbox.record(conn, order_id, now=values["updated_datetime"], created=found is None)
    report_totals.add(conn, report_totals.contribution(conn, order_id) - before)
    return "created" if found is None else "updated"


def _held_from(stored: Any, status: int) -> int | None:
    """The hold memory after a re-import moves the order to ``status``, or the rejection."""
    held = stored.held_from if lifecycle.LIFECYCLE[stored.status].hold else None
    try:
        step = lifecycle.check_move(
            stored.status, held, status, by=lifecycle.Role.SERVICE, order_id=stored.id
        )
    except InvalidTransition as exc:
        raise ImportRejected(f"status: {exc.description}", parameter="status") from None
    return step.held_from


def _write_items(
    conn: Connection, order_id: int, items: tuple[ItemRecord, ...], existing: list[Any]
) -> None:
    by_ref = {row.external_ref: row.id for row in existing if row.external_ref is not None}
    by_position = {row.position: row.id for row in existing if row.external_ref is None}
    matched: list[int | None] = []
    for position, item in enumerate(items):
        ref = item.columns["external_ref"]
        matched.append(
            by_ref.pop(ref, None) if ref is not None else by_position.pop(position, None)
        )
    vanished = [*by_ref.values(), *by_position.values()]
    _refuse_to_delete_fulfilled(row for row in existing if row.id in vanished)
    rewritten = [item_id for item_id in matched if item_id is not None]
    if rewritten or vanished:
        conn.execute(
            delete(item_attributes).where(item_attributes.c.item_id.in_(rewritten + vanished))
        )
    kept = [
        {**item.columns, "position": p, "pk": pk}
        for p, (item, pk) in enumerate(zip(items, matched, strict=True))
        if pk is not None
    ]
    if kept:
        conn.execute(_UPDATE_ITEM, kept)
    fresh = [p for p, pk in enumerate(matched) if pk is None]
    if fresh:
        rows = [{**items[p].columns, "order_id": order_id, "position": p} for p in fresh]
        new_ids = conn.execute(_INSERT_ITEMS, rows).scalars().all()
        conn.execute(_UPDATE_ITEM, [{"pk": pk, "ref": item_ref(pk)} for pk in new_ids])
        for p, pk in zip(fresh, new_ids, strict=True):
            matched[p] = pk
    attributes = [
        {"item_id": pk, "name": name, "value": value}
        for item, pk in zip(items, matched, strict=True)
        for name, value in item.attributes.items()
    ]
    if attributes:
        conn.execute(insert(item_attributes), attributes)
    if vanished:
        # Last, so new items are numbered after the vanished ones: SQLite would otherwise hand
        # a just-deleted largest id to the next insert.
        conn.execute(delete(order_items).where(order_items.c.id.in_(vanished)))


def _refuse_to_delete_fulfilled(vanished: Iterable[Any]) -> None:
    for row in sorted(vanished, key=lambda r: r.position):
        if row.shipped_quantity or row.cancelled_quantity:
            named = (
                f"external_ref {row.external_ref!r}"
                if row.external_ref is not None
                else f"position {row.position}"
            )
            raise ImportRejected(
                f"items: item {row.ref} ({named}) is missing from the record, but "
                f"{row.shipped_quantity} of it shipped and {row.cancelled_quantity} were "
                "cancelled; an import cannot remove an item with shipments or cancellations"
            )


# --- products -----------------------------------------------------------------------------


def import_products(
    engine: Engine,
    records: Iterable[tuple[int, Any]],
    *,
    position: Position | None = None,
) -> ImportSummary:
    """Create or replace each product of ``records``: its owner, prices and e-commerce data."""
    run = _Run(records, position)
    company_ids = _company_ids(engine)
    seen: dict[int, int] = {}
    keys = ("product_id",)
    for chunk in _chunks(records):
        ready: list[tuple[int, Any, ProductRecord]] = []
        for number, raw in chunk:
            try:
                record = parse_product(_checked(raw))
                if record.owner_company_ref_id is not None:
                    _company(company_ids, record.owner_company_ref_id, "owner_company_ref_id")
                for n, price in enumerate(record.prices):
                    _company(company_ids, price.company_ref_id, f"prices[{n}].company_ref_id")
                _first_seen(seen, record.product_id, number, run.position, "this product_id")
            except ImportRejected as exc:
                run.reject(number, raw, exc, keys)
                continue
            ready.append((number, raw, record))
        stored = _stored_product_hashes(engine, [record.product_id for _, _, record in ready])
        for number, raw, record in ready:
            if stored.get(record.product_id) == record.source_hash:
                run.count("unchanged")
                continue
            try:
                write = partial(_write_product, record=record, company_ids=company_ids)
                run.count(_store(engine, write))
            except ImportRejected as exc:
                run.reject(number, raw, exc, keys)
    return run.summary


def _stored_product_hashes(engine: Engine, ids: list[int]) -> dict[int, str | None]:
    if not ids:
        return {}
    query = select(products.c.id, products.c.source_hash).where(products.c.id.in_(ids))
    with engine.connect() as conn:
        return dict(conn.execute(query).tuples().all())


def _write_product(conn: Connection, record: ProductRecord, company_ids: dict[int, int]) -> Outcome:
    pk = record.product_id
    found = conn.execute(
        select(products.c.source_hash).where(products.c.id == pk).with_for_update()
    ).first()
    if found is not None and found.source_hash == record.source_hash:
        return "unchanged"
    owner = record.owner_company_ref_id
    values = {
        "owner_company_id": None if owner is None else company_ids[owner],
        "source_hash": record.source_hash,
    }
    if found is None:
        conn.execute(insert(products).values(id=pk, **values))
    else:
        conn.execute(update(products).where(products.c.id == pk).values(values))
        conn.execute(delete(product_prices).where(product_prices.c.product_id == pk))
        conn.execute(delete(product_ecommerce).where(product_ecommerce.c.product_id == pk))
    if record.prices:
        conn.execute(
            insert(product_prices),
            [
                {
                    "product_id": pk,
                    "price_list": p.price_list,
                    "company_id": company_ids[p.company_ref_id],
                    "currency": p.currency,
                    "quantity": p.quantity,
                    "rrp": p.rrp,
                    "price": p.price,
                }
                for p in record.prices
            ],
        )
    if record.ecommerce is not None:
        conn.execute(insert(product_ecommerce).values(product_id=pk, **record.ecommerce))
    return "created" if found is None else "updated"
