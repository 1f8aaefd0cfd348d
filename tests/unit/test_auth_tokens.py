"""Issuing tokens to clients and resolving them back to the caller."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select, update

from oms_export.auth.clients import create_client, revoke_client, rotate_secret
from oms_export.auth.grant import TokenRequest
from oms_export.auth.principal import CompanyGrant
from oms_export.auth.scopes import EXPORT_SCOPE
from oms_export.auth.tokens import issue_token, resolve_token
from oms_export.db.schema import access_tokens, companies, oauth_clients
from oms_export.errors import InvalidClient, InvalidScope, InvalidToken
from oms_export.settings import Settings

T0 = datetime(2024, 5, 1, 12, 0, 0)


@pytest.fixture
def client(engine: Engine, settings: Settings) -> dict[str, Any]:
    with engine.begin() as conn:
        conn.execute(
            insert(companies),
            [
                {"ref_id": 1001, "name": "Acme", "subscription": "order_manager"},
                {"ref_id": 1002, "name": "Free Co", "subscription": "free"},
                {"ref_id": 1003, "name": "Other", "subscription": "enterprise"},
            ],
        )
    return create_client(engine, settings, name="reporting", company_ref_ids=[1002, 1001])


def grant(
    client: dict[str, Any],
    *,
    secret: str | None = None,
    scopes: tuple[str, ...] | None = None,
    basic: bool = False,
) -> TokenRequest:
    secret = client["client_secret"] if secret is None else secret
    return TokenRequest(client["client_id"], secret, scopes, used_basic=basic)


def token_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(access_tokens)).scalar_one())


def test_issued_token_resolves_to_the_client_and_its_companies(
    engine: Engine, settings: Settings, client: dict[str, Any]
) -> None:
    issued = issue_token(engine, settings, grant(client, scopes=(EXPORT_SCOPE,)), now=T0)
    assert issued["token_type"] == "Bearer"
    assert issued["expires_in"] == 3600
    assert issued["scope"] == EXPORT_SCOPE
    principal = resolve_token(engine, issued["access_token"], now=T0)
    assert principal.client_id == client["client_id"]
    assert principal.scopes == frozenset({EXPORT_SCOPE})
    with engine.connect() as conn:
        client_pk = conn.execute(select(oauth_clients.c.id)).scalar_one()
        ids = dict(conn.execute(select(companies.c.ref_id, companies.c.id)).tuples().all())
    assert principal.client_pk == client_pk
    assert principal.companies == (
        CompanyGrant(id=ids[1001], ref_id=1001, subscription="order_manager"),
        CompanyGrant(id=ids[1002], ref_id=1002, subscription="free"),
    )


def test_only_the_sha256_of_a_token_is_stored(
    engine: Engine, settings: Settings, client: dict[str, Any]
) -> None:
    token = issue_token(engine, settings, grant(client), now=T0)["access_token"]
    with engine.connect() as conn:
        row = conn.execute(select(access_tokens)).one()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in tuple(str(value) for value in row)
    assert len(token) >= 43


def test_omitted_scope_grants_every_scope_the_client_holds(
    engine: Engine, settings: Settings, client: dict[str, Any]
) -> None:
    issued = issue_token(engine, settings, grant(client, scopes=None), now=T0)
    assert issued["scope"] == EXPORT_SCOPE
    assert resolve_token(engine, issued["access_token"], now=T0).scopes == {EXPORT_SCOPE}


def test_a_scope_the_client_does_not_hold_is_invalid_scope(
    engine: Engine, settings: Settings, client: dict[str, Any]
) -> None:
    with engine.begin() as conn:
        conn.execute(update(oauth_clients).values(scopes="some.other-scope"))
    with pytest.raises(InvalidScope, match=EXPORT_SCOPE):
        issue_token(engine, settings, grant(client, scopes=(EXPORT_SCOPE,)), now=T0)
    assert token_rows(engine) == 0


def test_unknown_client_wrong_secret_and_revoked_client_fail_identically(
    engine: Engine, settings: Settings, client: dict[str, Any]
) -> None:
    unknown = {"client_id": "no-such-client", "client_secret": client["client_secret"]}
    failures: list[tuple[type[Exception], str, bool]] = []
    for request in (grant(unknown), grant(client, secret=client["client_secret"] + "x")):
        with pytest.raises(InvalidClient) as raised:
            issue_token(engine, settings, request, now=T0)
        failures.append((type(raised.value), raised.value.description, raised.value.basic))
    revoke_client(engine, client["client_id"])
    with pytest.raises(InvalidClient) as raised:
        issue_token(engine, settings, grant(client), now=T0)
    failures.append((type(raised.value), raised.value.description, raised.value.basic))
    assert failures == [(InvalidClient, "Client authentication failed.", False)] * 3
    assert token_rows(engine) == 0


def test_failed_basic_authentication_is_flagged_for_www_authenticate(
    engine: Engine, settings: Settings, client: dict[str, Any]
) -> None:
    with pytest.raises(InvalidClient) as raised:
        issue_token(engine, settings, grant(client, secret="wrong", basic=True), now=T0)
    assert raised.value.basic is True


def test_token_lifetime_follows_the_setting_and_ends_exactly_at_expiry(
    engine: Engine, settings: Settings, client: dict[str, Any]
) -> None:
    short = settings.with_changes(token_ttl_seconds=60)
    issued = issue_token(engine, short, grant(client), now=T0)
    assert issued["expires_in"] == 60
    token = issued["access_token"]
    assert resolve_token(engine, token, now=T0 + timedelta(seconds=59)).client_id
    with pytest.raises(InvalidToken, match="expired"):
        resolve_token(engine, token, now=T0 + timedelta(seconds=60))


def test_issuing_deletes_expired_tokens(
    engine: Engine, settings: Settings, client: dict[str, Any]
) -> None:
    issue_token(engine, settings, grant(client), now=T0)
    issue_token(engine, settings, grant(client), now=T0 + timedelta(seconds=10))
    assert token_rows(engine) == 2
    issue_token(engine, settings, grant(client), now=T0 + timedelta(seconds=3605))
    assert token_rows(engine) == 2
    issue_token(engine, settings, grant(client), now=T0 + timedelta(hours=3))
    assert token_rows(engine) == 1


def test_an_unknown_token_is_invalid(engine: Engine, client: dict[str, Any]) -> None:
    with pytest.raises(InvalidToken, match="not valid"):
        resolve_token(engine, "not-a-token", now=T0)


def test_revoking_a_client_kills_its_tokens_at_once(
    engine: Engine, settings: Settings, client: dict[str, Any]
) -> None:
    token = issue_token(engine, settings, grant(client), now=T0)["access_token"]
    revoke_client(engine, client["client_id"])
    with pytest.raises(InvalidToken):
        resolve_token(engine, token, now=T0)
    assert token_rows(engine) == 0


def test_a_token_left_over_for_a_revoked_client_is_refused(
    engine: Engine, settings: Settings, client: dict[str, Any]
) -> None:
    # A token issued while revocation commits can outlive the delete; the join still refuses it.
    token = issue_token(engine, settings, grant(client), now=T0)["access_token"]
    with engine.begin() as conn:
        conn.execute(update(oauth_clients).values(revoked=True))
    with pytest.raises(InvalidToken, match="revoked"):
        resolve_token(engine, token, now=T0)


def test_rotation_kills_the_old_secret_and_its_tokens_only(
    engine: Engine, settings: Settings, client: dict[str, Any]
) -> None:
    other = create_client(engine, settings, name="other", company_ref_ids=[1003])
    old_token = issue_token(engine, settings, grant(client), now=T0)["access_token"]
    other_token = issue_token(engine, settings, grant(other), now=T0)["access_token"]
    rotated = rotate_secret(engine, settings, client["client_id"])
    with pytest.raises(InvalidToken):
        resolve_token(engine, old_token, now=T0)
    with pytest.raises(InvalidClient):
        issue_token(engine, settings, grant(client), now=T0)
    new_token = issue_token(engine, settings, grant(rotated), now=T0)["access_token"]
    assert resolve_token(engine, new_token, now=T0).client_id == client["client_id"]
    assert resolve_token(engine, other_token, now=T0).client_id == other["client_id"]


def test_tokens_work_under_the_database_kept_key(
    engine: Engine, settings: Settings, client: dict[str, Any]
) -> None:
    keyless = settings.with_changes(secret_key="")
    created = create_client(engine, keyless, name="keyless", company_ref_ids=[1001])
    token = issue_token(engine, keyless, grant(created), now=T0)["access_token"]
    assert resolve_token(engine, token, now=T0).client_id == created["client_id"]
    with pytest.raises(InvalidClient):
        issue_token(engine, settings, grant(created), now=T0)
