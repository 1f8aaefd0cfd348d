"""The export's query parameters, parsed into an ``ExportQuery`` or refused with a clear error.

Knows nothing of HTTP: it takes the (name, value) pairs of a query string. Every refusal is an
``InvalidRequest`` naming the parameter and what it accepts, so a caller can fix the request from
the error alone. Nothing unknown is ignored: a typo must not silently widen or narrow a report.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Final

from oms_export.errors import InvalidRequest
from oms_export.export.fields import OPTIONS
from oms_export.statuses import ORDER_STATUSES

MAX_LIST_VALUES: Final = 1000
_INT64_MAX: Final = 2**63 - 1

DATETIME_FIELDS: Final = ("completion_datetime", "creation_datetime", "sale_datetime")
FILTER_OPS: Final[dict[str, tuple[str, ...]]] = {
    "status": ("eq", "in"),
    **dict.fromkeys(DATETIME_FIELDS, ("gt", "gte", "lt", "lte")),
    "id": ("eq", "in", "gt", "lt"),
    "ref": ("eq", "in"),
    "external_ref": ("eq", "in"),
    "company_ref_id": ("eq", "in"),
}
INTEGER_FIELDS: Final = frozenset({"status", "id", "company_ref_id"})

_FILTER_KEY = re.compile(r"filter\[(?P<field>[^\]:]*)(?::(?P<op>[^\]]*))?\]")
_OPTION_KEY = re.compile(r"options\[(?P<name>[^\]]*)\]")
_TRUE: Final = frozenset({"1", "true"})
_FALSE: Final = frozenset({"0", "false"})
DATETIME_HELP: Final = (
    "a datetime as `Y-m-d H:i:s` (e.g. 2020-03-06 12:00:00), `Y-m-d`, "
    "or ISO 8601 with `T` and an optional `Z` or offset"
)

FilterValue = int | str | datetime


@dataclass(frozen=True)
class Filter:
    """One ``filter[field:op]=value``; ``values`` holds one value except for ``in``."""

    field: str
    op: str
    values: tuple[FilterValue, ...]
    parameter: str


FORMATS: Final = ("json", "ndjson", "csv")
SHAPES: Final = ("rows", "orders")
MAX_PAGE_SIZE: Final = 10_000


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


def parse_export_query(pairs: Iterable[tuple[str, str]]) -> ExportQuery:
    """Parse the query string's pairs; raise ``InvalidRequest`` on the first bad one."""
    filters: list[Filter] = []
    options: set[str] = set()
    single: dict[str, str | int] = {}
    seen: dict[str, str] = {}
    # Repeats and unknown names are refused, so the number of parameters is bounded too.
    for key, value in pairs:
        if (match := _FILTER_KEY.fullmatch(key)) is not None:
            flt = _parse_filter(key, match["field"], match["op"] or "eq", value)
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


def _cursor(key: str, value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,128}", value):
        raise InvalidRequest(
            f'`{key}` is not a cursor this service gave out; use the `Link: rel="next"` '
            "URL of the previous page as it is.",
            parameter=key,
        )
    return value


_SINGLE_PARAMETERS: Final[dict[str, Callable[[str, str], str | int]]] = {
    "format": _choice(FORMATS),
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
        parsed = parse_datetime(raw)
        if parsed is None:
            raise InvalidRequest(
                f"`{key}` got {_show(raw)}; it accepts {DATETIME_HELP}.", parameter=key
            )
        return parsed
    if name in INTEGER_FIELDS:
        if not re.fullmatch(r"[0-9]{1,19}", raw) or int(raw) > _INT64_MAX:
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
        return "it accepts whole numbers, comma-separated with `in`"
    if name in DATETIME_FIELDS:
        return f"it accepts {DATETIME_HELP}"
    return "it accepts text, comma-separated with `in`"


def _show(value: str) -> str:
    shown = value if len(value) <= 40 else value[:40] + "…"
    return repr(shown)


_DATETIME_FORMATS: Final = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")


def parse_datetime(raw: str) -> datetime | None:
    """A naive UTC datetime from any accepted form, or None when it does not parse."""
    for fmt in _DATETIME_FORMATS:
        try:
            return datetime.strptime(raw, fmt)
        except ValueError:
            pass
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        try:
            return datetime.combine(date.fromisoformat(raw), datetime.min.time())
        except ValueError:
            return None
    if "T" not in raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed
