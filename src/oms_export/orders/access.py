"""Who may act on an order (API.md §6.1): the roles a caller holds on it, from scopes and companies.

Pure, like the lifecycle: the routes load the order's two companies and ask here. A caller with
no role on an order gets the same 404 as for a missing one, so probing ids reveals nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from oms_export.auth.principal import Principal
from oms_export.auth.scopes import ORDERS_FULFIL_SCOPE, ORDERS_WRITE_SCOPE
from oms_export.errors import InsufficientScope
from oms_export.orders.lifecycle import Role

ORDER_SCOPES = frozenset({ORDERS_WRITE_SCOPE, ORDERS_FULFIL_SCOPE})


def require_scope(principal: Principal, accepted: Iterable[str]) -> None:
    """403 ``insufficient_scope`` unless the token carries one of ``accepted``; checked before
    any order is looked up, so a token without it learns nothing either."""
    wanted = sorted(accepted)
    if not principal.scopes.intersection(wanted):
        named = " or ".join(f"`{scope}`" for scope in wanted)
        raise InsufficientScope(f"The token lacks the scope {named}.")


def roles(principal: Principal, company_id: int, secondary_company_id: int | None) -> set[Role]:
    """The caller's roles on an order of ``company_id`` fulfilled by ``secondary_company_id``
    (or by ``company_id`` itself when there is none); each role needs its scope too."""
    mine = {grant.id for grant in principal.companies}
    held: set[Role] = set()
    if ORDERS_WRITE_SCOPE in principal.scopes and company_id in mine:
        held.add(Role.RETAILER)
    fulfiller = secondary_company_id if secondary_company_id is not None else company_id
    if ORDERS_FULFIL_SCOPE in principal.scopes and fulfiller in mine:
        held.add(Role.FULFILLER)
    return held


def canceller(held: set[Role]) -> Role | None:
    """The role a cancellation is made in: the fulfiller's, which may cancel for longer, when the
    caller holds both."""
    if Role.FULFILLER in held:
        return Role.FULFILLER
    if Role.RETAILER in held:
        return Role.RETAILER
    return None
