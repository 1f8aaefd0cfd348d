"""Schemathesis over the live service: whatever a client sends, no 5xx comes back.

The schema is the one the service serves at ``/openapi.json``, read over real HTTP from a live
server (uvicorn on loopback, on this test's database: SQLite and PostgreSQL both run). The store
holds a small demo data set (every subscription level, products with prices and e-commerce data,
orders in every status, with attributes) and the export is called with a real bearer token.

Every operation of the schema is run, so a route added later is fuzzed without a change here;
each gets data that fits its schema and data that does not (negative mode). Hooks steer the
cases past the first refusal (``schemathesis_support``): the export's parameters, and filters
the schema does not list yet, also draw accepted, edge and hostile values, with varied Accept
headers; /token forms sometimes carry the real client id or secret, and Basic credentials.

The run is seeded (``SEED``) and bounded (``MAX_EXAMPLES`` per operation and mode), so it is the
same run every time, about a minute per store on a 2-core CI machine; Hypothesis' deadline and
too_slow health check are off, so a loaded machine cannot fail it. A failure names the operation
and mode and gives a curl line that reproduces it. Rate limits are off in this service: a 429
would hide the path behind it. Nothing is sent past the loopback address.

Why not ``schemathesis.pytest.from_fixture``: schemathesis 4.32 rewrites ``request.node._nodeid``,
which pytest 9.2 no longer has; the strategies API used here is its documented alternative.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy
from schemathesis import Case, CheckFunction, GenerationMode, HookContext
from schemathesis.checks import not_a_server_error, status_code_conformance
from schemathesis.core.result import Ok
from schemathesis.schemas import APIOperation, BaseSchema
from sqlalchemy import Engine

from oms_export.admin.demo import DEMO_CLIENT_COMPANIES, load_demo
from oms_export.auth.clients import create_client
from oms_export.auth.scopes import SCOPES
from oms_export.settings import Settings
from tests.api import schemathesis_support as support
from tests.live import LiveServer
from tests.live import bearer as ask_for_token

SEED = 20240501
MAX_EXAMPLES = 300
"""Cases per operation and generation mode: about a minute a store on a 2-core machine."""

EXPORT_PATH = "/export-api/order-item-details"
ORDERS_PATH = "/orders"
ORDERS_EXAMPLES = 100
"""The orders API's operations take fewer cases: seven of them, each mostly refused early."""
TOKEN_PATH = "/token"
FORM = "application/x-www-form-urlencoded"

Operation = APIOperation[Any, Any, Any, Any]

UNDOCUMENTED_STATUSES: frozenset[str] = frozenset()
"""Operations held to "no 5xx" alone; every other operation must also answer only with statuses
its schema lists. Empty: every operation's answers are documented."""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's settings with the rate limits off: a 429 would hide the path behind it."""
    return settings.with_changes(
        rate_limit_per_minute=0, token_rate_limit_per_minute=0, token_issue_limit_per_minute=0
    )


@pytest.fixture
def credentials(engine: Engine, settings: Settings) -> dict[str, Any]:
    """A small demo store and a client tied to the demo companies (one of them is `free`)."""
    load_demo(engine, settings, orders=40, seed=7)
    return create_client(
        engine,
        settings,
        name="schemathesis",
        company_ref_ids=DEMO_CLIENT_COMPANIES,
        scopes=tuple(SCOPES),  # every operation's cases get past the scope check
    )


@pytest.fixture
def bearer(http: httpx.Client, credentials: dict[str, Any]) -> str:
    """A token for the client, asked for as the article's curl does (`http`: tests/api/conftest)."""
    return ask_for_token(http, credentials)


@pytest.fixture
def cursor(http: httpx.Client, bearer: str) -> str:
    """A real `page[after]` cursor: that of the second page of two orders."""
    answer = http.get(
        EXPORT_PATH, params={"page[size]": "2"}, headers={"Authorization": f"Bearer {bearer}"}
    )
    answer.raise_for_status()
    found = re.search(r"page\[after\]=([A-Za-z0-9_-]+)", answer.headers["link"])
    assert found is not None, answer.headers["link"]
    return found[1]


@pytest.fixture
def live_schema(live_server: LiveServer, credentials: dict[str, Any], cursor: str) -> BaseSchema:
    """The schema the live server serves, with the hooks that steer its cases."""
    schema = schemathesis.openapi.from_url(
        f"{live_server.url}/openapi.json",
        # The curl line of a failure shows every header: these credentials are throwaway.
        config=schemathesis.Config.from_dict(
            {"request-timeout": 30, "output": {"sanitization": {"enabled": False}}}
        ),
        timeout=30,
    )
    client_id, secret = credentials["client_id"], credentials["client_secret"]

    @schema.hook("flatmap_query")
    def export_query(ctx: HookContext, query: Any) -> SearchStrategy[Any]:
        if ctx.operation is None or ctx.operation.path != EXPORT_PATH:
            return st.just(query)
        return support.export_query(query, cursor)

    @schema.hook("flatmap_body")
    def token_body(ctx: HookContext, body: Any) -> SearchStrategy[Any]:
        if ctx.operation is None or ctx.operation.path != TOKEN_PATH:
            return st.just(body)
        return support.token_body(body, client_id, secret)

    return schema


