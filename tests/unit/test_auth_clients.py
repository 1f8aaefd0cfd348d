"""Storage of OAuth clients: what is kept of them, and what is refused."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import Engine, insert, select

from oms_export.auth.clients import (
    UnknownClientError,
    create_client,
    list_clients,
    revoke_client,
    rotate_secret,
)
from oms_export.auth.scopes import (
    EXPORT_SCOPE,
    KNOWN_SCOPES,
    ORDERS_FULFIL_SCOPE,
    ORDERS_WRITE_SCOPE,
)
from oms_export.auth.secrets import hash_secret
from oms_export.db.schema import client_companies, companies, oauth_clients
from oms_export.errors import InvalidRequest
from oms_export.settings import Settings


@pytest.fixture
def company_refs(engine: Engine) -> list[int]:
    with engine.begin() as conn:
        conn.execute(
            insert(companies),
            [
                {"ref_id": 1001, "name": "Acme Prints", "subscription": "order_manager"},
                {"ref_id": 1002, "name": "Free Co", "subscription": "free"},
            ],
        )
    return [1001, 1002]


def test_create_client_returns_its_secret_once_and_stores_only_a_keyed_hash(
    engine: Engine, settings: Settings, company_refs: list[int]
) -> None:
    created = create_client(engine, settings, name="reporting", company_ref_ids=company_refs)
    assert created["name"] == "reporting"
    assert created["companies"] == [1001, 1002]
    assert created["scopes"] == [EXPORT_SCOPE]
    with engine.connect() as conn:
        row = conn.execute(select(oauth_clients)).one()
        linked = conn.execute(
            select(companies.c.ref_id)
            .join(client_companies, client_companies.c.company_id == companies.c.id)
            .order_by(companies.c.ref_id)
        ).scalars()
        assert list(linked) == [1001, 1002]
    assert row.client_id == created["client_id"]
    assert row.secret_hash == hash_secret(settings.secret_key.encode(), created["client_secret"])
    assert created["client_secret"] not in tuple(str(value) for value in row)
    assert row.revoked is False


def test_a_client_gets_the_export_scope_alone_unless_told_otherwise(
    engine: Engine, settings: Settings, company_refs: list[int]
) -> None:
    """API.md §6.1: writing or fulfilling orders is granted only when asked for."""
    plain = create_client(engine, settings, name="reporting", company_ref_ids=[1001])
    shop = create_client(
        engine,
        settings,
        name="shop",
        company_ref_ids=[1001],
        scopes=[ORDERS_WRITE_SCOPE, EXPORT_SCOPE, ORDERS_WRITE_SCOPE],
    )
    every = create_client(
        engine, settings, name="all", company_ref_ids=[1002], scopes=list(KNOWN_SCOPES)
    )
    assert plain["scopes"] == [EXPORT_SCOPE]
    assert shop["scopes"] == [EXPORT_SCOPE, ORDERS_WRITE_SCOPE]
    assert every["scopes"] == [EXPORT_SCOPE, ORDERS_FULFIL_SCOPE, ORDERS_WRITE_SCOPE]
    assert [c["scopes"] for c in list_clients(engine)] == [
        plain["scopes"],
        shop["scopes"],
        every["scopes"],
    ]


def test_an_unknown_scope_is_refused_with_the_known_ones(
    engine: Engine, settings: Settings, company_refs: list[int]
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        create_client(engine, settings, name="x", company_ref_ids=[1001], scopes=["orders.read"])
    message = str(refused.value)
    assert "orders.read" in message
    assert all(scope in message for scope in KNOWN_SCOPES)
    assert list_clients(engine) == []


def test_create_client_with_unknown_company_names_it_and_stores_nothing(
    engine: Engine, settings: Settings, company_refs: list[int]
) -> None:
    with pytest.raises(InvalidRequest, match=r"Unknown company ref id\(s\): 4242, 4343"):
        create_client(engine, settings, name="x", company_ref_ids=[1001, 4242, 4343])
    assert list_clients(engine) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"company_ref_ids": []}, "at least one company", id="no-company"),
        pytest.param({"scopes": ["admin"]}, "Unknown scope", id="unknown-scope"),
        pytest.param({"scopes": []}, "at least one scope", id="empty-scopes"),
        pytest.param({"name": "  "}, "non-empty name", id="blank-name"),
    ],
)
def test_create_client_refuses_bad_input(
    engine: Engine,
    settings: Settings,
    company_refs: list[int],
    kwargs: dict[str, object],
    message: str,
) -> None:
    arguments: dict[str, object] = {"name": "x", "company_ref_ids": [1001], **kwargs}
    with pytest.raises(InvalidRequest, match=message):
        create_client(engine, settings, **arguments)  # type: ignore[arg-type]
    assert list_clients(engine) == []


def test_list_clients_shows_companies_scopes_and_revocation_but_no_secret(
    engine: Engine, settings: Settings, company_refs: list[int]
) -> None:
    first = create_client(engine, settings, name="a", company_ref_ids=[1002, 1001])
    second = create_client(
        engine, settings, name="b", company_ref_ids=[1001], scopes=[EXPORT_SCOPE]
    )
    revoke_client(engine, second["client_id"])
    listed = list_clients(engine)
    assert [(c["client_id"], c["companies"], c["revoked"]) for c in listed] == [
        (first["client_id"], [1001, 1002], False),
        (second["client_id"], [1001], True),
    ]
    assert all(c["scopes"] == [EXPORT_SCOPE] for c in listed)
    assert all(isinstance(c["created_at"], datetime) for c in listed)
    assert set(listed[0]) == {"client_id", "name", "companies", "scopes", "revoked", "created_at"}
    assert first["client_secret"] not in repr(listed)


def test_revoking_or_rotating_an_unknown_client_is_a_lookup_error(
    engine: Engine, settings: Settings
) -> None:
    with pytest.raises(UnknownClientError, match="nope"):
        revoke_client(engine, "nope")
    with pytest.raises(LookupError, match="nope"):
        rotate_secret(engine, settings, "nope")


def test_rotating_a_revoked_client_is_refused(
    engine: Engine, settings: Settings, company_refs: list[int]
) -> None:
    created = create_client(engine, settings, name="a", company_ref_ids=[1001])
    revoke_client(engine, created["client_id"])
    with pytest.raises(InvalidRequest, match="revoked"):
        rotate_secret(engine, settings, created["client_id"])


def test_rotate_secret_replaces_the_stored_hash(
    engine: Engine, settings: Settings, company_refs: list[int]
) -> None:
    created = create_client(engine, settings, name="a", company_ref_ids=[1001])
    rotated = rotate_secret(engine, settings, created["client_id"])
    assert rotated["client_id"] == created["client_id"]
    assert rotated["client_secret"] != created["client_secret"]
    with engine.connect() as conn:
        stored = conn.execute(select(oauth_clients.c.secret_hash)).scalar_one()
    assert stored == hash_secret(settings.secret_key.encode(), rotated["client_secret"])
