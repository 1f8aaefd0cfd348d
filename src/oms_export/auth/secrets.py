"""Client ids, client secrets, and the keyed hash that is all the store ever keeps of a secret.

A secret is hashed with HMAC-SHA256 under a server key, so a copy of ``oauth_clients`` alone
cannot be used to check guesses when the key lives elsewhere (``OMS_EXPORT_SECRET_KEY``).
Secrets are long and random, so one fast keyed hash is enough; no slow password hash is needed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import IntegrityError

from oms_export.db.engine import writer
from oms_export.db.schema import server_keys
from oms_export.settings import Settings

SECRET_HASH_KEY = "secret_hash_key"  # noqa: S105 - a row name, not a secret
"""Name of the row in ``server_keys`` holding the key when no ``secret_key`` setting is given."""

_ALPHABET = string.ascii_letters + string.digits
"""Letters and digits only: an id or secret starting with `-` would read as an option on a
command line, and `-`/`_` break double-click selection in terminals."""


def new_client_id() -> str:
    """A random public identifier, e.g. ``'q3Vh0oJx9pWm2D8e5sLk1AbC'`` (24 chars, 142 bits)."""
    return _random_string(24)


def new_client_secret() -> str:
    """48 random letters and digits: 285 bits (over 32 random bytes), safe in any URL or form."""
    return _random_string(48)


def _random_string(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def hash_secret(key: bytes, secret: str) -> str:
    """The keyed hash stored for ``secret``: HMAC-SHA256 under ``key``, as 64 hex chars."""
    return hmac.new(key, secret.encode("utf-8"), hashlib.sha256).hexdigest()


def secrets_match(key: bytes, secret: str, stored_hash: str) -> bool:
    """Whether ``secret`` hashes to ``stored_hash``, compared in constant time."""
    return hmac.compare_digest(hash_secret(key, secret), stored_hash)


def server_key(bind: Connection | Engine, settings: Settings) -> bytes:
    """The key secrets are hashed under.

    ``settings.secret_key`` when set; otherwise a random key made on first use and kept in
    ``server_keys``, so a one-machine install needs no configuration.
    """
    if settings.secret_key:
        return settings.secret_key.encode("utf-8")
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            found = _read_key(conn)
        return found if found is not None else _create_key(bind)
    found = _read_key(bind)
    return found if found is not None else _create_key(bind)


def _read_key(conn: Connection) -> bytes | None:
    value = conn.execute(
        select(server_keys.c.value).where(server_keys.c.name == SECRET_HASH_KEY)
    ).scalar_one_or_none()
    return None if value is None else bytes.fromhex(value)


def _create_key(bind: Connection | Engine) -> bytes:
    """Store a new key; if another process stored one first, use theirs.

    Both processes try the insert; the primary key lets only one win, and the loser reads the
    winner's key back, so every process hashes under the same key.
    """
    candidate = secrets.token_bytes(32)
    row = {"name": SECRET_HASH_KEY, "value": candidate.hex()}
    if isinstance(bind, Engine):
        try:
            with writer(bind).begin() as conn:
                conn.execute(insert(server_keys).values(row))
        except IntegrityError:
            with bind.connect() as conn:
                return _existing_key(conn)
        return candidate
    try:
        # A savepoint, so a lost race does not abort the caller's transaction on PostgreSQL.
        with bind.begin_nested():
            bind.execute(insert(server_keys).values(row))
    except IntegrityError:
        return _existing_key(bind)
    return candidate


def _existing_key(conn: Connection) -> bytes:
    found = _read_key(conn)
    if found is None:  # pragma: no cover - the insert failed on this very row
        raise RuntimeError("server_keys: insert conflicted, yet no key is stored")
    return found
