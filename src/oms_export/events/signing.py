"""The ``OMS-Signature`` header of API.md §7, and the secrets it is made with.

Stripe's scheme: the receiver recomputes an HMAC-SHA256 of ``"{t}.{body}"`` under the secret it
was given and compares; ``t`` (Unix seconds, also in the header) lets it refuse replays older
than a few minutes. Each receiving company has its own secret, made on first use, so a secret
never has to be set up before the first event is sent.

Example::

    signature(b"k3y", 1700000000, '{"id":1}')
    # 't=1700000000,v1=<64 hex digits>'
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import ColumnElement, Connection, Engine, select, update

from oms_export.db.engine import writer
from oms_export.db.schema import companies
from oms_export.errors import InvalidRequest

SECRET_BYTES = 32
"""Random bytes of a callback secret (256 bits), written as URL-safe base64 text."""


def signature(secret: str | bytes, timestamp: int, body: str | bytes) -> str:
    """The ``OMS-Signature`` value for ``body`` sent at ``timestamp`` (Unix seconds)."""
    key = secret.encode() if isinstance(secret, str) else secret
    payload = body.encode() if isinstance(body, str) else body
    digest = hmac.new(key, b"%d." % timestamp + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def callback_secret(engine: Engine, ref_id: int, *, rotate: bool = False) -> str:
    """The secret events to company ``ref_id`` are signed with, made now if it has none.

    ``rotate`` replaces it: from the next attempt on, receivers must check with the new one.
    """
    with writer(engine).begin() as conn:
        found = _ensure(conn, companies.c.ref_id == ref_id, rotate=rotate)
    if found is None:
        raise InvalidRequest(
            f"No company with ref id {ref_id}; `oms-export companies list` shows them.",
            parameter="ref_id",
        )
    return found


def secret_for(conn: Connection, company_id: int) -> str:
    """The secret of the company with internal id ``company_id``, made now if it has none;
    for a worker, inside its claiming transaction."""
    found = _ensure(conn, companies.c.id == company_id, rotate=False)
    if found is None:
        raise LookupError(f"no company with id {company_id}")
    return found


def _ensure(conn: Connection, which: ColumnElement[bool], *, rotate: bool) -> str | None:
    # Only a missing secret is filled in, so two first uses at once agree on one secret:
    # the second update finds it set (PostgreSQL re-reads the row once the first commits).
    fill = update(companies).where(which).values(callback_secret=new_secret())
    conn.execute(fill if rotate else fill.where(companies.c.callback_secret.is_(None)))
    found = conn.execute(select(companies.c.callback_secret).where(which)).scalar()
    return None if found is None else str(found)
