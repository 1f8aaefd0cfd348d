"""Failed token requests are throttled per source address, over real HTTP from distinct
loopback addresses, with the limit kept in this process and in Redis.

The promise: whoever floods a client id with wrong secrets only slows down their own address;
the client's right secret gets its token from anywhere, the guesser's address included.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from oms_export.api.limits.redis_backed import key_part
from oms_export.auth.clients import create_client
from oms_export.auth.tokens import resolve_token
from oms_export.db.schema import access_tokens
from oms_export.settings import Settings
from tests.conftest import RedisSpace
from tests.live import LiveServer

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
GUESSER = "127.0.0.2"
OWNER = "127.0.0.3"


def token_body(client: dict[str, Any], secret: str | None = None) -> str:
    secret = client["client_secret"] if secret is None else secret
    return (
        f"client_id={client['client_id']}&client_secret={secret}"
        "&grant_type=client_credentials&scope=export-api.order-item-details"
    )


class Caller:
    """Requests to one server, all leaving from one loopback source address."""

    def __init__(self, url: str, address: str) -> None:
        transport = httpx.HTTPTransport(local_address=address)
        self.http = httpx.Client(base_url=url, transport=transport, timeout=30)

    def token(self, body: str) -> httpx.Response:
        return self.http.post("/token", content=body, headers=FORM)


@pytest.fixture(params=["in-process", "redis"])
def limited(request: pytest.FixtureRequest, settings: Settings) -> tuple[Settings, str | None]:
    """The settings of one limiter flavour, and the Redis key of the guesser's failures."""
    if request.param == "in-process":
        return settings, None
    space: RedisSpace = request.getfixturevalue("redis_space")
    shared = settings.with_changes(redis_url=space.url, redis_key_prefix=space.prefix)
    return shared, space.prefix + "rate:token-failure:" + key_part(GUESSER)


@pytest.fixture
def callers(
    limited: tuple[Settings, str | None], engine: Engine
) -> Iterator[tuple[Caller, Caller]]:
    with LiveServer(limited[0], engine) as server:
        guesser, owner = Caller(server.url, GUESSER), Caller(server.url, OWNER)
        yield guesser, owner
        guesser.http.close()
        owner.http.close()


def test_a_flood_of_wrong_secrets_slows_only_its_own_address_never_the_right_secret(
    callers: tuple[Caller, Caller],
    limited: tuple[Settings, str | None],
    reporting_client: dict[str, Any],
    engine: Engine,
    request: pytest.FixtureRequest,
) -> None:
    guesser, owner = callers
    settings, failures_key = limited
    limit = settings.token_rate_limit_per_minute
    assert limit == 30, "the default the issue is about"
    wrong = token_body(reporting_client, secret="a-wrong-guess")

    codes = [guesser.token(wrong).status_code for _ in range(limit)]
    assert codes == [401] * limit
    for _ in range(3):
        refused = guesser.token(wrong)
        assert refused.status_code == 429
        assert refused.json()["error"] == "rate_limited"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.headers["cache-control"] == "no-store"

    # The right secret is never refused: not from the guesser's address, not from another.
    for caller in (guesser, owner):
        granted = caller.token(token_body(reporting_client))
        assert granted.status_code == 200, granted.text
        token = granted.json()["access_token"]
        assert resolve_token(engine, token).client_id == reporting_client["client_id"]
    # Another address starts from nothing: its wrong secret is a plain 401.
    assert owner.token(wrong).status_code == 401

    if failures_key is not None:
        redis_space: RedisSpace = request.getfixturevalue("redis_space")
        # Refused failures were not counted: the wait they get never grows.
        assert redis_space.client.zcard(failures_key) == limit
        assert redis_space.client.ttl(failures_key) > 0


def test_a_client_is_given_at_most_its_issue_limit_of_tokens_a_minute(
    limited: tuple[Settings, str | None],
    engine: Engine,
    settings: Settings,
    reporting_client: dict[str, Any],
) -> None:
    """Every token is a stored row for its lifetime: a client asking for thousands a second
    would fill the store. Strangers cannot spend a client's budget: only it, authenticated."""
    other = create_client(engine, settings, name="other", company_ref_ids=[1001])
    with LiveServer(limited[0].with_changes(token_issue_limit_per_minute=3), engine) as server:
        caller = Caller(server.url, OWNER)
        wrong = token_body(reporting_client, secret="a-wrong-guess")
        assert [caller.token(wrong).status_code for _ in range(5)] == [401] * 5
        right = token_body(reporting_client)
        assert [caller.token(right).status_code for _ in range(3)] == [200] * 3
        refused = caller.token(right)
        assert refused.status_code == 429
        assert refused.json()["error"] == "rate_limited"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert caller.token(token_body(other)).status_code == 200, "each client its own budget"
        caller.http.close()
    with engine.connect() as conn:
        stored = conn.scalar(select(func.count()).select_from(access_tokens))
    assert stored == 4, "the refused request stored no token"
