"""The order lifecycle of API.md §6.3, stated once as a table, with pure functions over it.

Pure on purpose: no database, no HTTP, no clock. The API's routes, the import and the demo all
apply these rules, so a rule changes in one row of ``LIFECYCLE``, and each rule is tested without
a store. The caller loads an ``Order`` (its status, the status a hold was entered from, its
items' quantities and its latest dispatch time), asks for a change, and writes back the
``Change`` it gets; a refused change raises ``InvalidTransition`` (409) or ``InvalidItem`` (400)
with the words the answer should carry.

Example::

    order = Order(id=42, status=4, items=(Item(id=7, quantity=3),))
    change = ship(order, [(7, 1)], dispatch_datetime=now)  # 1 of 3 shipped; still 4
    change = move(change.after, 8, by=Role.FULFILLER, now=now)  # ships the other 2
    change.after.status, change.after.completion_datetime  # (8, now)
    item_statuses(change.after)  # {7: 3}

Decisions where §6.3 is silent or leaves room, each as a user of the service would expect:

- **A hold may be entered from 1 Received** (and from 0 or 2, which only imports leave behind):
  "any status before 8" includes the first. 8, 64 and 128 cannot be held: they are final.
- **A hold remembers the status it was entered from** (``held_from``), and leaving it to that very
  status resumes the order. Going from one hold to the other (256 to 32 and back) keeps the status
  first held: a QC query raised on an order already on hold must not let it skip ahead, nor back.
  A hold whose entry status is unknown (an imported 256 or 32) counts as held from 1 Received.
- **A held order's items keep their production status**: an order held from 4 or later has its
  items at 2 In Production, since the hold pauses production rather than undoing it.
- **Shipping and cancelling are allowed on hold.** The fulfiller may leave a hold straight to 8
  (§6.2's ``{"status": 8}``), so refusing it a partial shipment would only add a call; a shipment
  or cancellation that completes a held order ends the hold at 8 or 128.
- **``{"status": 8}`` ships every remaining unit now, from any status it may be reached from**,
  including a hold. It is refused when no unit would ever have shipped (an order without units),
  since 8 needs one shipped unit.
- **``{"status": 128}`` is refused once a unit has shipped**: §6.2 says it cancels the units not
  yet shipped, but the order would then be dispatched, not cancelled, and a 200 naming another
  status than the one asked for would surprise. Cancelling the rest through the cancellations
  endpoint does exactly that, and dispatches the order.
- **Who sets what**: the fulfiller moves statuses; the service may set whatever a fulfiller may,
  and alone sets 64, only from 8. A retailer does not move statuses (the endpoint needs
  ``orders.fulfil``); it cancels units through cancellations, while the order is 1, 256 or 32,
  whatever status a hold was entered from.
- **The same status again is no change** for everybody, checked first, so a repeated update
  (a fulfiller's 8 after 8, a service retry of 64) is answered, not refused. 64 asked for on a
  dispatched order by a fulfiller is refused: 64 says the retailer was told, which only the
  service knows.
- **0 Unknown and 2 Unused rank before 1**: they are never set through the API, but an imported
  order left at one of them may move to any status the API sets, or it would be stuck forever.
- **Lines of a shipment or cancellation**: each names an item of the order once, with a
  quantity of at least 1; an item named twice is refused rather than summed, since it is more
  likely a mistake than a wish. No lines at all (``None``) means every remaining unit; an empty
  list is refused, since it is the caller meaning "some" and naming none.
- **Items on 128 are all 7 Cancelled**, every unit cancelled; on 8 and 64 each item is 3 if any
  of it shipped, else 7. An item of quantity 0 counts as wholly cancelled (7).
- **``completion_datetime``** is set when the order reaches 8, to the latest dispatch time of its
  shipments (which may be earlier than now), and never changes afterwards, as 8 is final. A
  cancelled order keeps it null: it has no dispatch time to give.
- **A shipment or cancellation the status forbids** (shipping a dispatched order, a retailer
  cancelling one in production) is 409 ``invalid_transition`` like a refused move: the spec names
  no code, and it is the same conflict with the order's state, which a retry later will not fix.
  A line at fault is 400 ``invalid_request`` (``InvalidItem``) with ``parameter`` the JSON path
  of §6.2 (``items[2].quantity``), the lines being taken in the body's order.
- **An order without units** is never dispatched or cancelled by its quantities (there are none
  to complete); ``{"status": 128}`` cancels it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from types import MappingProxyType
from typing import Final

from oms_export.errors import InvalidItem, InvalidRequest, InvalidTransition
from oms_export.statuses import ORDER_STATUSES


class Role(enum.StrEnum):
    """Who asks for a change: the order's retailer (``orders.write``), its fulfiller
    (``orders.fulfil``), or the service itself (the dispatch callback's 64)."""

    RETAILER = "retailer"
    FULFILLER = "fulfiller"
    SERVICE = "service"


class Effect(enum.Enum):
    """What a status move does to the items besides the status (§6.2)."""

    NONE = "none"
    SHIP_REMAINING = "ship_remaining"  # {"status": 8}
    CANCEL_REMAINING = "cancel_remaining"  # {"status": 128}


@dataclass(frozen=True)
class Rule:
    """One order status's row of §6.3."""

    rank: int | None
    """Place in the forward order; ``None`` for the holds and 128, which are outside it."""
    hold: bool
    """256 and 32: entered from before 8, left to at or after the status held from."""
    exits: frozenset[int] | None
    """For a final status, the only statuses it may still move to; ``None`` when not final."""
    set_by: frozenset[Role]
    """Who may name this status as the target of a move."""
    entered_from: frozenset[int] | None
    """Reached only from these statuses (64 from 8); ``None`` when the ranks decide."""
    cancel_by: frozenset[Role]
    """Who may cancel units while the order has this status."""


_R, _F, _S = Role.RETAILER, Role.FULFILLER, Role.SERVICE
_NOBODY: Final[frozenset[Role]] = frozenset()
_MOVERS: Final = frozenset({_F, _S})
_ALL: Final = frozenset({_R, _F, _S})
_SERVICE: Final = frozenset({_S})

# fmt: off
LIFECYCLE: Final[Mapping[int, Rule]] = MappingProxyType({
    #         rank  hold   exits            set by    entered from    cancel by
    0:   Rule(0,    False, None,            _NOBODY,  None,           _MOVERS),  # imports only
    2:   Rule(0,    False, None,            _NOBODY,  None,           _MOVERS),  # imports only
    1:   Rule(1,    False, None,            _MOVERS,  None,           _ALL),
    512: Rule(2,    False, None,            _MOVERS,  None,           _MOVERS),
    513: Rule(3,    False, None,            _MOVERS,  None,           _MOVERS),
    4:   Rule(4,    False, None,            _MOVERS,  None,           _MOVERS),
    600: Rule(5,    False, None,            _MOVERS,  None,           _MOVERS),
    520: Rule(6,    False, None,            _MOVERS,  None,           _MOVERS),
    515: Rule(7,    False, None,            _MOVERS,  None,           _MOVERS),
    516: Rule(8,    False, None,            _MOVERS,  None,           _MOVERS),
    8:   Rule(9,    False, frozenset({64}), _MOVERS,  None,           _NOBODY),
    64:  Rule(10,   False, frozenset(),     _SERVICE, frozenset({8}), _NOBODY),
    128: Rule(None, False, frozenset(),     _MOVERS,  None,           _NOBODY),
    256: Rule(None, True,  None,            _MOVERS,  None,           _ALL),
    32:  Rule(None, True,  None,            _MOVERS,  None,           _ALL),
})
# fmt: on
"""§6.3 as a table, one row per order status code of ``statuses.ORDER_STATUSES`` (names there).

Read a row as: where the status stands in the forward order, whether it is a hold, whether it is
final (and what it may still become), who may ask for it, from where it is reached when not by
rank, and who may cancel units while the order is in it."""

DISPATCHED: Final = 8
CANCELLED: Final = 128
RECEIVED: Final = 1
ON_HOLD: Final = 256
IN_PRODUCTION: Final = 4

ITEM_READY: Final = 1
ITEM_IN_PRODUCTION: Final = 2
ITEM_DISPATCHED: Final = 3
ITEM_CANCELLED: Final = 7


@dataclass(frozen=True)
class Item:
    """An order item's quantities; its status follows from them (``item_status``)."""

    id: int
    quantity: int
    shipped: int = 0
    cancelled: int = 0

    @property
    def remaining(self) -> int:
        """Units neither shipped nor cancelled: the most a shipment or cancellation may take."""
        return self.quantity - self.shipped - self.cancelled


@dataclass(frozen=True)
class Order:
    """What the lifecycle needs of an order; the service loads it and writes back the changes.

    ``held_from`` is the status a hold (256, 32) was entered from, ``None`` otherwise;
    ``last_dispatch_datetime`` is the latest dispatch time of its shipments, which becomes
    ``completion_datetime`` at dispatch.
    """

    id: int
    status: int
    items: tuple[Item, ...] = ()
    held_from: int | None = None
    last_dispatch_datetime: datetime | None = None
    completion_datetime: datetime | None = None


@dataclass(frozen=True)
class Step:
    """Where a status move leads: the new status and hold memory, and what it does to items."""

    status: int
    held_from: int | None
    effect: Effect = Effect.NONE
    changed: bool = True


@dataclass(frozen=True)
class Change:
    """The outcome of one call: the order before and after, and the units this call shipped and
    cancelled (item id, units), so the caller writes shipment and cancellation rows from it."""

    before: Order
    after: Order
    shipped: tuple[tuple[int, int], ...] = ()
    cancelled: tuple[tuple[int, int], ...] = ()
    dispatch_datetime: datetime | None = None
    """When ``shipped`` left, for the shipment row; ``None`` when nothing shipped."""

    @property
    def changed(self) -> bool:
        """False for "no change" (the same status again), which answers 200 and writes nothing."""
        return self.before != self.after


def describe(status: int) -> str:
    """A status as the answers word it: ``Dispatched (8)``."""
    return f"{ORDER_STATUSES.get(status, 'Unknown')} ({status})"


def _rule(status: int) -> Rule:
    try:
        return LIFECYCLE[status]
    except KeyError:
        raise ValueError(f"{status} is not an order status code") from None


def _held_from(status: int, held_from: int | None) -> int | None:
    """The hold memory made consistent: ``None`` off a hold, Received for a hold of unknown entry.

    A ``held_from`` off a hold, or naming a status no hold can be entered from, is a bug of the
    caller (or a corrupt row), not a user's mistake, hence ``ValueError``.
    """
    if not _rule(status).hold:
        if held_from is not None:
            raise ValueError(f"status {status} is not a hold; held_from must be None")
        return None
    if held_from is None:
        return RECEIVED
    if not _may_hold(held_from):
        raise ValueError(f"a hold cannot be entered from {held_from}")
    return held_from


def _rank(status: int) -> int:
    """The rank of a status the table ranks (1 to 64); a hold or 128 here is a bug."""
    rank = _rule(status).rank
    if rank is None:
        raise ValueError(f"status {status} has no rank")
    return rank


def _may_hold(status: int) -> bool:
    """§6.3: a hold is entered from any status before 8 (so not from a hold, nor 64, nor 128)."""
    rank = _rule(status).rank
    return rank is not None and rank < _rank(DISPATCHED)


def _where(order_id: int, status: int, held_from: int | None) -> str:
    held = f", held from {describe(held_from)}" if held_from is not None else ""
    return f"order {order_id} is {describe(status)}{held}"


def check_move(status: int, held_from: int | None, target: int, *, by: Role, order_id: int) -> Step:
    """Where moving an order from ``status`` to ``target`` leads, or why it may not.

    Statuses only; ``move`` applies the step's effect to the items. An unknown ``target`` is the
    caller's bad input (400, ``parameter="status"``); a known one refused is 409 naming both:
    ``check_move(8, None, 4, by=Role.FULFILLER, order_id=42)`` raises ``InvalidTransition``
    with "order 42 is Dispatched (8); it cannot move to In Production (4)".
    """
    here = _rule(status)
    held_from = _held_from(status, held_from)
    there = LIFECYCLE.get(target)
    if there is None:
        raise InvalidRequest(f"{target} is not an order status code", parameter="status")
    if target == status:
        return Step(status, held_from, changed=False)

    def refuse(why: str = "") -> InvalidTransition:
        return InvalidTransition(
            f"{_where(order_id, status, held_from)}; it cannot move to {describe(target)}{why}"
        )

    if not there.set_by:
        raise refuse(": it is never set through the API")
    if by not in there.set_by:
        if by is Role.RETAILER:
            raise refuse(": only its fulfiller moves an order's status")
        raise refuse(": only the service sets it, once the dispatch callback is delivered")
    if here.exits is not None and target not in here.exits:
        raise refuse()
    if there.entered_from is not None and status not in there.entered_from:
        raise refuse()
    if there.hold:
        if here.hold:
            return Step(target, held_from)
        if not _may_hold(status):
            raise refuse()
        return Step(target, status)
    if there.rank is not None:
        floor = _rule(held_from if held_from is not None else status).rank
        if floor is not None and there.rank < floor:
            raise refuse()
    effect = {DISPATCHED: Effect.SHIP_REMAINING, CANCELLED: Effect.CANCEL_REMAINING}.get(
        target, Effect.NONE
    )
    return Step(target, None, effect)


def may_cancel(status: int, *, by: Role) -> bool:
    """Whether ``by`` may cancel units of an order with this status: a retailer while it is 1,
    256 or 32, a fulfiller until it is dispatched (or cancelled)."""
    return by in _rule(status).cancel_by


def move(order: Order, target: int, *, by: Role, now: datetime) -> Change:
    """Move ``order`` to ``target`` (``PUT /orders/{id}/status``), shipping every remaining unit
    at ``now`` for 8 and cancelling every one for 128."""
    step = check_move(order.status, order.held_from, target, by=by, order_id=order.id)
    if not step.changed:
        return Change(order, order)
    where = _where(order.id, order.status, _held_from(order.status, order.held_from))
    if step.effect is Effect.SHIP_REMAINING:
        lines = _remaining(order)
        if not any(item.shipped for item in order.items) and not lines:
            raise InvalidTransition(
                f"{where}; it cannot move to {describe(target)}: it has no unit to ship"
            )
        dispatch = now if lines else None
        last = _latest(order.last_dispatch_datetime, now) if lines else order.last_dispatch_datetime
        after = settle(replace(_apply(order, lines, shipping=True), last_dispatch_datetime=last))
        return Change(order, after, shipped=lines, dispatch_datetime=dispatch)
    if step.effect is Effect.CANCEL_REMAINING:
        units = sum(item.shipped for item in order.items)
        if units:
            raise InvalidTransition(
                f"{where}; it cannot move to {describe(target)}: {_units(units)} shipped"
                " (cancel the rest with a cancellation, which dispatches it)"
            )
        if not may_cancel(order.status, by=by):
            raise InvalidTransition(f"{where}; it cannot move to {describe(target)}")
        lines = _remaining(order)
        after = replace(_apply(order, lines, shipping=False), status=CANCELLED, held_from=None)
        return Change(order, after, cancelled=lines)
    return Change(order, replace(order, status=step.status, held_from=step.held_from))


def ship(
    order: Order, lines: Sequence[tuple[int, int]] | None, *, dispatch_datetime: datetime
) -> Change:
    """Ship ``(item id, units)`` lines, or every remaining unit when ``lines`` is ``None``
    (``POST /orders/{id}/shipments``); the order reaches 8 when nothing remains."""
    where = _where(order.id, order.status, _held_from(order.status, order.held_from))
    if _rule(order.status).exits is not None:
        raise InvalidTransition(f"{where}; it cannot be shipped")
    resolved = _resolve(order, lines, "ship")
    if not resolved:
        raise InvalidTransition(f"{where}; it has no unit left to ship")
    after = replace(
        _apply(order, resolved, shipping=True),
        last_dispatch_datetime=_latest(order.last_dispatch_datetime, dispatch_datetime),
    )
    return Change(order, settle(after), shipped=resolved, dispatch_datetime=dispatch_datetime)


def cancel(order: Order, lines: Sequence[tuple[int, int]] | None, *, by: Role) -> Change:
    """Cancel ``(item id, units)`` lines, or every remaining unit when ``lines`` is ``None``
    (``POST /orders/{id}/cancellations``); shipped units are never cancelled. The order reaches
    128 when every unit is cancelled, or 8 when the rest has shipped."""
    where = _where(order.id, order.status, _held_from(order.status, order.held_from))
    if not may_cancel(order.status, by=by):
        if by is Role.RETAILER and _rule(order.status).exits is None:
            allowed = _either(s for s, rule in LIFECYCLE.items() if by in rule.cancel_by)
            raise InvalidTransition(f"{where}; a retailer may cancel only while it is {allowed}")
        raise InvalidTransition(f"{where}; it cannot be cancelled")
    resolved = _resolve(order, lines, "cancel")
    if not resolved:
        raise InvalidTransition(f"{where}; it has no unit left to cancel")
    return Change(order, settle(_apply(order, resolved, shipping=False)), cancelled=resolved)


def settle(order: Order) -> Order:
    """The status that follows from the quantities: 8 once every unit is shipped or cancelled
    and one shipped (``completion_datetime`` then set, to the latest dispatch time), 128 once
    every unit is cancelled; else the order as it is. Never backward: a final order is kept."""
    if _rule(order.status).exits is not None:
        return order
    if not any(item.quantity for item in order.items):
        return order
    if any(item.remaining for item in order.items):
        return order
    if any(item.shipped for item in order.items):
        return replace(
            order,
            status=DISPATCHED,
            held_from=None,
            completion_datetime=order.last_dispatch_datetime,
        )
    return replace(order, status=CANCELLED, held_from=None)


def item_status(item: Item, status: int, held_from: int | None = None) -> int:
    """An item's status from its quantities and its order's status (§6.3): 3 when done and
    something shipped, 7 when all of it is cancelled, 2 from the order's 4 onward (a hold counts
    as the status it was entered from), else 1."""
    if item.remaining <= 0:
        return ITEM_DISPATCHED if item.shipped else ITEM_CANCELLED
    held = _held_from(status, held_from)
    rank = _rule(held if held is not None else status).rank
    in_production = rank is not None and rank >= _rank(IN_PRODUCTION)
    return ITEM_IN_PRODUCTION if in_production else ITEM_READY


def item_statuses(order: Order) -> dict[int, int]:
    """Every item's status by item id, to write back after a change."""
    return {item.id: item_status(item, order.status, order.held_from) for item in order.items}


def creation_status(status: int | None) -> tuple[int, int | None]:
    """The status and hold memory of a new order (§6.2 create): 1 when omitted, else 1 or 256,
    which is held from 1."""
    if status is None or status == RECEIVED:
        return RECEIVED, None
    if status == ON_HOLD:
        return ON_HOLD, RECEIVED
    raise InvalidRequest(
        f"status {status} cannot start an order: send {describe(RECEIVED)} or {describe(ON_HOLD)},"
        " or omit it",
        parameter="status",
    )


def _remaining(order: Order) -> tuple[tuple[int, int], ...]:
    return tuple((item.id, item.remaining) for item in order.items if item.remaining > 0)


def _resolve(
    order: Order, lines: Sequence[tuple[int, int]] | None, verb: str
) -> tuple[tuple[int, int], ...]:
    """Check the caller's lines against the items: known, once each, at least 1, within what
    remains. ``parameter`` is the JSON path of §6.2's body, ``items[N].id`` or ``.quantity``."""
    if lines is None:
        return _remaining(order)
    if not lines:
        raise InvalidRequest(
            f"items is empty: name at least one, or omit items to {verb} every remaining unit",
            parameter="items",
        )
    items = {item.id: item for item in order.items}
    seen: set[int] = set()
    for index, (item_id, units) in enumerate(lines):
        item = items.get(item_id)
        if item is None:
            raise InvalidItem(
                f"item {item_id} is not an item of order {order.id}",
                item_id=item_id,
                parameter=f"items[{index}].id",
            )
        if item_id in seen:
            raise InvalidItem(
                f"item {item_id} is named twice; name each item once with its total quantity",
                item_id=item_id,
                parameter=f"items[{index}].id",
            )
        seen.add(item_id)
        if units < 1:
            raise InvalidItem(
                f"item {item_id}: the quantity to {verb} must be at least 1, not {units}",
                item_id=item_id,
                parameter=f"items[{index}].quantity",
            )
        if units > item.remaining:
            done = "shipped" if verb == "ship" else "cancelled"
            raise InvalidItem(
                f"item {item_id}: {units} cannot be {done}, only {item.remaining} of its "
                f"{item.quantity} left ({item.shipped} shipped, {item.cancelled} cancelled)",
                item_id=item_id,
                parameter=f"items[{index}].quantity",
            )
    return tuple((item_id, units) for item_id, units in lines)


def _apply(order: Order, lines: Sequence[tuple[int, int]], *, shipping: bool) -> Order:
    units = dict(lines)
    items = tuple(
        replace(item, shipped=item.shipped + units.get(item.id, 0))
        if shipping
        else replace(item, cancelled=item.cancelled + units.get(item.id, 0))
        for item in order.items
    )
    return replace(order, items=items)


def _latest(earlier: datetime | None, moment: datetime) -> datetime:
    return moment if earlier is None else max(earlier, moment)


def _either(statuses: Iterable[int]) -> str:
    named = [describe(status) for status in statuses]
    return named[0] if len(named) == 1 else f"{', '.join(named[:-1])} or {named[-1]}"


def _units(n: int) -> str:
    return f"{n} unit" if n == 1 else f"{n} units"