def _operations(schema: BaseSchema) -> list[Operation]:
    found = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the served schema does not load: {result.err()}"
        found.append(result.ok())
    paths = {operation.path for operation in found}
    assert {EXPORT_PATH, TOKEN_PATH} <= paths, f"the schema lacks an operation: {sorted(paths)}"
    return found


def _extra_headers(
    operation: Operation, bearer: str, credentials: dict[str, Any]
) -> SearchStrategy[dict[str, str]]:
    """Headers the schema does not declare: the bearer token, Accept, Basic credentials."""
    if operation.path == EXPORT_PATH:
        return support.accept_headers().map(
            lambda accept: (
                {"Authorization": f"Bearer {bearer}"}
                | ({} if accept is None else {"Accept": accept})
            )
        )
    if operation.path == TOKEN_PATH:
        basic = support.basic_headers(credentials["client_id"], credentials["client_secret"])
        return basic.map(lambda value: {} if value is None else {"Authorization": value})
    if operation.path.startswith(ORDERS_PATH):
        return st.just({"Authorization": f"Bearer {bearer}"})
    return st.just({})


def _fuzz(
    operation: Operation, mode: GenerationMode, headers: SearchStrategy[dict[str, str]]
) -> None:
    """Run one operation's cases in one mode; raise on the first failing check, shrunk."""
    checks: list[CheckFunction] = [not_a_server_error]
    if operation.path not in UNDOCUMENTED_STATUSES:
        checks.append(status_code_conformance)

    @seed(SEED)
    @hypothesis_settings(
        max_examples=ORDERS_EXAMPLES if operation.path.startswith(ORDERS_PATH) else MAX_EXAMPLES,
        deadline=None,  # a loaded 2-core machine must not fail the run on timing
        # too_slow: timing again; filter_too_much: the hooks' strategies, not a machine's speed.
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        database=None,  # no replay from .hypothesis/: the seed alone decides the run
        derandomize=False,
        print_blob=False,
    )
    @given(case=operation.as_strategy(generation_mode=mode), extra=headers)
    def run(case: Case[Any], extra: dict[str, str]) -> None:
        case.call_and_validate(headers=extra, checks=checks)

    run()


def test_no_server_error(
    live_schema: BaseSchema,
    bearer: str,
    credentials: dict[str, Any],
    subtests: pytest.Subtests,
) -> None:
    """Every operation, in both generation modes, as a subtest of its own: no 5xx."""
    for operation in _operations(live_schema):
        has_inputs = any(True for _ in operation.iter_parameters()) or bool(operation.body)
        negative = [GenerationMode.NEGATIVE] if has_inputs else []
        headers = _extra_headers(operation, bearer, credentials)
        for mode in [GenerationMode.POSITIVE, *negative]:
            with subtests.test(operation=operation.label, mode=str(mode)):
                _fuzz(operation, mode, headers)


def test_known_edges_get_no_server_error(
    live_schema: BaseSchema,
    live_server: LiveServer,
    bearer: str,
    credentials: dict[str, Any],
    subtests: pytest.Subtests,
) -> None:
    """The edges fuzzing found, or could miss by chance, sent every run: none is a 5xx."""
    authorized = {"Authorization": f"Bearer {bearer}"}
    export = live_schema[EXPORT_PATH]["GET"]
    for label, query in support.KNOWN_EXPORT_QUERIES.items():
        with subtests.test(label):
            export.Case(query=query).call_and_validate(
                headers=authorized, checks=[not_a_server_error]
            )
    token = live_schema[TOKEN_PATH]["POST"]
    requests = support.known_token_requests(credentials["client_id"], credentials["client_secret"])
    for label, (form, headers) in requests.items():
        with subtests.test(label):
            token.Case(body=form, media_type=FORM).call_and_validate(
                headers=headers, checks=[not_a_server_error, status_code_conformance]
            )
    for raw in support.RAW_EXPORT_QUERIES:
        with subtests.test(raw):
            # A fresh connection each: after a 500 the server drops the one it answered on.
            url = f"{live_server.url}{EXPORT_PATH}?{raw}"
            answer = httpx.get(url, headers=authorized, timeout=30)
            assert answer.status_code < 500, f"{raw}: {answer.status_code} {answer.text}"
