"""Storage of OAuth clients: create, list, revoke, rotate a secret.

A client's secret is returned once, by ``create_client`` or ``rotate_secret``, and never stored:
only its keyed hash is (``auth/secrets.py``). Revoking a client or rotating its secret deletes its
access tokens in the same transaction, so they stop working at once, on every node.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from oms_export.auth.scopes import DEFAULT_SCOPES, KNOWN_SCOPES
from oms_export.auth.secrets import hash_secret, new_client_id, new_client_secret, server_key
from oms_export.db.engine import writer
from oms_export.db.schema import access_tokens, client_companies, companies, oauth_clients
from oms_export.errors import InvalidRequest
from oms_export.settings import Settings


class UnknownClientError(LookupError):
    """No client has the given client id."""

    def __init__(self, client_id: str) -> None:
        super().__init__(f"No client with id {client_id!r}; `oms-export clients list` shows them.")
        self.client_id = client_id


def create_client(
    engine: Engine,
    settings: Settings,
    *,
    name: str,
    company_ref_ids: Sequence[int],
    scopes: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Create a client tied to existing companies; the only time its secret is shown.

    ``scopes`` defaults to the export scope alone (API.md §6.1): a client may write or fulfil
    orders only when its creator says so.
    """
    name = name.strip()
    if not name:
        raise InvalidRequest("A client needs a non-empty name.", parameter="name")
    ref_ids = list(dict.fromkeys(company_ref_ids))
    if not ref_ids:
        raise InvalidRequest("A client needs at least one company.", parameter="company")
    granted = _checked_scopes(scopes)
    key = server_key(engine, settings)
    client_id, secret = new_client_id(), new_client_secret()
    with writer(engine).begin() as conn:
        company_ids = _company_ids(conn, ref_ids)
        client_pk = conn.execute(
            insert(oauth_clients)
            .values(
                client_id=client_id,
                name=name,
                secret_hash=hash_secret(key, secret),
                scopes=" ".join(granted),
                revoked=False,
                created_at=_utcnow(),
            )
            .returning(oauth_clients.c.id)
        ).scalar_one()
        conn.execute(
            insert(client_companies),
            [{"client_pk": client_pk, "company_id": company_id} for company_id in company_ids],
        )
    return {
        "client_id": client_id,
        "client_secret": secret,
        "name": name,
        "companies": ref_ids,
        "scopes": granted,
    }


def list_clients(engine: Engine) -> list[dict[str, Any]]:
    """Every client, oldest first, with its companies' ref ids; never a secret or its hash."""
    with engine.connect() as conn:
        clients = conn.execute(
            select(
                oauth_clients.c.id,
                oauth_clients.c.client_id,
                oauth_clients.c.name,
                oauth_clients.c.scopes,
                oauth_clients.c.revoked,
                oauth_clients.c.created_at,
            ).order_by(oauth_clients.c.id)
        ).all()
        links = conn.execute(
            select(client_companies.c.client_pk, companies.c.ref_id)
            .join(companies, companies.c.id == client_companies.c.company_id)
            .order_by(companies.c.ref_id)
        ).all()
    refs: dict[int, list[int]] = {}
    for client_pk, ref_id in links:
        refs.setdefault(client_pk, []).append(ref_id)
    return [
        {
            "client_id": row.client_id,
            "name": row.name,
            "companies": refs.get(row.id, []),
            "scopes": row.scopes.split(),
            "revoked": bool(row.revoked),
            "created_at": row.created_at,
        }
        for row in clients
    ]


def revoke_client(engine: Engine, client_id: str) -> None:
    """Revoke a client for good and delete its tokens; revoking twice is harmless."""
    with writer(engine).begin() as conn:
        client_pk = _client_pk(conn, client_id)
        conn.execute(
            update(oauth_clients).where(oauth_clients.c.id == client_pk).values(revoked=True)
        )
        conn.execute(delete(access_tokens).where(access_tokens.c.client_pk == client_pk))


def rotate_secret(engine: Engine, settings: Settings, client_id: str) -> dict[str, Any]:
    """Give a client a new secret; the old secret and every token issued under it stop working."""
    key = server_key(engine, settings)
    secret = new_client_secret()
    with writer(engine).begin() as conn:
        row = conn.execute(
            select(oauth_clients.c.id, oauth_clients.c.revoked).where(
                oauth_clients.c.client_id == client_id
            )
        ).first()
        if row is None:
            raise UnknownClientError(client_id)
        if row.revoked:
            raise InvalidRequest(
                f"Client {client_id!r} is revoked; create a new client instead.",
                parameter="client_id",
            )
        conn.execute(
            update(oauth_clients)
            .where(oauth_clients.c.id == row.id)
            .values(secret_hash=hash_secret(key, secret))
        )
        conn.execute(delete(access_tokens).where(access_tokens.c.client_pk == row.id))
    return {"client_id": client_id, "client_secret": secret}


def _checked_scopes(scopes: Sequence[str] | None) -> list[str]:
    if scopes is None:
        return sorted(DEFAULT_SCOPES)
    wanted = sorted(set(scopes))
    if not wanted:
        raise InvalidRequest(
            "Give at least one scope, or none for the default (the export scope alone).",
            parameter="scope",
        )
    unknown = [scope for scope in wanted if scope not in KNOWN_SCOPES]
    if unknown:
        raise InvalidRequest(
            f"Unknown scope(s): {', '.join(unknown)}; known: {', '.join(sorted(KNOWN_SCOPES))}.",
            parameter="scope",
        )
    return wanted


def _company_ids(conn: Connection, ref_ids: list[int]) -> list[int]:
    rows = conn.execute(
        select(companies.c.ref_id, companies.c.id).where(companies.c.ref_id.in_(ref_ids))
    )
    found = dict(rows.tuples().all())  # .all(): a Result has keys(), so dict() would misread it
    missing = [str(ref_id) for ref_id in ref_ids if ref_id not in found]
    if missing:
        raise InvalidRequest(
            f"Unknown company ref id(s): {', '.join(missing)}; "
            "add them first with `oms-export companies add`.",
            parameter="company",
        )
    return [found[ref_id] for ref_id in ref_ids]


def _client_pk(conn: Connection, client_id: str) -> int:
    pk = conn.execute(
        select(oauth_clients.c.id).where(oauth_clients.c.client_id == client_id)
    ).scalar_one_or_none()
    if pk is None:
        raise UnknownClientError(client_id)
    return int(pk)


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
