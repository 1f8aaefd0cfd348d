"""Issuing access tokens to authenticated clients, and resolving a bearer token to its caller.

Only ``sha256(token)`` is stored: a token is 32 random bytes, so a plain hash cannot be reversed,
and a copy of ``access_tokens`` holds nothing a caller could present. Tokens are checked against
the database on every request, which is what makes a revocation take effect at once on every node.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, insert, select

from oms_export.auth.grant import TokenRequest
from oms_export.auth.principal import CompanyGrant, Principal
from oms_export.auth.secrets import secrets_match, server_key
from oms_export.db.engine import writer
from oms_export.db.schema import access_tokens, client_companies, companies, oauth_clients
from oms_export.errors import InvalidClient, InvalidScope, InvalidToken
from oms_export.settings import Settings

TOKEN_TYPE = "Bearer"  # noqa: S105 - the RFC 6750 token type, not a secret
_NO_CLIENT_HASH = "0" * 64
"""Hashed against for an unknown client id, so that answer takes as long as a wrong secret."""


def token_hash(token: str) -> str:
    """What ``access_tokens`` stores for ``token``."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(
    engine: Engine,
    settings: Settings,
    grant: TokenRequest,
    *,
    now: datetime | None = None,
    admit: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Authenticate the client of ``grant`` and give it a new access token.

    An unknown client, a wrong secret and a revoked client raise the very same ``InvalidClient``,
    so the answer does not tell which client ids exist. Scopes not asked for default to every
    scope the client holds. ``admit(client_id)`` runs once the client is authenticated and
    before the token is stored; it may raise to refuse (the per-client issue limit).
    """
    now = now or _utcnow()
    key = server_key(engine, settings)
    with engine.connect() as conn:
        client = conn.execute(
            select(
                oauth_clients.c.id,
                oauth_clients.c.secret_hash,
                oauth_clients.c.scopes,
                oauth_clients.c.revoked,
            ).where(oauth_clients.c.client_id == grant.client_id)
        ).first()
    stored_hash = client.secret_hash if client is not None else _NO_CLIENT_HASH
    secret_ok = secrets_match(key, grant.client_secret, stored_hash)
    if client is None or not secret_ok or client.revoked:
        raise InvalidClient(basic=grant.used_basic)
    held = client.scopes.split()
    scopes = held if grant.scopes is None else sorted(grant.scopes)
    ungranted = [scope for scope in scopes if scope not in held]
    if ungranted:
        raise InvalidScope(
            f"The client does not hold the scope `{ungranted[0]}`.", parameter="scope"
        )
    if admit is not None:
        admit(grant.client_id)
    token = secrets.token_urlsafe(32)
    with writer(engine).begin() as conn:
        conn.execute(delete(access_tokens).where(access_tokens.c.expires_at <= now))
        conn.execute(
            insert(access_tokens).values(
                token_hash=token_hash(token),
                client_pk=client.id,
                scopes=" ".join(scopes),
                expires_at=now + timedelta(seconds=settings.token_ttl_seconds),
            )
        )
    return {
        "access_token": token,
        "token_type": TOKEN_TYPE,
        "expires_in": settings.token_ttl_seconds,
        "scope": " ".join(scopes),
    }


def resolve_token(engine: Engine, token: str, *, now: datetime | None = None) -> Principal:
    """The caller a bearer token stands for, in one indexed query; this runs on every export.

    Raises ``InvalidToken`` for an unknown or expired token, or one whose client is revoked.
    """
    now = now or _utcnow()
    query = (
        select(
            access_tokens.c.client_pk,
            access_tokens.c.scopes,
            access_tokens.c.expires_at,
            oauth_clients.c.client_id,
            oauth_clients.c.revoked,
            companies.c.id.label("company_id"),
            companies.c.ref_id,
            companies.c.subscription,
        )
        .select_from(
            access_tokens.join(oauth_clients, oauth_clients.c.id == access_tokens.c.client_pk)
            .outerjoin(client_companies, client_companies.c.client_pk == oauth_clients.c.id)
            .outerjoin(companies, companies.c.id == client_companies.c.company_id)
        )
        .where(access_tokens.c.token_hash == token_hash(token))
        .order_by(companies.c.ref_id)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    if not rows:
        raise InvalidToken("The access token is not valid; request a new one.")
    first = rows[0]
    if first.expires_at <= now:
        raise InvalidToken("The access token has expired; request a new one.")
    if first.revoked:
        raise InvalidToken("The client of this access token has been revoked.")
    return Principal(
        client_pk=first.client_pk,
        client_id=first.client_id,
        scopes=frozenset(first.scopes.split()),
        companies=tuple(
            CompanyGrant(id=row.company_id, ref_id=row.ref_id, subscription=row.subscription)
            for row in rows
            if row.company_id is not None
        ),
    )


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
