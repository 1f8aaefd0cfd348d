"""The orders API's request bodies (API.md §6.2), checked whole into plain values.

A create is an import record (§5), so it is read by the import's own parser and can never accept
what an import refuses, nor the other way round; the other bodies use the same value grammar.
Every refusal is ``InvalidRequest`` with ``parameter`` the JSON path at fault
(``items[2].quantity``).

Decisions where §6.2 is silent:

- A create that sends ``status`` 1 and one that leaves it out are the same content (both start
  at 1), and so are items that send ``status`` 1 and items that do not: the idempotency check
  compares what would be stored, not how it was written.
- ``status_callback_url`` is a URL of at most 2,048 characters; its scheme and the addresses
  its host resolves to are checked by ``events.urls.check_url`` (``https://`` to public
  addresses unless ``OMS_EXPORT_CALLBACK_ALLOW_PRIVATE``), at create and at every delivery.
- Texts of a shipment (carrier, tracking) and a status change (``shipping_*``) are at most 255
  characters, a ``tracking_url`` is ``http(s)://`` and at most 2,048, a cancellation's
  ``reason`` at most 1,000. ``dispatch_datetime`` may not be more than five minutes ahead of the
  service's clock: a shipment leaves now or left earlier, and a date in the future would set a
  ``completion_datetime`` that has not happened.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import urlsplit

from oms_export.admin import records
from oms_export.admin.records import BodyField, OrderRecord
from oms_export.errors import ImportRejected, InvalidRequest
from oms_export.orders import lifecycle

STORE_OWNED: Final = (
    "id",
    "ref",
    "creation_datetime",
    "completion_datetime",
    "updated_datetime",
)
"""Keys of an order the store sets; a create that sends one is refused (§6.2)."""

MAX_URL: Final = 2048
MAX_TEXT: Final = 255
MAX_REASON: Final = 1000
FUTURE_SKEW: Final = timedelta(minutes=5)

Lines = tuple[tuple[int, int], ...] | None
"""``(item id, units)`` lines of a shipment or cancellation; ``None``: every remaining unit."""


@dataclass(frozen=True)
class CreateOrder:
    record: OrderRecord
    status: int
    held_from: int | None
    status_callback_url: str | None
    source_hash: str
    """Equal for two creates with the same content: the idempotency check of §6.2."""


@dataclass(frozen=True)
class StatusChange:
    status: int
    shipping: dict[str, str]
    """The ``shipping_method``, ``shipping_carrier``, ``shipping_tracking`` sent (not null)."""


@dataclass(frozen=True)
class Shipment:
    lines: Lines
    carrier: str | None
    tracking: str | None
    tracking_url: str | None
    dispatch_datetime: datetime | None
    """``None``: now, as the service's clock says when it writes the shipment."""


@dataclass(frozen=True)
class Cancellation:
    lines: Lines
    reason: str | None


def _checked(parse: Callable[[], Any]) -> Any:
    """The import parser's rejection as the API's 400, with the JSON path it names."""
    try:
        return parse()
    except ImportRejected as exc:
        raise InvalidRequest(exc.description, parameter=exc.parameter) from None


def _bounded_text(limit: int) -> Callable[[Any, str], str]:
    def parse(value: Any, where: str) -> str:
        text: str = records.text(value, where)
        if len(text) > limit:
            raise ImportRejected(
                f"{where}: at most {limit} characters, got {len(text)}", parameter=where
            )
        return text

    return parse


def _url(schemes: tuple[str, ...]) -> Callable[[Any, str], str]:
    shown = " or ".join(f"{scheme}://" for scheme in schemes)

    def parse(value: Any, where: str) -> str:
        text = _bounded_text(MAX_URL)(value, where)
        try:
            parts = urlsplit(text)
            host = parts.hostname
        except ValueError:
            host = None
            parts = None
        if (
            parts is None
            or parts.scheme not in schemes
            or not host
            or any(c.isspace() for c in text)
        ):
            raise ImportRejected(f"{where}: must be an {shown} URL with a host", parameter=where)
        return text

    return parse


