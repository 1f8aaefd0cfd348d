"""The export's query parameters, parsed into an ``ExportQuery`` or refused with a clear error.

Knows nothing of HTTP: it takes the raw query string, or its (name, value) pairs. Every refusal
is an ``InvalidRequest`` naming the parameter and what it accepts, so a caller can fix the request
from the error alone. Nothing unknown is ignored: a typo must not silently widen or narrow a report.

Every value that parses is also one the store can compare against its column: an id past the
column's integer type, or a datetime an offset carries past year 1 or 9999, is refused here with
the accepted range, rather than failing inside the database (a 500 on PostgreSQL, and a different
answer on SQLite, whose integers are wider).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final
from urllib.parse import unquote_to_bytes

from sqlalchemy import BigInteger, Column, Integer, SmallInteger

from oms_export import datetimes
from oms_export.bounds import MAX_CURSOR_LENGTH, MAX_LIST_VALUES, MAX_PAGE_SIZE
from oms_export.db import schema
from oms_export.errors import InvalidRequest
from oms_export.export.formats import FORMATS
from oms_export.fields import BY_NAME, OPTIONS, TABLES, filterable
from oms_export.statuses import ORDER_STATUSES

FILTER_OPS: Final[dict[str, tuple[str, ...]]] = dict(filterable())
"""Each field a filter may name, with its operators: the registry's (``oms_export.fields``)."""
DATETIME_FIELDS: Final = tuple(name for name in FILTER_OPS if BY_NAME[name].type == "datetime")


def _largest(column: Column[int]) -> int:
    """The largest value ``column``'s type holds on PostgreSQL, where a larger one is an error.

    Read from the schema, so widening a column in a migration widens its filter with it.
    """
    if isinstance(column.type, BigInteger):
        return 2**63 - 1
    if isinstance(column.type, SmallInteger):
        return 2**15 - 1
    if isinstance(column.type, Integer):
        return 2**31 - 1
    raise TypeError(f"{column} is not an integer column")


def _stored_column(name: str) -> Column[int]:
    """The schema column a filterable field's registry ``source`` names."""
    source = BY_NAME[name].source
    if source is None:
        raise TypeError(f"{name} is computed; a filter needs a stored column")
    alias, _, column = source.partition(".")
    return schema.metadata.tables[TABLES[alias]].c[column]


INTEGER_MAX: Final[dict[str, int]] = {
    name: _largest(_stored_column(name)) for name in FILTER_OPS if BY_NAME[name].type == "integer"
}
"""Each integer filter's largest value: that of the column it is compared with."""
INTEGER_FIELDS: Final = frozenset(INTEGER_MAX)

_FILTER_KEY = re.compile(r"filter\[(?P<field>[^\]:]*)(?::(?P<op>[^\]]*))?\]")
_OPTION_KEY = re.compile(r"options\[(?P<name>[^\]]*)\]")
_TRUE: Final = frozenset({"1", "true"})
_FALSE: Final = frozenset({"0", "false"})

FilterValue = int | str | datetime


@dataclass(frozen=True)
class Filter:
    """One ``filter[field:op]=value``; ``values`` holds one value except for ``in``."""

    field: str
    op: str
    values: tuple[FilterValue, ...]
    parameter: str


SHAPES: Final = ("rows", "orders")


@dataclass(frozen=True)
class ExportQuery:
    filters: tuple[Filter, ...] = ()
    options: frozenset[str] = field(default_factory=frozenset)
    shape: str = "rows"
    format: str | None = None
    """From ``format=``; None lets the Accept header choose."""
    page_size: int | None = None
    after: str | None = None
    """The raw ``page[after]`` cursor; checked against the client and query by paging.py."""

    def filters_on(self, name: str) -> tuple[Filter, ...]:
        return tuple(f for f in self.filters if f.field == name)


def parse_export_query_string(raw: bytes) -> ExportQuery:
    """Parse the raw query string, as HTTP delivers it; raise ``InvalidRequest`` on a bad part.

    Percent-decoding is strict: bytes that are not UTF-8 are refused, naming the parameter (or
    ``query string`` when its name is what does not decode). A lenient decoder would turn them
    into U+FFFD and search for that, an empty answer the caller could not tell from "no such
    order". ``+`` is a space, as in any form-encoded query string.

    >>> parse_export_query_string(b"filter[ref]=O%2B1&format=csv").filters[0].values
    ('O+1',)
    """
    return parse_export_query(_strict_pairs(raw))


