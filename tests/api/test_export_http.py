"""The export over real HTTP: the article's walk-through, errors as a client sees them, and
an attacker's attempts to see what is not theirs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import httpx
import orjson
import pytest
from sqlalchemy import Engine, insert

from oms_export.auth.clients import create_client, revoke_client
from oms_export.auth.tokens import token_hash
from oms_export.db.schema import access_tokens, oauth_clients
from oms_export.export.fields import field_names
from oms_export.settings import Settings
from tests import factories as f
from tests.live import LiveServer

PATH = "/export-api/order-item-details"
SCOPE = "export-api.order-item-details"


@pytest.fixture
def store(engine: Engine) -> Engine:
    acme = f.company(engine, 1001, "order_manager", name="Acme Prints")
    drop = f.company(engine, 2001, "enterprise", name="Drop Co")
    f.company(engine, 3001, "free", name="Free Co")
    rival = f.company(engine, 4001, "enterprise", name="Rival")
    f.order(
        engine,
        acme,
        "A-1",
        status=8,
        completion_datetime=f.utc("2020-03-06 12:00:01"),
        secondary_company_id=drop,
        attributes={"channel": "web"},
        items=[{"sku": "TS", "quantity": 2, "status": 3}, {"sku": "MUG", "quantity": 1}],
    )
    f.order(engine, acme, "A-2", status=516, completion_datetime=f.utc("2020-03-06 11:00:00"))
    f.order(engine, acme, "A-3", status=1)
    f.order(
        engine,
        rival,
        "R-1",
        status=8,
        completion_datetime=f.utc("2021-01-01 00:00:00"),
        items=[{"sku": "SECRET", "quantity": 1}],
    )
    return engine  # fmt: skip


def credentials(engine: Engine, settings: Settings, *refs: int) -> tuple[str, str]:
    client = create_client(engine, settings, name="reporting", company_ref_ids=list(refs))
    return client["client_id"], client["client_secret"]


def token_for(http: httpx.Client, client_id: str, client_secret: str) -> str:
    body = (
        f"client_id={client_id}&client_secret={client_secret}"
        f"&grant_type=client_credentials&scope={SCOPE}"
    )
    response = http.post(
        "/token", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


@pytest.fixture
def acme_token(store: Engine, settings: Settings, http: httpx.Client) -> str:
    return token_for(http, *credentials(store, settings, 1001, 3001))


def export(http: httpx.Client, token: str, query: str = "") -> httpx.Response:
    return http.get(
        f"{PATH}?{query}" if query else PATH, headers={"Authorization": f"Bearer {token}"}
    )


def test_the_articles_walk_through_returns_the_filtered_rows(
    http: httpx.Client, acme_token: str
) -> None:
    response = export(
        http,
        acme_token,
        "filter[status:in]=8,516&filter[completion_datetime:gt]=2020-03-06%2012:00:00",
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    rows = response.json()
    assert [(r["external_ref"], r["items__sku"]) for r in rows] == [("A-1", "TS"), ("A-1", "MUG")]
    assert all(list(r) == list(field_names(frozenset())) for r in rows)


def test_the_response_streams_without_a_content_length(http: httpx.Client, acme_token: str) -> None:
    with http.stream("GET", PATH, headers={"Authorization": f"Bearer {acme_token}"}) as response:
        assert response.headers.get("transfer-encoding") == "chunked"
        assert "content-length" not in response.headers
        body = response.read()
    assert [r["external_ref"] for r in orjson.loads(body)] == ["A-1", "A-1", "A-2", "A-3"]


def test_companies_that_may_not_export_are_named_in_a_header(
    http: httpx.Client, acme_token: str
) -> None:
    response = export(http, acme_token)
    assert response.headers["export-excluded-companies"] == "3001"


def test_a_dropshipper_sees_the_orders_it_fulfils(
    store: Engine, settings: Settings, http: httpx.Client
) -> None:
    token = token_for(http, *credentials(store, settings, 2001))
    response = export(http, token, "options[includeAttributes]=1")
    assert [(r["external_ref"], r["attributes__channel"]) for r in response.json()] == [
        ("A-1", "web"),
        ("A-1", "web"),
    ]
    assert "export-excluded-companies" not in response.headers


def test_a_client_of_free_companies_only_is_403_subscription_required(
    store: Engine, settings: Settings, http: httpx.Client
) -> None:
    token = token_for(http, *credentials(store, settings, 3001))
    response = export(http, token)
    assert response.status_code == 403
    assert response.json()["error"] == "subscription_required"


@pytest.mark.parametrize(
    ("query", "status", "error", "parameter"),
    [
        ("filter[status:in]=8,999", 400, "invalid_request", "filter[status:in]"),
        ("filter[colour]=red", 400, "invalid_request", "filter[colour]"),
        ("filter[completion_datetime:gt]=2020-03-06%2025:00:00", 400, "invalid_request", "filter[completion_datetime:gt]"),
        ("options[includeProductOwner]=yes", 400, "invalid_request", "options[includeProductOwner]"),
        ("options[includeAll]=1", 400, "invalid_request", "options[includeAll]"),
        ("access_token=abc", 400, "invalid_request", "access_token"),
        ("filter[company_ref_id]=4001", 403, "company_not_allowed", "filter[company_ref_id]"),
        ("filter[company_ref_id:in]=1001,4001", 403, "company_not_allowed", "filter[company_ref_id:in]"),
        ("filter[company_ref_id]=3001", 403, "subscription_required", "filter[company_ref_id]"),
    ],
)  # fmt: skip
def test_bad_requests_get_a_json_error_naming_the_parameter(
    http: httpx.Client, acme_token: str, query: str, status: int, error: str, parameter: str
) -> None:
    response = export(http, acme_token, query)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert (body["error"], body["parameter"]) == (error, parameter)
    assert parameter in body["error_description"]


@pytest.mark.parametrize(
    "query",
    [
        "filter[external_ref:in]=R-1",
        "filter[id:in]=4",
        "filter[ref]=O4",
        "filter[external_ref]=A-1'%20OR%20'1'='1",
        "filter[ref:in]=O1)%20OR%20(1=1",
        "filter[external_ref]=%00%ff%fe",
        "filter[status:in]=8&filter%5Bstatus%3Ain%5D=1",
    ],
)
def test_an_attacker_cannot_reach_another_companys_rows(
    http: httpx.Client, acme_token: str, query: str
) -> None:
    response = export(http, acme_token, query)
    assert response.status_code in (200, 400)
    if response.status_code == 200:
        assert {r["company_ref_id"] for r in response.json()} <= {1001}
        assert "SECRET" not in response.text
        assert "Rival" not in response.text


def test_a_huge_query_string_is_400_and_the_service_keeps_serving(
    http: httpx.Client, acme_token: str
) -> None:
    response = export(http, acme_token, "filter[external_ref:in]=" + ",".join(["x" * 10] * 900))
    assert response.status_code == 400
    assert "at most 8192" in response.json()["error_description"]
    assert export(http, acme_token).status_code == 200


@pytest.mark.parametrize(
    ("authorization", "description"),
    [
        ("Bearer nope", "not valid"),
        ("Basic abc", "Bearer <token>"),
        ("Bearer", "Bearer <token>"),
    ],
)
def test_bad_tokens_are_401_invalid_token(
    http: httpx.Client, store: Engine, authorization: str, description: str
) -> None:
    response = http.get(PATH, headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert description in response.json()["error_description"]
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_a_tampered_token_is_401(http: httpx.Client, acme_token: str) -> None:
    tampered = acme_token[:-1] + ("A" if acme_token[-1] != "A" else "B")
    assert export(http, tampered).status_code == 401


def test_revoking_a_client_ends_its_tokens_at_once(
    store: Engine, settings: Settings, http: httpx.Client
) -> None:
    client_id, secret = credentials(store, settings, 1001)
    token = token_for(http, client_id, secret)
    assert export(http, token).status_code == 200
    revoke_client(store, client_id)
    response = export(http, token)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


def test_an_expired_token_is_401(store: Engine, settings: Settings, http: httpx.Client) -> None:
    _insert_token(store, settings, "expired-token", SCOPE, datetime(2020, 1, 1))
    response = export(http, "expired-token")
    assert response.status_code == 401
    assert "expired" in response.json()["error_description"]


def test_a_token_without_the_export_scope_is_403_insufficient_scope(
    store: Engine, settings: Settings, http: httpx.Client
) -> None:
    _insert_token(store, settings, "scopeless-token", "", datetime(2999, 1, 1))
    response = export(http, "scopeless-token")
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"


def _insert_token(
    engine: Engine, settings: Settings, token: str, scopes: str, expires: datetime
) -> None:
    client_id, _ = credentials(engine, settings, 1001)
    with engine.begin() as conn:
        pk = conn.execute(
            oauth_clients.select().where(oauth_clients.c.client_id == client_id)
        ).first()
        assert pk is not None
        conn.execute(
            insert(access_tokens).values(
                token_hash=token_hash(token), client_pk=pk.id, scopes=scopes, expires_at=expires
            )
        )


@pytest.fixture
def limited_server(store: Engine, settings: Settings) -> Iterator[httpx.Client]:
    with (
        LiveServer(settings.with_changes(rate_limit_per_minute=2), store) as server,
        httpx.Client(base_url=server.url) as http,
    ):
        yield http


def test_the_rate_limit_answers_429_with_retry_after(
    store: Engine, settings: Settings, limited_server: httpx.Client
) -> None:
    token = token_for(limited_server, *credentials(store, settings, 1001))
    assert [export(limited_server, token).status_code for _ in range(2)] == [200, 200]
    response = export(limited_server, token)
    assert response.status_code == 429
    assert response.json()["error"] == "rate_limited"
    assert 0 < int(response.headers["retry-after"]) <= 60
