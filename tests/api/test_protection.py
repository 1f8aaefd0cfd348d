"""Per-client protection over HTTP and around an export stream: shared through Redis by every
app on it, per process without it, closed (503) when Redis is down, and the statement timeout
answered as JSON."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import Engine, create_engine, text
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from oms_export.api.admission import BUSY_RETRY_AFTER, admit_export, holding, release_export
from oms_export.api.limits.local import LocalExportSlots, RateLimiter
from oms_export.api.limits.redis_backed import RedisExportSlots, redis_client
from oms_export.api.state import ServiceState
from oms_export.api.streaming import ExportResponse
from oms_export.db.engine import make_engine
from oms_export.errors import RateLimited
from oms_export.settings import Settings
from tests.api.nodes import app_of, free_port
from tests.conftest import RedisSpace
from tests.live import LiveServer

PATH = "/export-api/order-item-details"
SCOPE = "export-api.order-item-details"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def token_request(client: dict[str, Any], secret: str | None = None) -> str:
    secret = client["client_secret"] if secret is None else secret
    return (
        f"client_id={client['client_id']}&client_secret={secret}"
        f"&grant_type=client_credentials&scope={SCOPE}"
    )


def get_token(url: str, client: dict[str, Any]) -> str:
    response = httpx.post(url + "/token", content=token_request(client), headers=FORM)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def export_status(url: str, token: str) -> int:
    response = httpx.get(url + PATH, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    return response.status_code


@pytest.fixture
def two_nodes(settings: Settings, redis_space: RedisSpace) -> Iterator[Callable[..., Any]]:
    """Two services in this process on one database and, unless told otherwise, one Redis."""
    engines: list[Engine] = []

    def start(shared: bool = True, **changes: Any) -> tuple[LiveServer, LiveServer]:
        if shared:
            changes |= {"redis_url": redis_space.url, "redis_key_prefix": redis_space.prefix}
        node_settings = settings.with_changes(**changes)
        engines.extend(make_engine(node_settings) for _ in range(2))
        return LiveServer(node_settings, engines[-2]), LiveServer(node_settings, engines[-1])

    yield start
    for engine in engines:
        engine.dispose()


def test_nodes_on_one_redis_share_the_export_rate_limit(
    two_nodes: Callable[..., tuple[LiveServer, LiveServer]], reporting_client: dict[str, Any]
) -> None:
    node_a, node_b = two_nodes(rate_limit_per_minute=3)
    with node_a, node_b:
        token = get_token(node_a.url, reporting_client)
        codes = [export_status(url, token) for url in (node_a.url, node_b.url, node_a.url)]
        assert codes == [200, 200, 200]
        refused = httpx.get(node_b.url + PATH, headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 429
        assert refused.json()["error"] == "rate_limited"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert export_status(node_a.url, token) == 429


def test_without_redis_each_process_counts_its_own_requests(
    two_nodes: Callable[..., tuple[LiveServer, LiveServer]], reporting_client: dict[str, Any]
) -> None:
    node_a, node_b = two_nodes(shared=False, rate_limit_per_minute=1)
    with node_a, node_b:
        token = get_token(node_a.url, reporting_client)
        assert [export_status(node_a.url, token), export_status(node_b.url, token)] == [200, 200]
        assert export_status(node_a.url, token) == 429


def test_failed_token_attempts_add_up_across_nodes_on_one_redis(
    two_nodes: Callable[..., tuple[LiveServer, LiveServer]], reporting_client: dict[str, Any]
) -> None:
    node_a, node_b = two_nodes(token_rate_limit_per_minute=2)
    wrong = token_request(reporting_client, secret="a-wrong-guess")
    with node_a, node_b:
        codes = [
            httpx.post(url + "/token", content=wrong, headers=FORM).status_code
            for url in (node_a.url, node_b.url, node_a.url)
        ]
        assert codes == [401, 401, 429]
        assert httpx.post(node_b.url + "/token", content=wrong, headers=FORM).status_code == 429
        right = httpx.post(
            node_b.url + "/token", content=token_request(reporting_client), headers=FORM
        )
        assert right.status_code == 200, "failures from an address never lock the client out"


def test_redis_down_answers_503_to_tokens_and_exports_while_health_stays_up(
    settings: Settings, engine: Engine, reporting_client: dict[str, Any]
) -> None:
    with LiveServer(settings, engine) as healthy:
        token = get_token(healthy.url, reporting_client)
    cut_off = settings.with_changes(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    wrong = token_request(reporting_client, secret="a-wrong-guess")
    with LiveServer(cut_off, engine) as node:
        for response in (
            httpx.post(node.url + "/token", content=wrong, headers=FORM),
            httpx.get(node.url + PATH, headers={"Authorization": f"Bearer {token}"}),
        ):
            assert response.status_code == 503
            assert response.headers["content-type"] == "application/json"
            assert response.json()["error"] == "temporarily_unavailable"
            assert int(response.headers["retry-after"]) > 0
        # Neither a failure nor a token given can be counted, so neither is answered.
        right = httpx.post(
            node.url + "/token", content=token_request(reporting_client), headers=FORM
        )
        assert right.status_code == 503
        assert httpx.get(node.url + "/health").status_code == 200


SLOW = {
    "postgresql": "SELECT pg_sleep(30)",
    "sqlite": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000000000)"
    " SELECT max(i) FROM n",
}


def test_a_query_past_the_statement_timeout_is_a_json_503_query_timeout(
    settings: Settings,
) -> None:
    bounded = settings.with_changes(statement_timeout_seconds=1)
    engine = make_engine(bounded)
    server = LiveServer(bounded, engine)

    async def slow() -> Response:
        def run() -> None:
            with engine.connect() as conn:
                conn.execute(text(SLOW[engine.dialect.name]))

        await run_in_threadpool(run)
        return Response("done")

    app_of(server).add_api_route("/slow", slow)
    try:
        with server:
            response = httpx.get(server.url + "/slow", timeout=30)
    finally:
        engine.dispose()
    assert response.status_code == 503
    assert response.json()["error"] == "query_timeout"
    assert "(1 s)" in response.json()["error_description"]


# Around an export stream: what the export route calls.


@pytest.fixture(params=["local", "redis"])
def state(request: pytest.FixtureRequest) -> Iterator[ServiceState]:
    """A service state with a cap of 2 exports per client and no rate limit."""
    engine = create_engine("sqlite://")
    client = None
    if request.param == "local":
        slots: Any = LocalExportSlots(2, ttl=0.3)
    else:
        space: RedisSpace = request.getfixturevalue("redis_space")
        client = redis_client(space.url)
        slots = RedisExportSlots(client, space.prefix, 2, ttl=0.3)
    yield ServiceState(Settings(), engine, RateLimiter(0), RateLimiter(0), export_slots=slots)
    engine.dispose()
    if client is not None:
        client.close()


def gauge(state: ServiceState) -> float:
    value = state.metrics.registry.get_sample_value("oms_export_exports_in_progress")
    assert value is not None
    return value


def test_a_client_past_its_concurrent_exports_gets_429_with_retry_after(
    state: ServiceState,
) -> None:
    async def scenario() -> None:
        leases = [await admit_export(state, "c1"), await admit_export(state, "c1")]
        with pytest.raises(RateLimited) as caught:
            await admit_export(state, "c1")
        assert caught.value.retry_after == BUSY_RETRY_AFTER
        assert "2 exports" in caught.value.description
        other = await admit_export(state, "c2")
        assert gauge(state) == 3
        await release_export(state, leases[0])
        await release_export(state, leases[0])  # a second release changes nothing
        assert gauge(state) == 2
        await admit_export(state, "c1")
        await release_export(state, other)

    anyio.run(scenario)
    refused = state.metrics.registry.get_sample_value(
        "oms_export_export_refusals_total", {"limit": "concurrency"}
    )
    assert refused == 1


def test_the_rate_limit_is_counted_before_a_slot_is_taken() -> None:
    state = ServiceState(
        Settings(), create_engine("sqlite://"), RateLimiter(1), RateLimiter(0),
        export_slots=LocalExportSlots(5),
    )  # fmt: skip

    async def scenario() -> None:
        await admit_export(state, "c1")
        with pytest.raises(RateLimited) as caught:
            await admit_export(state, "c1")
        assert caught.value.retry_after > BUSY_RETRY_AFTER

    anyio.run(scenario)
    assert isinstance(state.export_slots, LocalExportSlots)
    assert state.export_slots.held("c1") == 1


async def _chunks(
    count: int, pause: float = 0.0, fail_at: int | None = None
) -> AsyncIterator[bytes]:
    for n in range(count):
        if n == fail_at:
            raise RuntimeError("the database went away")
        await anyio.sleep(pause)
        yield b"chunk"


def test_holding_frees_the_slot_when_the_export_ends_fails_or_is_cancelled(
    state: ServiceState,
) -> None:
    async def scenario() -> None:
        admission = await admit_export(state, "c1")
        async with holding(state, admission):
            assert [c async for c in _chunks(3)] == [b"chunk"] * 3
        assert admission.released

        admission = await admit_export(state, "c1")

        async def failing_export() -> None:
            async with holding(state, admission):
                async for _ in _chunks(3, fail_at=1):
                    pass

        with pytest.raises(RuntimeError):
            await failing_export()
        assert admission.released

        admission = await admit_export(state, "c1")
        with anyio.move_on_after(0.05):  # the client went away mid-stream
            async with holding(state, admission):
                await anyio.sleep(10)
        assert admission.released

        # All three slots were given back: the cap of 2 still admits two at once.
        await admit_export(state, "c1")
        await admit_export(state, "c1")

    anyio.run(scenario)
    assert gauge(state) == 2
    assert state.node_exports.running == 2


def test_a_stalled_export_keeps_its_slot_while_its_stream_is_open(state: ServiceState) -> None:
    """The lease is renewed on a clock, not when a chunk is taken: a client that stops reading
    cannot let its lease lapse and open more exports than its cap."""

    async def stalled_export(opened: anyio.Event) -> None:
        async with holding(state, await admit_export(state, "c1")):
            opened.set()
            await anyio.sleep(0.9)  # three 0.3 s leases, and not one chunk read

    async def scenario() -> None:
        async with anyio.create_task_group() as group:
            opened = anyio.Event()
            group.start_soon(stalled_export, opened)
            await opened.wait()
            await anyio.sleep(0.6)
            taken = await admit_export(state, "c1")  # the one free slot
            with pytest.raises(RateLimited):
                await admit_export(state, "c1")  # the stalled export still holds the other
            await release_export(state, taken)
        await release_export(state, await admit_export(state, "c1"))
        await release_export(state, await admit_export(state, "c1"))

    anyio.run(scenario)
    assert gauge(state) == 0


def test_a_client_that_goes_away_mid_stream_frees_its_slot_at_once(
    settings: Settings, engine: Engine
) -> None:
    server = LiveServer(settings.with_changes(max_concurrent_exports=1), engine)
    app = app_of(server)
    state: ServiceState = app.state.service

    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield b"x" * 65536
            await anyio.sleep(0.001)

    async def export_like() -> ExportResponse:
        admission = await admit_export(state, "c1")
        return ExportResponse(endless(), state=state, admission=admission)

    app.add_api_route("/endless", export_like)
    slots = state.export_slots
    assert isinstance(slots, LocalExportSlots)
    with server:
        with httpx.stream("GET", server.url + "/endless") as response:
            assert response.status_code == 200
            chunks = response.iter_raw()  # kept: a dropped iterator closes the connection
            next(chunks)
            assert slots.held("c1") == 1
            assert httpx.get(server.url + "/endless").status_code == 429
        deadline = time.monotonic() + 5
        while slots.held("c1"):
            assert time.monotonic() < deadline, "the slot stayed taken after the client left"
            time.sleep(0.02)
    assert gauge(state) == 0