def _strict_pairs(raw: bytes) -> Iterator[tuple[str, str]]:
    """The (name, value) pairs, decoded one at a time so the first bad part is the one named."""
    for part in raw.split(b"&"):
        if not part:
            continue
        raw_name, _, raw_value = part.partition(b"=")
        name = _percent_decoded(raw_name)
        if name is None:
            raise InvalidRequest(
                f"The query string has a parameter name that is not UTF-8 once percent-decoded "
                f"({_show_raw(raw_name)}); names and values are percent-encoded UTF-8.",
                parameter="query string",
            )
        value = _percent_decoded(raw_value)
        if value is None:
            raise InvalidRequest(
                f"`{name}` got {_show_raw(raw_value)}, which is not UTF-8 once "
                "percent-decoded; it accepts percent-encoded UTF-8 text.",
                parameter=name,
            )
        yield name, value


def _percent_decoded(raw: bytes) -> str | None:
    try:
        return unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return None


def _show_raw(raw: bytes) -> str:
    """The part as it was sent, undecoded, so the caller sees which bytes are at fault.

    Bytes outside printable ASCII are shown percent-encoded, as a URL would carry them.
    """
    return _show("".join(chr(b) if 0x20 <= b < 0x7F else f"%{b:02X}" for b in raw))


def parse_export_query(pairs: Iterable[tuple[str, str]]) -> ExportQuery:
    """Parse the query string's pairs; raise ``InvalidRequest`` on the first bad one."""
    filters: list[Filter] = []
    options: set[str] = set()
    single: dict[str, str | int] = {}
    seen: dict[str, str] = {}
    # Repeats and unknown names are refused, so the number of parameters is bounded too.
    for key, value in pairs:
        if (match := _FILTER_KEY.fullmatch(key)) is not None:
            op = "eq" if match["op"] is None else match["op"]  # `filter[status:]` is not eq
            flt = _parse_filter(key, match["field"], op, value)
            _refuse_repeat(seen, f"filter[{flt.field}:{flt.op}]", key)
            filters.append(flt)
        elif (match := _OPTION_KEY.fullmatch(key)) is not None:
            _refuse_repeat(seen, key, key)
            if _parse_option(key, match["name"], value):
                options.add(match["name"])
        elif key in _SINGLE_PARAMETERS:
            _refuse_repeat(seen, key, key)
            single[key] = _SINGLE_PARAMETERS[key](key, value)
        else:
            raise InvalidRequest(
                f"Unknown parameter `{key}`; accepted: filter[FIELD:OP]=VALUE, "
                f"options[NAME]=1, {', '.join(_SINGLE_PARAMETERS)} (see the API documentation).",
                parameter=key,
            )
    fmt = single.get("format")
    page_size = single.get("page[size]")
    after = single.get("page[after]")
    return ExportQuery(
        filters=tuple(filters),
        options=frozenset(options),
        shape=str(single.get("shape", "rows")),
        format=None if fmt is None else str(fmt),
        page_size=None if page_size is None else int(page_size),
        after=None if after is None else str(after),
    )


def _choice(choices: tuple[str, ...]) -> Callable[[str, str], str]:
    def parse(key: str, value: str) -> str:
        if value not in choices:
            raise InvalidRequest(
                f"`{key}` got {_show(value)}; accepted: {', '.join(choices)}.", parameter=key
            )
        return value

    return parse


def _page_size(key: str, value: str) -> int:
    if not re.fullmatch(r"[0-9]{1,6}", value) or not 1 <= int(value) <= MAX_PAGE_SIZE:
        raise InvalidRequest(
            f"`{key}` got {_show(value)}; it accepts a whole number of orders from 1 to "
            f"{MAX_PAGE_SIZE}.",
            parameter=key,
        )
    return int(value)


_CURSOR: Final = re.compile(f"[A-Za-z0-9_-]{{1,{MAX_CURSOR_LENGTH}}}")


def _cursor(key: str, value: str) -> str:
    if not _CURSOR.fullmatch(value):
        raise InvalidRequest(
            f'`{key}` is not a cursor this service gave out; use the `Link: rel="next"` '
            "URL of the previous page as it is.",
            parameter=key,
        )
    return value


