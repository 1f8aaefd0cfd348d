"""``POST /token`` in process: the article's request, HTTP Basic, and every RFC 6749 error."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, insert, update

from oms_export.api import token
from oms_export.api.app import create_app
from oms_export.api.errors import install_error_handlers
from oms_export.api.limits.local import RateLimiter
from oms_export.api.state import ServiceState
from oms_export.auth.clients import create_client, revoke_client
from oms_export.auth.scopes import EXPORT_SCOPE, ORDERS_FULFIL_SCOPE, ORDERS_WRITE_SCOPE
from oms_export.auth.tokens import resolve_token
from oms_export.db.engine import make_engine
from oms_export.db.schema import companies, oauth_clients
from oms_export.settings import Settings

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class TestClient:
    """Synchronous in-process requests to an ASGI app.

    Starlette's own TestClient warns (an error here) unless ``httpx2`` is installed, so this
    drives ``httpx.ASGITransport`` on a fresh event loop per request instead.
    """

    __test__ = False

    def __init__(self, app: FastAPI, source: str = "127.0.0.1") -> None:
        self.app = app
        self.source = source
        """The client address the app sees (``request.client.host``)."""

    def from_address(self, source: str) -> TestClient:
        """The same app, asked from another source address."""
        return TestClient(self.app, source)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, client=(self.source, 50000))
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                return await c.request(method, url, **kwargs)

        return anyio.run(send)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def token_app(settings: Settings, engine: Engine, failure_limiter: RateLimiter) -> FastAPI:
    """The token route alone, wired as ``create_app`` wires it."""
    app = FastAPI()
    app.state.service = ServiceState(
        settings=settings,
        engine=engine,
        export_limiter=RateLimiter(0),
        token_failure_limiter=failure_limiter,
    )
    install_error_handlers(app)
    app.include_router(token.router)
    return app


@contextmanager
def whole_service(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    """The service ``create_app`` builds; the connections it opened itself are closed after,
    since no lifespan runs under ``TestClient``."""
    app = create_app(settings, engine)
    try:
        yield TestClient(app)
    finally:
        app.state.service.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def api(settings: Settings, engine: Engine, clock: FakeClock) -> TestClient:
    limiter = RateLimiter(3, clock=clock)
    return TestClient(token_app(settings, engine, limiter))


@pytest.fixture
def client(engine: Engine, settings: Settings) -> dict[str, Any]:
    with engine.begin() as conn:
        conn.execute(
            insert(companies).values(ref_id=1001, name="Acme", subscription="order_manager")
        )
    return create_client(engine, settings, name="reporting", company_ref_ids=[1001])


def body_for(client: dict[str, Any], *, secret: str | None = None) -> bytes:
    secret = client["client_secret"] if secret is None else secret
    return (
        f"client_id={client['client_id']}&client_secret={secret}"
        "&grant_type=client_credentials&scope=export-api.order-item-details"
    ).encode()


def test_the_articles_curl_request_gets_a_token(
    api: TestClient, engine: Engine, client: dict[str, Any]
) -> None:
    # What `curl URL -d "client_id=…&client_secret=…&grant_type=…&scope=…"` sends.
    response = api.post("/token", content=body_for(client), headers=FORM)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    answer = response.json()
    assert set(answer) == {"access_token", "token_type", "expires_in", "scope"}
    assert (answer["token_type"], answer["expires_in"], answer["scope"]) == (
        "Bearer",
        3600,
        EXPORT_SCOPE,
    )
    assert resolve_token(engine, answer["access_token"]).client_id == client["client_id"]


def test_http_basic_authentication_gets_a_token(
    api: TestClient, engine: Engine, client: dict[str, Any]
) -> None:
    response = api.post(
        "/token",
        content=b"grant_type=client_credentials",
        headers=FORM,
        auth=(client["client_id"], client["client_secret"]),
    )
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == EXPORT_SCOPE
    assert resolve_token(engine, response.json()["access_token"]).client_id == client["client_id"]


@pytest.mark.parametrize(
    ("content_type", "body", "status", "error"),
    [
        pytest.param("application/json", b'{"grant_type":"client_credentials"}', 400,
                     "invalid_request", id="json-body"),
        pytest.param(None, b"grant_type=client_credentials", 400, "invalid_request",
                     id="no-content-type"),
        pytest.param("application/x-www-form-urlencoded", b"scope=x", 400, "invalid_request",
                     id="missing-grant-type"),
        pytest.param("application/x-www-form-urlencoded",
                     b"grant_type=client_credentials&grant_type=client_credentials", 400,
                     "invalid_request", id="repeated-parameter"),
        pytest.param("application/x-www-form-urlencoded", b"grant_type=password", 400,
                     "unsupported_grant_type", id="unsupported-grant"),
        pytest.param("application/x-www-form-urlencoded",
                     b"grant_type=client_credentials&client_id=a&client_secret=b&scope=admin",
                     400, "invalid_scope", id="unknown-scope"),
        pytest.param("application/x-www-form-urlencoded",
                     b"grant_type=client_credentials&client_id=a&client_secret=b&scope=",
                     400, "invalid_request", id="empty-scope"),
        pytest.param("application/x-www-form-urlencoded", b"grant_type=client_credentials",
                     401, "invalid_client", id="no-credentials"),
        pytest.param("application/x-www-form-urlencoded",
                     b"grant_type=client_credentials&client_id=a&client_secret=" + b"x" * 17000,
                     400, "invalid_request", id="body-too-large"),
    ],
)  # fmt: skip
def test_bad_requests_get_the_rfc_6749_error(
    api: TestClient, content_type: str | None, body: bytes, status: int, error: str
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = api.post("/token", content=body, headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"] == error
    assert response.json()["error_description"]
    assert "www-authenticate" not in response.headers
    # RFC 6749 §5.1: no token endpoint answer may be cached, errors included.
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"


def test_an_unsupported_grant_type_is_400_and_never_stored(api: TestClient) -> None:
    response = api.post(
        "/token", content=b"grant_type=password&username=a&password=b", headers=FORM
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"
    assert response.json()["parameter"] == "grant_type"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"


def test_credentials_both_in_body_and_basic_are_invalid_request(
    api: TestClient, client: dict[str, Any]
) -> None:
    response = api.post(
        "/token",
        content=body_for(client),
        headers=FORM,
        auth=(client["client_id"], client["client_secret"]),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_a_scope_the_client_does_not_hold_is_invalid_scope(
    api: TestClient, engine: Engine, client: dict[str, Any]
) -> None:
    with engine.begin() as conn:
        conn.execute(update(oauth_clients).values(scopes="other.scope"))
    response = api.post("/token", content=body_for(client), headers=FORM)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


@pytest.fixture
def shop(engine: Engine, settings: Settings, client: dict[str, Any]) -> dict[str, Any]:
    """A client of company 1001 holding the export scope and ``orders.write``, not ``fulfil``."""
    return create_client(
        engine,
        settings,
        name="shop",
        company_ref_ids=[1001],
        scopes=[EXPORT_SCOPE, ORDERS_WRITE_SCOPE],
    )


def ask(api: TestClient, client: dict[str, Any], scope: str | None) -> httpx.Response:
    form = {
        "client_id": client["client_id"],
        "client_secret": client["client_secret"],
        "grant_type": "client_credentials",
    }
    if scope is not None:
        form["scope"] = scope
    return api.post("/token", data=form)


@pytest.mark.parametrize(
    ("scope", "granted"),
    [
        pytest.param(ORDERS_WRITE_SCOPE, ORDERS_WRITE_SCOPE, id="orders-write"),
        pytest.param(
            f"{ORDERS_WRITE_SCOPE} {EXPORT_SCOPE}",
            f"{EXPORT_SCOPE} {ORDERS_WRITE_SCOPE}",
            id="space-separated",
        ),
        pytest.param(None, f"{EXPORT_SCOPE} {ORDERS_WRITE_SCOPE}", id="omitted-means-all-held"),
    ],
)
def test_a_token_carries_the_order_scopes_the_client_holds(
    api: TestClient, engine: Engine, shop: dict[str, Any], scope: str | None, granted: str
) -> None:
    response = ask(api, shop, scope)
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == granted
    principal = resolve_token(engine, response.json()["access_token"])
    assert principal.scopes == frozenset(granted.split())


@pytest.mark.parametrize(
    ("holder", "scope"),
    [
        pytest.param("client", ORDERS_WRITE_SCOPE, id="export-only-client-asks-orders-write"),
        pytest.param("shop", ORDERS_FULFIL_SCOPE, id="shop-asks-orders-fulfil"),
        pytest.param("shop", f"{ORDERS_WRITE_SCOPE} {ORDERS_FULFIL_SCOPE}", id="one-not-held"),
        pytest.param("shop", "orders.read", id="unknown"),
    ],
)
def test_an_order_scope_the_client_does_not_hold_is_invalid_scope(
    api: TestClient,
    engine: Engine,
    client: dict[str, Any],
    shop: dict[str, Any],
    holder: str,
    scope: str,
) -> None:
    response = ask(api, {"client": client, "shop": shop}[holder], scope)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"
    assert response.json()["error_description"]
    assert response.headers["cache-control"] == "no-store"


def _failures(api: TestClient, engine: Engine, client: dict[str, Any], **kw: Any) -> list[Any]:
    """The answers to an unknown client, a wrong secret and a revoked client, in that order."""
    unknown = {**client, "client_id": "no-such-client-id-at-all"}
    wrong = {**client, "client_secret": client["client_secret"] + "x"}

    def post(c: dict[str, Any]) -> Any:
        if kw.get("basic"):
            return api.post(
                "/token",
                content=b"grant_type=client_credentials",
                headers=FORM,
                auth=(c["client_id"], c["client_secret"]),
            )
        return api.post("/token", content=body_for(c), headers=FORM)

    answers = [post(unknown), post(wrong)]
    revoke_client(engine, client["client_id"])
    answers.append(post(client))
    return [(r.status_code, r.content, sorted(r.headers.items())) for r in answers]


def test_unknown_wrong_secret_and_revoked_answer_byte_identically(
    api: TestClient, engine: Engine, client: dict[str, Any]
) -> None:
    answers = _failures(api, engine, client)
    assert answers[0] == answers[1] == answers[2]
    status, content, headers = answers[0]
    assert status == 401
    assert b'"error":"invalid_client"' in content
    assert "www-authenticate" not in dict(headers)


def test_a_nul_in_the_credentials_is_an_unknown_client_on_every_store(
    api: TestClient, client: dict[str, Any]
) -> None:
    """PostgreSQL cannot look up a NUL: the request must never reach it (it was a 500)."""
    for body in (
        body_for({**client, "client_id": client["client_id"] + "%00"}),
        body_for(client, secret="%00"),
    ):
        response = api.post("/token", content=body, headers=FORM)
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"


def test_failed_basic_authentication_answers_www_authenticate_basic(
    api: TestClient, engine: Engine, client: dict[str, Any]
) -> None:
    answers = _failures(api, engine, client, basic=True)
    assert answers[0] == answers[1] == answers[2]
    status, _content, headers = answers[0]
    assert status == 401
    assert dict(headers)["www-authenticate"].startswith("Basic")


def test_malformed_basic_answers_invalid_client_with_www_authenticate(api: TestClient) -> None:
    response = api.post(
        "/token",
        content=b"grant_type=client_credentials",
        headers={**FORM, "Authorization": "Basic !!!"},
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic")


def test_failures_are_throttled_per_address_and_the_right_secret_always_gets_through(
    api: TestClient, client: dict[str, Any], clock: FakeClock
) -> None:
    """The limit is 3 failures a minute per source address (the ``api`` fixture)."""
    wrong = body_for(client, secret="guess")
    guesser = api.from_address("203.0.113.7")
    assert [guesser.post("/token", content=wrong, headers=FORM).status_code for _ in range(3)] == [
        401,
        401,
        401,
    ]
    blocked = guesser.post("/token", content=wrong, headers=FORM)
    assert blocked.status_code == 429
    assert blocked.json()["error"] == "rate_limited"
    assert "address" in blocked.json()["error_description"]
    assert 1 <= int(blocked.headers["retry-after"]) <= 60
    assert blocked.headers["cache-control"] == "no-store"
    # The guessed client still gets its tokens, from the guesser's address and from its own.
    assert guesser.post("/token", content=body_for(client), headers=FORM).status_code == 200
    owner = api.from_address("198.51.100.20")
    assert owner.post("/token", content=body_for(client), headers=FORM).status_code == 200
    # Another address's failures are its own: a 401, not the guesser's 429.
    assert owner.post("/token", content=wrong, headers=FORM).status_code == 401
    # Refused failures are not counted, so the window ends a minute after the first failures.
    clock.now += 61
    assert guesser.post("/token", content=wrong, headers=FORM).status_code == 401


def test_failures_from_one_ipv6_host_add_up_over_its_64(
    api: TestClient, client: dict[str, Any]
) -> None:
    wrong = body_for(client, secret="guess")
    hosts = [api.from_address(f"2001:db8:1:2::{n}") for n in range(1, 5)]
    assert [h.post("/token", content=wrong, headers=FORM).status_code for h in hosts] == [
        401,
        401,
        401,
        429,
    ]
    neighbour = api.from_address("2001:db8:1:3::1")
    assert neighbour.post("/token", content=wrong, headers=FORM).status_code == 401


def test_successful_requests_do_not_count_against_the_limit(
    api: TestClient, client: dict[str, Any]
) -> None:
    codes = {
        api.post("/token", content=body_for(client), headers=FORM).status_code for _ in range(5)
    }
    assert codes == {200}


def test_secrets_and_tokens_never_reach_the_log(
    api: TestClient, client: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        ok = api.post("/token", content=body_for(client), headers=FORM)
        api.post("/token", content=body_for(client, secret="wrong-guess-xyz"), headers=FORM)
    assert ok.status_code == 200
    assert client["client_secret"] not in caplog.text
    assert ok.json()["access_token"] not in caplog.text
    assert "wrong-guess-xyz" not in caplog.text


def test_create_app_serves_the_token_route(
    settings: Settings, engine: Engine, client: dict[str, Any]
) -> None:
    with whole_service(settings, engine) as service:
        response = service.post("/token", content=body_for(client), headers=FORM)
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"


def test_an_internal_error_on_token_is_a_500_that_is_never_stored(tmp_path: Path) -> None:
    """A database without its tables: the failure no handler expects, answered as JSON 500."""
    bare = Settings(database_url=f"sqlite:///{tmp_path / 'empty.db'}", secret_key="k")
    engine = make_engine(bare)
    try:
        with whole_service(bare, engine) as service:
            response = service.post(
                "/token", content=body_for({"client_id": "a", "client_secret": "b"}), headers=FORM
            )
    finally:
        engine.dispose()
    assert response.status_code == 500
    assert response.json()["error"] == "server_error"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"


def test_get_on_token_is_405_json(api: TestClient) -> None:
    response = api.get("/token")
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"
    assert response.headers["cache-control"] == "no-store"


def test_openapi_documents_the_form_body_and_answers(api: TestClient) -> None:
    operation = api.get("/openapi.json").json()["paths"]["/token"]["post"]
    form = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert form["properties"]["grant_type"]["enum"] == ["client_credentials"]
    assert {"scope", "client_id", "client_secret"} <= set(form["properties"])
    assert {"200", "400", "401", "429", "503"} <= set(operation["responses"])
    assert "address" in operation["responses"]["429"]["description"]
    assert "busy" in operation["responses"]["503"]["description"]
