"""Which companies' orders a client may see: the one rule no parameter can widen."""

from __future__ import annotations

from dataclasses import dataclass

from oms_export.auth.principal import Principal
from oms_export.db.schema import EXPORTING_LEVELS
from oms_export.errors import CompanyNotAllowed, SubscriptionRequired
from oms_export.export.params import ExportQuery


@dataclass(frozen=True)
class Entitlement:
    """Internal ids of the companies whose orders this request may return."""

    company_ids: frozenset[int]
    excluded_ref_ids: tuple[int, ...]
    """The client's companies left out because their subscription may not export."""
    company_filter_ids: frozenset[int] | None = None
    """``filter[company_ref_id]`` turned into internal ids, when given."""


def entitlement(principal: Principal, query: ExportQuery) -> Entitlement:
    """Work out the visible companies; refuse a request that names any other."""
    allowed = {c.ref_id: c.id for c in principal.companies if c.subscription in EXPORTING_LEVELS}
    excluded = tuple(
        sorted(c.ref_id for c in principal.companies if c.subscription not in EXPORTING_LEVELS)
    )
    if not allowed:
        raise SubscriptionRequired(
            "None of this client's companies has an Order Manager subscription or higher, "
            "which the export requires."
        )
    filter_ids: set[int] | None = None
    for flt in query.filters_on("company_ref_id"):
        named = {v for v in flt.values if isinstance(v, int)}
        unknown = sorted(named - allowed.keys())
        if unknown:
            not_exporting = [ref for ref in unknown if ref in excluded]
            if not_exporting and len(not_exporting) == len(unknown):
                raise SubscriptionRequired(
                    f"`{flt.parameter}`: company {', '.join(map(str, not_exporting))} has no "
                    "Order Manager subscription or higher, which the export requires.",
                    parameter=flt.parameter,
                )
            raise CompanyNotAllowed(
                f"`{flt.parameter}`: this client may not export company "
                f"{', '.join(map(str, unknown))}; it may name only its own companies.",
                parameter=flt.parameter,
            )
        ids = {allowed[ref] for ref in named}
        filter_ids = ids if filter_ids is None else filter_ids & ids
    return Entitlement(
        company_ids=frozenset(allowed.values()),
        excluded_ref_ids=excluded,
        company_filter_ids=None if filter_ids is None else frozenset(filter_ids),
    )