_SINGLE_PARAMETERS: Final[dict[str, Callable[[str, str], str | int]]] = {
    "format": _choice(tuple(FORMATS)),
    "shape": _choice(SHAPES),
    "page[size]": _page_size,
    "page[after]": _cursor,
}


def _refuse_repeat(seen: dict[str, str], canonical: str, key: str) -> None:
    if canonical in seen:
        raise InvalidRequest(
            f"`{key}` is given more than once (as `{seen[canonical]}` too); give it once, "
            "with a comma list where the operator is `in`.",
            parameter=key,
        )
    seen[canonical] = key


def _parse_option(key: str, name: str, value: str) -> bool:
    if name not in OPTIONS:
        raise InvalidRequest(
            f"`{key}`: unknown option `{name}`; accepted: {', '.join(OPTIONS)}.", parameter=key
        )
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise InvalidRequest(
        f"`{key}` must be 1 or true (on), 0 or false (off); got {_show(value)}.", parameter=key
    )


def _parse_filter(key: str, name: str, op: str, value: str) -> Filter:
    if name not in FILTER_OPS:
        raise InvalidRequest(
            f"`{key}`: unknown filter field `{name}`; accepted: {', '.join(FILTER_OPS)}.",
            parameter=key,
        )
    ops = FILTER_OPS[name]
    if op == "":
        bare = f" (or `filter[{name}]` alone for eq)" if "eq" in ops else ""
        raise InvalidRequest(
            f"`{key}` has an empty operator after the colon; accepted: {', '.join(ops)}{bare}.",
            parameter=key,
        )
    if op not in ops:
        raise InvalidRequest(
            f"`{key}`: unknown operator `{op}` for `{name}`; accepted: {', '.join(ops)}.",
            parameter=key,
        )
    raw_values = value.split(",") if op == "in" else [value]
    if len(raw_values) > MAX_LIST_VALUES:
        raise InvalidRequest(
            f"`{key}` lists {len(raw_values)} values; at most {MAX_LIST_VALUES} are accepted.",
            parameter=key,
        )
    values = tuple(_parse_value(key, name, raw.strip()) for raw in raw_values)
    return Filter(field=name, op=op, values=values, parameter=key)


def _parse_value(key: str, name: str, raw: str) -> FilterValue:
    if raw == "":
        raise InvalidRequest(f"`{key}` has an empty value; {_accepts(name)}.", parameter=key)
    if name in DATETIME_FIELDS:
        try:
            return datetimes.parse_utc(raw)
        except datetimes.OutOfRange:
            raise InvalidRequest(
                f"`{key}` got {_show(raw)}, which is out of range in UTC; "
                f"it accepts datetimes {datetimes.RANGE}.",
                parameter=key,
            ) from None
        except datetimes.NotADatetime:
            raise InvalidRequest(
                f"`{key}` got {_show(raw)}; {_accepts(name)}.", parameter=key
            ) from None
    if name in INTEGER_FIELDS:
        if not re.fullmatch(r"[0-9]{1,19}", raw) or int(raw) > INTEGER_MAX[name]:
            raise InvalidRequest(f"`{key}` got {_show(raw)}; {_accepts(name)}.", parameter=key)
        number = int(raw)
        if name == "status" and number not in ORDER_STATUSES:
            raise InvalidRequest(f"`{key}` got {_show(raw)}; {_accepts(name)}.", parameter=key)
        return number
    if len(raw) > 255:
        raise InvalidRequest(f"`{key}` is longer than 255 characters.", parameter=key)
    if not raw.isprintable():
        raise InvalidRequest(
            f"`{key}` contains control characters; {_accepts(name)}.", parameter=key
        )
    return raw


def _accepts(name: str) -> str:
    if name == "status":
        codes = ", ".join(str(code) for code in ORDER_STATUSES)
        return f"it accepts order status codes ({codes}), comma-separated with `in`"
    if name in INTEGER_FIELDS:
        return f"it accepts whole numbers from 0 to {INTEGER_MAX[name]}, comma-separated with `in`"
    if name in DATETIME_FIELDS:
        return f"it accepts a datetime as {datetimes.FORMS}, {datetimes.RANGE}"
    return "it accepts text, comma-separated with `in`"


def _show(value: str) -> str:
    shown = value if len(value) <= 40 else value[:40] + "…"
    return repr(shown)
