"""Property: whatever an import file holds, ``oms-export import orders`` ends in a truthful summary.

Hypothesis writes files that mix valid orders with hostile records — datetimes an offset carries
past year 1 or 9999, numbers of thousands of digits, lone surrogates, NULs, nesting 100,000
deep, wrong types, unknown keys, duplicate keys, over-long or unprintable keys, truncated JSON —
as NDJSON (with blank lines, so line numbers are not indices) or as a JSON array (cut short at
its last element when a truncated record is drawn). Each file goes through the real command
(click's ``CliRunner``, as ``tests/cli`` does) on SQLite and on PostgreSQL, and the database is
read back. The promises of spec §4 must hold on every file:

- one summary on stdout that parses as JSON, and no traceback anywhere;
- exit status 1 exactly when something was rejected;
- every valid order stored, field by field as written; nothing of a hostile record stored;
- every hostile record in ``errors`` at its line (NDJSON) or index (JSON array).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import hypothesis.strategies as st
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, note, settings
from hypothesis.strategies import DrawFn
from sqlalchemy import Engine, delete, select

from oms_export.admin.companies import add_company
from oms_export.admin.records import ORDER_FIELDS
from oms_export.cli.main import cli
from oms_export.db.schema import item_attributes, order_attributes, order_items, orders
from oms_export.settings import Settings
from oms_export.statuses import ITEM_STATUSES, ORDER_STATUSES

# --- valid orders --------------------------------------------------------------------------

_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30)
_KEY = st.text(st.characters(codec="utf-8", categories=("L", "N", "P", "S")), min_size=1, max_size=20)  # fmt: skip
_MONEY = st.decimals(min_value=0, max_value=Decimal("9999999999.9999"), places=4)
_UTC = st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31))


@dataclass(frozen=True)
class Stored:
    """What the database must hold for one valid order, in the form it reads back."""

    customer_name: str | None
    sale_datetime: datetime | None
    shipping_price: float | None
    status: int
    items: list[tuple[str, int, int, str | None]]
    attributes: dict[str, str | None]


def _written_datetime(draw: DrawFn, utc: datetime) -> str:
    """``utc`` in one of the accepted forms: plain, ``Z``, or local time with an offset."""
    form = draw(st.sampled_from(["plain", "zulu", "offset"]))
    if form == "plain":
        return utc.isoformat(sep=" ")
    if form == "zulu":
        return utc.isoformat() + "Z"
    minutes = draw(st.integers(-14 * 60, 14 * 60))
    sign, size = ("+" if minutes >= 0 else "-"), abs(minutes)
    local = utc + timedelta(minutes=minutes)
    return f"{local.isoformat()}{sign}{size // 60:02d}:{size % 60:02d}"


@st.composite
def valid_orders(draw: DrawFn, number: int) -> tuple[str, str, Stored]:
    """(external_ref, JSON text, what must be stored) of an order every rule accepts."""
    ref = f"G{number}-" + draw(_KEY)
    record: dict[str, Any] = {"external_ref": ref, "company_ref_id": 1001}
    status = draw(st.sampled_from(sorted(ORDER_STATUSES)))
    record["status"] = status
    name = draw(st.none() | _TEXT)
    record["customer_name"] = name
    sale = None
    if draw(st.booleans()):
        sale = draw(_UTC).replace(microsecond=0)
        record["sale_datetime"] = _written_datetime(draw, sale)
    price = draw(st.none() | _MONEY)
    if price is not None:
        record["shipping_price"] = float(price)  # 14 digits at most: the float writes them back
    items = []
    for _ in range(draw(st.integers(0, 3))):
        item = (draw(_KEY), draw(st.integers(1, 2**31 - 1)), draw(st.sampled_from(sorted(ITEM_STATUSES))), draw(st.none() | _TEXT))  # fmt: skip
        items.append(item)
    record["items"] = [
        {"sku": sku, "quantity": quantity, "status": item_status, "description": description}
        for sku, quantity, item_status, description in items
    ]
    attributes = draw(st.dictionaries(_KEY, st.none() | _TEXT, max_size=3))
    record["attributes"] = [{"name": k, "value": v} for k, v in attributes.items()]
    expected = Stored(
        customer_name=name,
        sale_datetime=sale,
        shipping_price=None if price is None else float(price),
        status=status,
        items=items,
        attributes=attributes,
    )
    return ref, json.dumps(record), expected


# --- hostile records -----------------------------------------------------------------------

_WRONG_TYPE = (
    st.integers()
    | st.booleans()
    | st.floats()
    | st.lists(st.integers(), max_size=2)
    | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)
)
_LONE_SURROGATE = st.builds(
    lambda before, surrogate, after: before + surrogate + after,
    st.text("abc", max_size=3),
    st.characters(categories=["Cs"]),
    st.text("xyz", max_size=3),  # never a backslash, so the surrogate never gets a partner
)
_NUL_TEXT = st.builds(lambda before, after: before + "\x00" + after, _TEXT, _TEXT)
_TEXT_PLACES = ["customer_name", "item_description", "attribute_name", "attribute_value", "external_ref"]  # fmt: skip


def _with_text(number: int, place: str, text: str) -> str:
    record: dict[str, Any] = {"external_ref": f"H{number}", "company_ref_id": 1001}
    if place == "customer_name":
        record["customer_name"] = text
    elif place == "item_description":
        record["items"] = [{"sku": "A", "quantity": 1, "description": text}]
    elif place == "attribute_name":
        record["attributes"] = [{"name": text, "value": "v"}]
    elif place == "attribute_value":
        record["attributes"] = [{"name": "n", "value": text}]
    else:
        record["external_ref"] = text
    return json.dumps(record)  # ensure_ascii: a lone surrogate is written as its \u escape


def _with_raw(number: int, fields: str) -> str:
    """An order whose last fields are raw JSON text, as no encoder would write them."""
    return f'{{"external_ref": "H{number}", "company_ref_id": 1001, {fields}}}'


@st.composite
def hostile_records(draw: DrawFn, number: int, *, truncated: bool) -> str:
    """One line of JSON text that the import must reject: each kind is a rule of spec §5.

    A truncated record only where it leaves the others readable: on its own line of NDJSON.
    In a JSON array it breaks the brackets, so everything after it is one rejection; the array
    layout instead cuts the whole file short (``import_files``).
    """
    kinds = sorted(kind for kind in _HOSTILE_KINDS if truncated or kind != "truncated")
    return _HOSTILE_KINDS[draw(st.sampled_from(kinds))](draw, number)


def _datetime_past_the_range(draw: DrawFn, number: int) -> str:
    hours = draw(st.integers(1, 23))
    early, late = f"0001-01-01T00:00:00+{hours:02d}:00", f"9999-12-31T23:59:59-{hours:02d}:30"
    written = draw(st.sampled_from([early, late]))
    field = draw(st.sampled_from(["sale_datetime", "creation_datetime", "completion_datetime"]))
    return _with_raw(number, f'"{field}": "{written}"')


def _huge_number(draw: DrawFn, number: int) -> str:
    digits = str(draw(st.integers(1, 9))) + "7" * draw(st.integers(10, 5000))
    quoted = draw(st.booleans())
    sign = draw(st.sampled_from(["", "-"]))
    value = f'"{sign}{digits}"' if quoted else sign + digits
    if draw(st.booleans()):
        return _with_raw(number, f'"items": [{{"sku": "A", "quantity": {value}}}]')
    exponent = draw(st.integers(10, 10**30))
    return _with_raw(number, f'"shipping_price": {draw(st.sampled_from([value, f"1e{exponent}"]))}')


def _lone_surrogate(draw: DrawFn, number: int) -> str:
    return _with_text(number, draw(st.sampled_from(_TEXT_PLACES)), draw(_LONE_SURROGATE))


def _nul(draw: DrawFn, number: int) -> str:
    return _with_text(number, draw(st.sampled_from(_TEXT_PLACES)), draw(_NUL_TEXT))


def _deep(draw: DrawFn, number: int) -> str:
    depth = draw(st.sampled_from([256, 1_500, 100_000]))
    value = (
        "[" * depth + "]" * depth if draw(st.booleans()) else '{"a":' * depth + "1" + "}" * depth
    )
    return _with_raw(number, f'"{draw(st.sampled_from(["customer_name", "items"]))}": {value}')


def _wrong_type(draw: DrawFn, number: int) -> str:
    field = draw(st.sampled_from(["customer_name", "quantity", "status", "is_free_of_charge", "company_ref_id"]))  # fmt: skip
    if field == "company_ref_id":
        ref_id = draw(st.sampled_from([9999, 0, -1, "acme"]))  # 9999: no such company
        return json.dumps({"external_ref": f"H{number}", "company_ref_id": ref_id})
    value: Any = draw(_WRONG_TYPE)
    if field == "status":
        value = draw(st.integers().filter(lambda code: code not in ORDER_STATUSES) | st.text())
    elif field == "is_free_of_charge" and isinstance(value, bool):
        value = int(value)
    elif field == "quantity" and isinstance(value, int) and not isinstance(value, bool):
        value = [value]  # an integer is a quantity's type; only its range could be wrong
    if field == "quantity":
        return _with_raw(number, f'"items": [{{"sku": "A", "quantity": {json.dumps(value)}}}]')
    return _with_raw(number, f'"{field}": {json.dumps(value)}')


def _unknown_key(draw: DrawFn, number: int) -> str:
    key = draw(
        st.text(st.characters(exclude_categories=()), min_size=1, max_size=10).filter(
            lambda k: k not in ORDER_FIELDS
        )
    )
    return _with_raw(number, f"{json.dumps(key)}: 1")


def _duplicate_key(draw: DrawFn, number: int) -> str:
    return _with_raw(number, '"status": 0, "status": 8')


def _bad_external_ref(draw: DrawFn, number: int) -> str:
    too_long = f"H{number}-" + "x" * draw(st.integers(256, 4000))
    unprintable = f"H{number}" + draw(st.characters(categories=["Cc", "Cf", "Zl", "Zp"]))
    ref = draw(st.sampled_from([too_long, unprintable, "   "]))
    return json.dumps({"external_ref": ref, "company_ref_id": 1001})


def _truncated(draw: DrawFn, number: int) -> str:
    whole = _with_raw(number, '"customer_name": "cut", "items": [{"sku": "A", "quantity": 1}]')
    return whole[: draw(st.integers(1, len(whole) - 1))]


_HOSTILE_KINDS: dict[str, Callable[[DrawFn, int], str]] = {
    "datetime_past_the_range": _datetime_past_the_range,
    "huge_number": _huge_number,
    "lone_surrogate": _lone_surrogate,
    "nul": _nul,
    "deep": _deep,
    "wrong_type": _wrong_type,
    "unknown_key": _unknown_key,
    "duplicate_key": _duplicate_key,
    "bad_external_ref": _bad_external_ref,
    "truncated": _truncated,
}


# --- files ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportFile:
    content: bytes
    valid: dict[str, Stored]
    """Every valid order by external_ref."""
    rejected: list[int]
    """Line (NDJSON) or index (JSON array) of every hostile record."""
    position: str


@st.composite
def import_files(draw: DrawFn) -> ImportFile:
    layout = draw(st.sampled_from(["ndjson", "array"]))
    entries: list[tuple[str, str, Stored | None]] = []  # (ref, text, stored when valid)
    for number in range(draw(st.integers(0, 8))):
        if draw(st.booleans()):
            entries.append(draw(valid_orders(number)))
        else:
            hostile_record = hostile_records(number, truncated=layout == "ndjson")
            entries.append((f"H{number}", draw(hostile_record), None))
    valid = {ref: stored for ref, _, stored in entries if stored is not None}
    hostile = [n for n, (_, _, stored) in enumerate(entries) if stored is None]
    texts = [text for _, text, _ in entries]
    if layout == "array":
        if draw(st.booleans()):  # the file is cut short inside its last element
            elements = ",\n".join([*texts, _truncated(draw, len(texts))])
            return ImportFile(f"[{elements}".encode(), valid, [*hostile, len(texts)], "index")
        elements = ",\n".join(texts)
        return ImportFile(f"[{elements}]".encode(), valid, hostile, "index")
    lines: list[str] = []
    line_of: list[int] = []
    for text in texts:
        lines.extend([""] * draw(st.integers(0, 2)))
        lines.append(text)
        line_of.append(len(lines))
    return ImportFile(("\n".join(lines) + "\n").encode(), valid, [line_of[n] for n in hostile], "line")  # fmt: skip


# --- the property --------------------------------------------------------------------------


def _clear_orders(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in (item_attributes, order_attributes, order_items, orders):
            conn.execute(delete(table))


def _stored_orders(engine: Engine) -> Iterator[tuple[str, Stored]]:
    with engine.connect() as conn:
        for row in conn.execute(select(orders)).all():
            items = conn.execute(
                select(order_items.c.sku, order_items.c.quantity, order_items.c.status, order_items.c.description)
                .where(order_items.c.order_id == row.id)
                .order_by(order_items.c.position)
            ).tuples().all()  # fmt: skip
            attributes = conn.execute(
                select(order_attributes.c.name, order_attributes.c.value).where(
                    order_attributes.c.order_id == row.id
                )
            ).tuples()
            yield (
                row.external_ref,
                Stored(
                    customer_name=row.customer_name,
                    sale_datetime=row.sale_datetime,
                    shipping_price=row.shipping_price,
                    status=row.status,
                    items=list(items),
                    attributes=dict(attributes.all()),
                ),
            )


@pytest.fixture
def acme(engine: Engine) -> Engine:
    add_company(engine, ref_id=1001, name="Acme Prints", subscription="order_manager")
    return engine


@settings(
    max_examples=75,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(file=import_files())
def test_any_import_file_ends_in_a_summary_that_tells_the_truth(
    acme: Engine, settings: Settings, file: ImportFile
) -> None:
    _clear_orders(acme)
    note(f"file: {file.content[:2000]!r}")
    result = CliRunner().invoke(
        cli,
        ["--database-url", settings.database_url, "import", "orders", "-"],
        input=file.content,
        env={"OMS_EXPORT_SECRET_KEY": settings.secret_key},
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert "Traceback" not in result.output
    report = json.loads(result.stdout)
    note(f"summary: {str(report)[:2000]}")
    assert result.exit_code == (1 if file.rejected else 0), result.output
    assert (report["created"], report["updated"], report["unchanged"]) == (len(file.valid), 0, 0)
    assert report["rejected"] == len(file.rejected) == len(report["errors"])
    assert sorted(error[file.position] for error in report["errors"]) == file.rejected
    assert all(isinstance(error["reason"], str) and error["reason"] for error in report["errors"])
    assert dict(_stored_orders(acme)) == file.valid