def _object(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        _checked(lambda: records.fields(raw, "", {}))  # a key twice names itself
        raise InvalidRequest("The body must be a JSON object.")
    return raw


def parse_create(raw: Any) -> CreateOrder:
    """A create body: an import record of §5 plus ``status_callback_url``."""
    body = dict(_object(raw))
    for key in STORE_OWNED:
        if key in body:
            raise InvalidRequest(f"{key} is set by the store; leave it out.", parameter=key)
    status = body.get("status", lifecycle.RECEIVED)
    if not isinstance(status, int) or isinstance(status, bool):
        raise InvalidRequest(
            f"status must be {lifecycle.describe(lifecycle.RECEIVED)} or "
            f"{lifecycle.describe(lifecycle.ON_HOLD)}, or left out.",
            parameter="status",
        )
    status, held_from = lifecycle.creation_status(status)
    body["status"] = status
    url = body.pop("status_callback_url", None)
    if url is not None:
        url = _checked(lambda: _url(("https", "http"))(url, "status_callback_url"))
    items = body.get("items")
    if isinstance(items, list):
        body["items"] = [_new_item(item, n) for n, item in enumerate(items)]
    record: OrderRecord = _checked(lambda: records.parse_order(body))
    source_hash = records.digest("create", {"order": record.source_hash, "callback": url})
    return CreateOrder(record, status, held_from, url, source_hash)


def _new_item(item: Any, n: int) -> Any:
    """Items start at 1 Ready (§6.2): a sent status must say so; the stored one always does."""
    if not isinstance(item, dict):
        return item  # the import parser names what is wrong with it
    status = item.get("status", lifecycle.ITEM_READY)
    if status != lifecycle.ITEM_READY or isinstance(status, bool):
        raise InvalidRequest(
            f"items[{n}].status: items start at 1 Ready; leave it out or send 1.",
            parameter=f"items[{n}].status",
        )
    return {**item, "status": lifecycle.ITEM_READY}


_LINE: Final[Mapping[str, BodyField]] = {
    "id": BodyField(records.integer(1), required=True),
    "quantity": BodyField(records.integer(1), required=True),
}


def _lines(value: Any, where: str) -> tuple[tuple[int, int], ...]:
    if not isinstance(value, list):
        raise ImportRejected(
            f'{where}: must be a list of {{"id": ITEM_ID, "quantity": N}}', parameter=where
        )
    parsed = (records.fields(line, f"{where}[{n}]", _LINE) for n, line in enumerate(value))
    return tuple((line["id"], line["quantity"]) for line in parsed)


_STATUS: Final[Mapping[str, BodyField]] = {
    "status": BodyField(records.integer(0), required=True),
    "shipping_method": BodyField(_bounded_text(MAX_TEXT)),
    "shipping_carrier": BodyField(_bounded_text(MAX_TEXT)),
    "shipping_tracking": BodyField(_bounded_text(MAX_TEXT)),
}

_SHIPMENT: Final[Mapping[str, BodyField]] = {
    "items": BodyField(_lines),
    "carrier": BodyField(_bounded_text(MAX_TEXT)),
    "tracking": BodyField(_bounded_text(MAX_TEXT)),
    "tracking_url": BodyField(_url(("https", "http"))),
    "dispatch_datetime": BodyField(records.datetime_value),
}

_CANCELLATION: Final[Mapping[str, BodyField]] = {
    "items": BodyField(_lines),
    "reason": BodyField(_bounded_text(MAX_REASON)),
}


def parse_status(raw: Any) -> StatusChange:
    values = _checked(lambda: records.fields(_object(raw), "", _STATUS))
    status = values.pop("status")
    if status not in lifecycle.LIFECYCLE:
        raise InvalidRequest(f"{status} is not an order status code.", parameter="status")
    return StatusChange(status, {k: v for k, v in values.items() if v is not None})


def parse_shipment(raw: Any, *, now: datetime) -> Shipment:
    values = _checked(lambda: records.fields(_object(raw), "", _SHIPMENT))
    when = values["dispatch_datetime"]
    if when is not None and when > now + FUTURE_SKEW:
        raise InvalidRequest(
            "dispatch_datetime is in the future; a shipment is recorded when it leaves.",
            parameter="dispatch_datetime",
        )
    return Shipment(
        values["items"], values["carrier"], values["tracking"], values["tracking_url"], when
    )


def parse_cancellation(raw: Any) -> Cancellation:
    values = _checked(lambda: records.fields(_object(raw), "", _CANCELLATION))
    return Cancellation(values["items"], values["reason"])
