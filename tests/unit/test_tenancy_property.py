"""Property: whatever the companies, clients, orders and filters, a client sees exactly the
orders of its entitled companies that match the filters, and never a row of anyone else.

The store is real (SQLite and PostgreSQL), the client is real (created, given a token, the token
resolved), and the expected answer is computed independently in Python from the generated data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import Engine, delete

from oms_export.auth.clients import create_client
from oms_export.auth.grant import TokenRequest
from oms_export.auth.tokens import issue_token, resolve_token
from oms_export.db import schema
from oms_export.db.schema import EXPORTING_LEVELS, SUBSCRIPTION_LEVELS
from oms_export.errors import CompanyNotAllowed, SubscriptionRequired
from oms_export.export.params import parse_export_query
from oms_export.export.run import start_export
from oms_export.export.tenancy import entitlement
from oms_export.settings import Settings
from tests import factories as f

STATUSES = (1, 8, 128, 516)


@dataclass(frozen=True)
class World:
    levels: tuple[str, ...]  # company n has ref id 1000 + n
    orders: tuple[tuple[int, int | None, int, int], ...]  # company, secondary, status, items
    client_companies: frozenset[int]
    status_filter: tuple[int, ...] | None
    company_filter: tuple[int, ...] | None
    refs_from: int | None


@st.composite
def worlds(draw: st.DrawFn) -> World:
    n = draw(st.integers(1, 5))
    levels = tuple(draw(st.sampled_from(SUBSCRIPTION_LEVELS)) for _ in range(n))
    company = st.integers(0, n - 1)
    orders = draw(
        st.lists(
            st.tuples(company, st.none() | company, st.sampled_from(STATUSES), st.integers(0, 2)),
            max_size=12,
        )
    )
    client = draw(st.frozensets(company, min_size=1))
    status_filter = draw(st.none() | st.lists(st.sampled_from(STATUSES), min_size=1, unique=True))
    company_filter = draw(st.none() | st.lists(company, min_size=1, unique=True))
    refs_from = draw(st.none() | st.integers(0, 12))
    return World(
        levels,
        tuple(orders),
        client,
        None if status_filter is None else tuple(status_filter),
        None if company_filter is None else tuple(company_filter),
        refs_from,
    )


def _clear(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(schema.metadata.sorted_tables):
            if table.name != "server_keys":
                conn.execute(delete(table))


def _query(world: World) -> list[tuple[str, str]]:
    pairs = []
    if world.status_filter is not None:
        pairs.append(("filter[status:in]", ",".join(map(str, world.status_filter))))
    if world.company_filter is not None:
        refs = ",".join(str(1000 + c) for c in world.company_filter)
        pairs.append(("filter[company_ref_id:in]", refs))
    if world.refs_from is not None:
        pairs.append(
            ("filter[external_ref:in]", ",".join(f"E{k}" for k in range(world.refs_from, 13)))
        )
    return pairs


def _expected(world: World) -> set[str] | type[Exception]:
    """The answer, from the rules of the spec alone."""
    allowed = {c for c in world.client_companies if world.levels[c] in EXPORTING_LEVELS}
    if not allowed:
        return SubscriptionRequired
    if world.company_filter is not None and not set(world.company_filter) <= allowed:
        outside = set(world.company_filter) - allowed
        return SubscriptionRequired if outside <= world.client_companies else CompanyNotAllowed
    visible = set()
    for k, (company, secondary, status, _items) in enumerate(world.orders):
        if company not in allowed and secondary not in allowed:
            continue
        if world.status_filter is not None and status not in world.status_filter:
            continue
        if world.company_filter is not None and company not in world.company_filter:
            continue
        if world.refs_from is not None and k < world.refs_from:
            continue
        visible.add(f"E{k}")
    return visible


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(world=worlds())
def test_a_client_sees_exactly_its_entitled_orders(
    engine: Engine, settings: Settings, world: World
) -> None:
    _clear(engine)
    ids = [f.company(engine, 1000 + n, level, name=f"C{n}") for n, level in enumerate(world.levels)]
    for k, (company, secondary, status, items) in enumerate(world.orders):
        f.order(
            engine,
            ids[company],
            f"E{k}",
            status=status,
            secondary_company_id=None if secondary is None else ids[secondary],
            items=[{"sku": f"S{k}-{n}", "external_ref": f"E{k}-{n}"} for n in range(items)],
        )
    client = create_client(
        engine, settings, name="prop", company_ref_ids=[1000 + c for c in world.client_companies]
    )
    token = issue_token(
        engine, settings, TokenRequest(client["client_id"], client["client_secret"], None, False)
    )["access_token"]
    principal = resolve_token(engine, token)

    expected = _expected(world)
    query = parse_export_query(_query(world))
    if isinstance(expected, type):
        with pytest.raises(expected):
            entitlement(principal, query)
        return
    export = start_export(
        engine, query, entitlement(principal, query), client_id="c", cursor_key=b"k"
    )
    rows: list[dict[str, Any]] = [r for batch in export.row_batches() for r in batch]

    entitled_refs = {
        1000 + c for c in world.client_companies if world.levels[c] in EXPORTING_LEVELS
    }
    for row in rows:
        assert {row["company_ref_id"], row["secondary_company_ref_id"]} & entitled_refs
    assert {r["external_ref"] for r in rows} == expected
    per_order = {k: max(1, items) for k, (_, _, _, items) in enumerate(world.orders)}
    assert len(rows) == sum(per_order[int(ref[1:])] for ref in expected)
