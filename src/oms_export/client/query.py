"""An export request as query parameters, and the paging state that lets a pull resume.

Nothing here does I/O, so the sync and async clients share every rule of the protocol.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import httpx

from oms_export.bounds import MAX_PAGE_SIZE as MAX_PAGE_SIZE  # the server's bound, re-exported
from oms_export.client.errors import IncompleteBody

EXPORT_PATH = "/export-api/order-item-details"

Shape = Literal["rows", "orders"]
"""The export's ``shape``: ``rows`` (one flat row per item, the default) or ``orders`` (nested)."""
LegacyShape = Literal["items"]
"""What the client called ``rows`` before it used the API's word; still accepted, with a
``DeprecationWarning``, as scripts may pass it."""
SHAPES: tuple[Shape, ...] = ("rows", "orders")
FilterValue = str | int | date | datetime | Sequence[str | int]
Row = dict[str, Any]


@dataclass(frozen=True)
class Query:
    """What to export. ``filters`` keys are ``FIELD`` or ``FIELD:OP`` as in ``filter[FIELD:OP]``.

    Values may be strings, integers, dates, datetimes (aware ones are turned to UTC) or
    sequences, which are joined with commas for ``in``.
    """

    filters: Mapping[str, FilterValue] = field(default_factory=dict)
    options: Iterable[str] = ()
    shape: Shape = "rows"
    page_size: int = MAX_PAGE_SIZE

    def __post_init__(self) -> None:
        # __post_init__ <- __init__ <- the caller: the warning points at the caller's line.
        object.__setattr__(self, "shape", api_shape(self.shape, stacklevel=4))

    def params(self, cursor: str | None = None) -> httpx.QueryParams:
        out: list[tuple[str, str | int | float | bool | None]] = [
            ("format", "ndjson"),
            ("page[size]", str(self.page_size)),
        ]
        out += [(f"filter[{name}]", _value(value)) for name, value in self.filters.items()]
        out += [(f"options[{name}]", "1") for name in self.options]
        if self.shape != "rows":  # the service's default: the URL stays as short as curl's
            out.append(("shape", self.shape))
        if cursor is not None:
            out.append(("page[after]", cursor))
        return httpx.QueryParams(out)


def _value(value: FilterValue) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str | int):
        return str(value)
    return ",".join(str(item) for item in value)


def api_shape(shape: str, stacklevel: int = 2) -> Shape:
    """``shape`` in the API's word; ``items``, the client's old word for ``rows``, still works.

    An unknown shape fails here, before any request, as a bad ``page_size`` does.
    """
    if shape == "items":
        warnings.warn(
            "shape='items' is deprecated: the export API calls it shape='rows'",
            DeprecationWarning,
            stacklevel=stacklevel,
        )
        return "rows"
    for known in SHAPES:
        if shape == known:
            return known
    raise ValueError(f"shape must be one of {', '.join(SHAPES)}, not {shape!r}")


def next_link(response: httpx.Response) -> str | None:
    """The URL of the response's ``Link: <…>; rel="next"``, by httpx's own header parsing."""
    return response.links.get("next", {}).get("url")


def next_cursor(url: str | None) -> str | None:
    """The ``page[after]`` of the next page's URL; None on the last page (no next link).

    Only the cursor is taken, not the URL. The service makes the URL absolute, from its
    configured public base URL or else the address it was reached at; behind a proxy or a
    port forward that host may be one the client cannot reach, and the client already knows
    every other parameter, so it keeps asking the base URL it was given.
    """
    if not url:
        return None
    values = parse_qs(urlsplit(url).query).get("page[after]")
    return values[0] if values else None


def row_key(row: Row) -> tuple[int, int]:
    """Where a row stands in the export's order: order id, then item id (0 for an order row)."""
    return row["id"], row.get("items__id") or 0


@dataclass
class Pager:
    """Which page comes next, and which rows of it were already handed out.

    A page that fails midway is asked for again with the same cursor; rows up to the last one
    handed out are skipped, so no row is lost or repeated, and rows stream as they arrive
    instead of waiting for a page to complete.
    """

    query: Query
    cursor: str | None = None
    done: bool = False
    last_key: tuple[int, int] | None = None
    rows: int = 0
    pages: int = 0
    bytes: int = 0
    retries: int = 0

    def params(self) -> httpx.QueryParams:
        return self.query.params(self.cursor)

    def fresh(self, row: Row) -> bool:
        key = row_key(row)
        if self.last_key is not None and key <= self.last_key:
            return False
        self.last_key = key
        self.rows += 1
        return True

    def page_done(self, next_url: str | None) -> None:
        """A page read to its end; ``next_url`` is its ``rel="next"`` link (None: the last)."""
        self.pages += 1
        self.cursor = next_cursor(next_url)
        self.done = self.cursor is None


class Lines:
    """Split a byte stream into NDJSON lines; a line left unterminated means the body was cut."""

    def __init__(self) -> None:
        self._rest = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        *lines, self._rest = (self._rest + chunk).split(b"\n")
        return lines

    def end(self) -> None:
        if self._rest.strip():
            raise IncompleteBody(f"the response ended inside a row ({len(self._rest)} bytes)")
