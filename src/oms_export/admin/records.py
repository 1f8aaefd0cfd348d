"""Validation of one import record (spec §5) into the values the store keeps.

Knows nothing of the database: it turns the JSON a user wrote into clean column values, or
raises ``ImportRejected`` with a reason that names the field, e.g.
``items[0].quantity: must be an integer >= 1, got 0``. Item and list positions are 0-based, as
in the JSON (``jq '.items[0]'``).

Choices the contract leaves to us:

- An absent or null optional field is stored null; the record is the whole truth about its order,
  so re-importing without a field clears it. ``status`` defaults to 0 (Unknown) for orders and
  items: the store does not invent a state the source did not give. ``is_free_of_charge``
  defaults to false. ``creation_datetime`` absent means "when first imported" (set by the import).
- Datetimes: the grammar of ``oms_export.datetimes``, shared with the export's filters and
  ``pull`` (``Y-m-d H:i:s``, ``Y-m-d``, ISO 8601 with ``T`` and an optional ``Z``/offset; without
  offset it is UTC). Stored naive UTC, to the second (fractions dropped, as everywhere).
- Money and rates: JSON numbers or numeric strings, kept exact as decimals; more decimal places
  than the column holds (4 for money, 6 for rates), negatives and rates above 1 (rates are
  fractions: 0.2 for 20 %) are rejected rather than rounded.
- Attribute values: strings, or numbers stored as their JSON text (``2.50`` -> ``"2.50"``), or
  null; names are non-empty and unique within their order or item.
- Text is what both stores can keep alike: no NUL character (PostgreSQL cannot store it, SQLite
  could) and no lone UTF-16 surrogate (``"\\ud800"`` parses as JSON but is no character, and
  neither store can encode it). Keys — an order's or item's ``external_ref``, attribute names —
  are at most 255 characters: the export filter's limit, and far inside PostgreSQL's index
  entry limit, which a longer key would hit on one store only. An order's ``external_ref`` is
  also printable, as the filter that finds it requires.
- Numbers are checked against the column's range before any conversion, so a 5,000-digit
  quantity or ``1E+1000000`` is a rejection naming the field, never an overflow.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final, NoReturn

import orjson

from oms_export import datetimes
from oms_export.errors import ImportRejected
from oms_export.order_text import ORDER_TEXT_FIELDS
from oms_export.statuses import ITEM_STATUSES, ORDER_STATUSES

PRICE_LISTS: Final = ("product", "base")
_MAX_INT: Final = 2**31 - 1  # the store's INTEGER columns
MAX_KEY_LENGTH: Final = 255  # the export filter's limit on a text value (export/params.py)
_NOT_TEXT: Final = re.compile("[\x00\ud800-\udfff]")
_INTEGER: Final = re.compile(r"-?[0-9]+")
_DECIMAL_DIGITS: Final = 28  # decimal's default precision; a longer writing is kept no further
_HASH_VERSION: Final = 1  # bump when normalization changes, so re-imports rewrite old rows


class DuplicateKeys:
    """Stands in for a JSON object that names a key twice; the reader puts it in its place."""

    def __init__(self, key: str) -> None:
        self.key = key


@dataclass(frozen=True)
class ItemRecord:
    columns: dict[str, Any]
    """``order_items`` values: external_ref, status, sku, …, product_id (no ids, ref, position)."""
    attributes: dict[str, str | None]


@dataclass(frozen=True)
class OrderRecord:
    company_ref_id: int
    external_ref: str
    secondary_company_ref_id: int | None
    creation_datetime: datetime | None
    columns: dict[str, Any]
    """The other ``orders`` values, every one present (null when the record left it out)."""
    items: tuple[ItemRecord, ...]
    attributes: dict[str, str | None]
    source_hash: str


@dataclass(frozen=True)
class PriceRecord:
    price_list: str
    company_ref_id: int
    currency: str
    quantity: int
    rrp: Decimal | None
    price: Decimal


@dataclass(frozen=True)
class ProductRecord:
    product_id: int
    owner_company_ref_id: int | None
    prices: tuple[PriceRecord, ...]
    ecommerce: dict[str, Any] | None
    source_hash: str


# --- single values -------------------------------------------------------------------------

Parse = Callable[[Any, str], Any]


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal) and value.is_finite():
        return orjson.Fragment(str(value).encode())
    if isinstance(value, DuplicateKeys):
        return {value.key: "(twice)"}
    raise TypeError(type(value).__name__)


def _show(value: Any) -> str:
    """A value as a reason quotes it: short, and printable whatever the record held.

    orjson refuses lone surrogates, integers past 64 bits and nesting past 254 levels; such a
    value is described instead of shown, never passed to ``repr`` (which can recurse or refuse
    a huge integer).
    """
    if isinstance(value, Decimal | float):
        text = str(value)
    elif isinstance(value, DuplicateKeys):
        text = "an object"
    else:
        try:
            text = orjson.dumps(value, default=_jsonable).decode()
        except TypeError:
            text = _describe(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, str):
        return ascii(value[:40])
    if isinstance(value, int):
        return f"an integer of {value.bit_length()} bits"
    return type(value).__name__


def _name(key: str) -> str:
    """A key of the record as a reason names it: surrogates escaped, cut to 40 characters."""
    shown = key.encode("utf-8", "backslashreplace").decode()
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _reject(where: str, message: str) -> NoReturn:
    # ``parameter`` is the JSON path, for the orders API to name (``record`` is the whole body).
    raise ImportRejected(f"{where}: {message}", parameter=None if where == "record" else where)


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        _reject(where, f"must be a string, got {_show(value)}")
    found = _NOT_TEXT.search(value)
    if found is not None:
        if found.group() == "\x00":
            _reject(where, "must not contain the NUL character (\\u0000)")
        _reject(
            where,
            f"contains \\u{ord(found.group()):04x}, half of a UTF-16 surrogate pair, which is "
            "not a character",
        )
    return value


def _key_text(value: Any, where: str) -> str:
    text = _text(value, where)
    if not text.strip():
        _reject(where, "must not be empty")
    return text


def _key(*, printable: bool = False) -> Parse:
    """Text a record is found by: non-empty, and short enough to index on both stores."""

    def parse(value: Any, where: str) -> str:
        text = _key_text(value, where)
        if len(text) > MAX_KEY_LENGTH:
            _reject(where, f"must be at most {MAX_KEY_LENGTH} characters, got {len(text)}")
        if printable and not text.isprintable():
            _reject(
                where,
                "must not contain control or other non-printing characters "
                f"(the export filter refuses them), got {_show(text)}",
            )
        return text

    return parse


def _integer(minimum: int) -> Parse:
    def parse(value: Any, where: str) -> int:
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and _INTEGER.fullmatch(value):
            # Digits past the column's range are not converted: int() of thousands of digits
            # is slow and, past 4,300, refused by Python itself.
            sign, digits = (-1 if value[0] == "-" else 1), value.lstrip("-").lstrip("0")
            if len(digits) <= len(str(_MAX_INT)):
                number = sign * int(digits or "0")
            else:
                number = _MAX_INT + 1 if sign > 0 else minimum - 1
        elif _long_integer(value):
            number = _MAX_INT + 1 if value > 0 else minimum - 1
        if number is None or number < minimum:
            _reject(where, f"must be an integer >= {minimum}, got {_show(value)}")
        if number > _MAX_INT:
            _reject(where, f"must be at most {_MAX_INT}, got {_show(value)}")
        return number

    return parse


def _long_integer(value: Any) -> bool:
    """An integer literal too long for any column, which the reader keeps as a ``Decimal``."""
    return (
        isinstance(value, Decimal)
        and value.is_finite()
        and value.as_tuple().exponent == 0
        and abs(value) > _MAX_INT
    )


_ref_id = _integer(1)


def _decimal(integer_digits: int, scale: int, *, fraction: bool = False) -> Parse:
    """A NUMERIC(integer_digits + scale, scale) value, exactly as written; a rate when fraction."""
    limit = Decimal(10) ** integer_digits
    quantum = Decimal(1).scaleb(-scale)

    def parse(value: Any, where: str) -> Decimal:
        number: Decimal | None = None
        if isinstance(value, Decimal | int | float) and not isinstance(value, bool):
            # A float from Python callers: its shortest repr is the number they wrote.
            number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        elif isinstance(value, str) and re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", value):
            number = Decimal(value)
        if number is None or not number.is_finite():
            _reject(where, f"must be a number, got {_show(value)}")
        if number < 0:
            _reject(where, f"must not be negative, got {_show(value)}")
        # Read off the digits, not normalize(): that runs in a context, which overflows on
        # 1E+1000000 and rounds 1E-1000000 to zero.
        _, digits, exponent = number.as_tuple()
        places = 0
        if not number.is_zero():
            trailing_zeros = len(digits) - len(bytes(digits).rstrip(b"\0"))
            places = max(0, -(int(exponent) + trailing_zeros))
        if places > scale:
            _reject(where, f"has more than {scale} decimal places: {_show(value)}")
        if fraction and number > 1:
            _reject(where, f"must be at most 1 (a fraction: 0.2 for 20%), got {_show(value)}")
        if number >= limit:
            _reject(where, f"must be below {limit:f}, got {_show(value)}")
        if len(digits) > _DECIMAL_DIGITS or abs(int(exponent)) > _DECIMAL_DIGITS:
            # The value fits, its writing does not (1.000…0 with thousands of zeros, 0E+999999):
            # rewritten exactly at the column's scale, so both stores take it alike.
            return number.quantize(quantum)
        return number

    return parse


_money = _decimal(10, 4)
_rate = _decimal(2, 6, fraction=True)
_weight = _decimal(8, 4)


def _datetime(value: Any, where: str) -> datetime:
    """A string in the grammar the export's filters and ``pull`` take too (``datetimes``), so
    any value a filter can find is one an import can store."""
    if isinstance(value, str):
        try:
            return datetimes.parse_utc(value)
        except datetimes.OutOfRange:
            _reject(where, f"is before year 1 or after 9999 in UTC, got {_show(value)}")
        except datetimes.NotADatetime:
            pass  # refused below, as a value of any other type is
    _reject(where, f"must be a datetime ({datetimes.FORMS}), got {_show(value)}")


def _date(value: Any, where: str) -> date:
    if isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    _reject(where, f"must be a date 'Y-m-d', got {_show(value)}")


def _boolean(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        _reject(where, f"must be true or false, got {_show(value)}")
    return value


def _status(codes: Mapping[int, str], kind: str) -> Parse:
    accepted = ", ".join(str(code) for code in codes)

    def parse(value: Any, where: str) -> int:
        if not (isinstance(value, int) and not isinstance(value, bool) and value in codes):
            _reject(where, f"{_show(value)} is not an {kind} status code (accepted: {accepted})")
        return value

    return parse


def _choice(choices: tuple[str, ...]) -> Parse:
    def parse(value: Any, where: str) -> str:
        if value not in choices:
            _reject(where, f"must be one of {', '.join(choices)}, got {_show(value)}")
        return str(value)

    return parse


def _currency(value: Any, where: str) -> str:
    if not (isinstance(value, str) and re.fullmatch(r"[A-Z]{3}", value)):
        _reject(where, f"must be a 3-letter upper-case currency code like GBP, got {_show(value)}")
    return value


# --- objects ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    parse: Parse
    required: bool = False
    default: Any = None


def _object(value: Any, where: str) -> dict[str, Any]:
    if isinstance(value, DuplicateKeys):
        raise ImportRejected(
            f"{where or 'record'}: key '{_name(value.key)}' appears twice",
            parameter=_path(where, _name(value.key)),
        )
    if not isinstance(value, dict):
        _reject(where or "record", f"must be a JSON object, got {_show(value)}")
    return value


def _path(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _fields(
    raw: Any, where: str, spec: Mapping[str, Field], derived: Callable[[str], bool]
) -> dict[str, Any]:
    """Each field of ``spec`` parsed (absent/null -> default); any other key is a rejection."""
    obj = _object(raw, where)
    for key in obj:
        if key not in spec:
            why = "unknown key; the store sets it" if derived(key) else "unknown key"
            _reject(_path(where, _name(key)), why)
    values: dict[str, Any] = {}
    for name, field in spec.items():
        value = obj.get(name)
        if value is None:
            if field.required:
                _reject(_path(where, name), "is required")
            values[name] = field.default
        else:
            values[name] = field.parse(value, _path(where, name))
    return values


def _attributes(value: Any, where: str) -> dict[str, str | None]:
    if not isinstance(value, list):
        _reject(where, 'must be a list of {"name": ..., "value": ...}')
    attributes: dict[str, str | None] = {}
    for n, entry in enumerate(value):
        here = f"{where}[{n}]"
        pair = _fields(entry, here, _ATTRIBUTE_FIELDS, lambda _key: False)
        name = pair["name"]
        if name in attributes:
            _reject(f"{here}.name", f"'{name}' appears twice")
        attributes[name] = pair["value"]
    return attributes


def _attribute_value(value: Any, where: str) -> str:
    if isinstance(value, str):
        return _text(value, where)
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    _reject(where, f"must be a string, a number or null, got {_show(value)}")


_ATTRIBUTE_FIELDS: Final = {
    "name": Field(_key(), required=True),
    "value": Field(_attribute_value),
}

ITEM_FIELDS: Final = {
    "external_ref": Field(_key()),
    "status": Field(_status(ITEM_STATUSES, "item"), default=0),
    "sku": Field(_key_text, required=True),
    "mapped_sku": Field(_text),
    "description": Field(_text),
    "size": Field(_text),
    "colour": Field(_text),
    "quantity": Field(_integer(1), required=True),
    "unit_cost_price": Field(_money),
    "unit_sale_price": Field(_money),
    "unit_sale_price_inc_tax": Field(_money),
    "shipping_price": Field(_money),
    "shipping_price_inc_tax": Field(_money),
    "textual_product_id": Field(_text),
    "sale_vat_rate": Field(_rate),
    "product_id": Field(_ref_id),
    "attributes": Field(_attributes, default={}),
}
_ITEM_DERIVED: Final = ("id", "ref", "order_id", "status_name", "product_")


def _item_is_derived(key: str) -> bool:
    return key.startswith(_ITEM_DERIVED) or key.startswith("base_product_price")


def _items(value: Any, where: str) -> tuple[ItemRecord, ...]:
    if not isinstance(value, list):
        _reject(where, "must be a list of item objects")
    items: list[ItemRecord] = []
    seen: set[str] = set()
    for n, raw in enumerate(value):
        columns = _fields(raw, f"{where}[{n}]", ITEM_FIELDS, _item_is_derived)
        attributes = columns.pop("attributes")
        key = columns["external_ref"]
        if key is not None:
            if key in seen:
                _reject(f"{where}[{n}].external_ref", f"'{key}' appears twice in this order")
            seen.add(key)
        items.append(ItemRecord(columns=columns, attributes=attributes))
    return tuple(items)


ORDER_FIELDS: Final = {
    "external_ref": Field(_key(printable=True), required=True),
    "company_ref_id": Field(_ref_id, required=True),
    "secondary_company_ref_id": Field(_ref_id),
    **{name: Field(_text) for name in ORDER_TEXT_FIELDS},
    "sale_datetime": Field(_datetime),
    "creation_datetime": Field(_datetime),
    "completion_datetime": Field(_datetime),
    "required_dispatch_date": Field(_date),
    "shipping_price": Field(_money),
    "shipping_price_inc_tax": Field(_money),
    "shipping_tax_rate": Field(_rate),
    "status": Field(_status(ORDER_STATUSES, "order"), default=0),
    "is_free_of_charge": Field(_boolean, default=False),
    "items": Field(_items, default=()),
    "attributes": Field(_attributes, default={}),
}


def _order_is_derived(key: str) -> bool:
    return key in ("id", "ref", "status_name") or key.startswith(("company__", "secondary_company"))


def parse_order(raw: Any) -> OrderRecord:
    """One order of an ``import orders`` file, checked whole; raises ``ImportRejected``."""
    values = _fields(raw, "", ORDER_FIELDS, _order_is_derived)
    source_hash = _digest("order", values)
    return OrderRecord(
        company_ref_id=values.pop("company_ref_id"),
        external_ref=values.pop("external_ref"),
        secondary_company_ref_id=values.pop("secondary_company_ref_id"),
        creation_datetime=values.pop("creation_datetime"),
        items=values.pop("items"),
        attributes=values.pop("attributes"),
        columns=values,
        source_hash=source_hash,
    )


PRICE_FIELDS: Final = {
    "price_list": Field(_choice(PRICE_LISTS), required=True),
    "company_ref_id": Field(_ref_id, required=True),
    "currency": Field(_currency, required=True),
    "quantity": Field(_integer(1), required=True),
    "rrp": Field(_money),
    "price": Field(_money, required=True),
}


def _prices(value: Any, where: str) -> tuple[PriceRecord, ...]:
    if not isinstance(value, list):
        _reject(where, "must be a list of price objects")
    prices: list[PriceRecord] = []
    for n, raw in enumerate(value):
        price = PriceRecord(**_fields(raw, f"{where}[{n}]", PRICE_FIELDS, lambda _key: False))
        if any(
            (p.price_list, p.company_ref_id, p.quantity)
            == (price.price_list, price.company_ref_id, price.quantity)
            for p in prices
        ):
            _reject(
                f"{where}[{n}]", "another price has the same price_list, company_ref_id, quantity"
            )
        prices.append(price)
    return tuple(prices)


ECOMMERCE_FIELDS: Final = (
    "sales_description",
    "sales_description_long",
    "weight",
    "hs_code",
    "tax_code",
    "website_category_details",
    "notes",
    "barcode",
    "dimensions",
)
_ECOMMERCE_SPEC: Final = {
    name: Field(_weight if name == "weight" else _text) for name in ECOMMERCE_FIELDS
}


def _ecommerce(value: Any, where: str) -> dict[str, Any]:
    return _fields(value, where, _ECOMMERCE_SPEC, lambda _key: False)


PRODUCT_FIELDS: Final = {
    "product_id": Field(_ref_id, required=True),
    "owner_company_ref_id": Field(_ref_id),
    "prices": Field(_prices, default=()),
    "ecommerce": Field(_ecommerce),
}


def parse_product(raw: Any) -> ProductRecord:
    """One product of an ``import products`` file, checked whole; raises ``ImportRejected``."""
    values = _fields(raw, "", PRODUCT_FIELDS, lambda key: key == "id")
    return ProductRecord(**values, source_hash=_digest("product", values))


# --- identity --------------------------------------------------------------------------------


def _canonical(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    raise TypeError(type(value).__name__)


def _digest(kind: str, values: Mapping[str, Any]) -> str:
    """Hash of the normalized record: equal hashes mean re-importing it would change nothing."""
    document = {"v": _HASH_VERSION, "kind": kind, "values": values}
    encoded = orjson.dumps(document, default=_canonical, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(encoded).hexdigest()


def known_key(raw: Any, name: str) -> Any:
    """A key of a raw record when it could be a stored key, to name the record in an error report.

    Anything else — a 10,000-character ref, a lone surrogate, an integer past 64 bits — is left
    out: the report's line or index still finds the record, and the summary stays printable.
    """
    if isinstance(raw, dict):
        value = raw.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) <= _MAX_INT:
            return value
        if isinstance(value, str) and len(value) <= MAX_KEY_LENGTH and not _NOT_TEXT.search(value):
            return value
    return None


# --- the same grammar for the orders API's other bodies (orders/requests.py) --------------

BodyField = Field
text = _text
key_text = _key_text
integer = _integer
datetime_value = _datetime


def fields(raw: Any, where: str, spec: Mapping[str, Field]) -> dict[str, Any]:
    """``raw``'s keys parsed by ``spec``: unknown keys, a key twice and bad values are
    ``ImportRejected`` with the JSON path as ``parameter``."""
    return _fields(raw, where, spec, lambda _key: False)


def digest(kind: str, values: Mapping[str, Any]) -> str:
    return _digest(kind, values)
