"""Console users: who may sign in, with which role, and (a viewer) for which companies.

Passwords are kept as argon2id hashes only. ``verify`` answers the same way, in about the same
time, for an unknown email and a wrong password, so the sign-in page tells nobody which emails
exist.

Example::

    add_user(engine, "ann@example.com", "correct horse", role="viewer", company_ref_ids=[1001])
    verify(engine, "ann@example.com", "correct horse")  # -> ConsoleUser(...)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine, delete, insert, select

from oms_export.db.engine import writer
from oms_export.db.schema import (
    CONSOLE_ROLES,
    EXPORTING_LEVELS,
    companies,
    console_user_companies,
    console_users,
)
from oms_export.errors import InvalidRequest

MIN_PASSWORD_LENGTH = 10

_HASHER = PasswordHasher()
_DUMMY_HASH = _HASHER.hash("a password nobody has, to spend the time of a real check")


class UnknownUserError(LookupError):
    """No console user has the given email."""

    def __init__(self, email: str) -> None:
        super().__init__(f"No console user {email!r}; `oms-export users list` shows them.")


@dataclass(frozen=True)
class ConsoleUser:
    """A signed-in person: ``company_ids`` are the internal ids of a viewer's companies that
    may export (§3.1); an admin's is empty and unused."""

    id: int
    email: str
    role: str
    company_ids: frozenset[int]

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def normalize_email(email: str) -> str:
    return email.strip().lower()


def add_user(
    engine: Engine,
    email: str,
    password: str,
    *,
    role: str,
    company_ref_ids: Sequence[int] = (),
) -> dict[str, Any]:
    """Create a user; a viewer needs at least one company, an admin takes none."""
    email = normalize_email(email)
    if "@" not in email or len(email) > 320:
        raise InvalidRequest(f"{email!r} is not an email address.", parameter="email")
    if role not in CONSOLE_ROLES:
        raise InvalidRequest(f"Role must be admin or viewer, not {role!r}.", parameter="role")
    refs = list(dict.fromkeys(company_ref_ids))
    if role == "viewer" and not refs:
        raise InvalidRequest("A viewer needs at least one company.", parameter="company")
    if role == "admin" and refs:
        raise InvalidRequest("An admin sees every company; give no --company.", parameter="company")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidRequest(
            f"A password needs at least {MIN_PASSWORD_LENGTH} characters.", parameter="password"
        )
    with writer(engine).begin() as conn:
        if conn.execute(select(console_users.c.id).where(console_users.c.email == email)).first():
            raise InvalidRequest(f"A console user {email!r} exists already.", parameter="email")
        company_ids = _company_ids(conn, refs)
        user_id = conn.execute(
            insert(console_users)
            .values(
                email=email,
                password_hash=_HASHER.hash(password),
                role=role,
                created_at=datetime.now(UTC).replace(tzinfo=None),
                disabled=False,
            )
            .returning(console_users.c.id)
        ).scalar_one()
        if company_ids:
            conn.execute(
                insert(console_user_companies),
                [{"user_id": user_id, "company_id": cid} for cid in company_ids],
            )
    return {"email": email, "role": role, "companies": refs}


def list_users(engine: Engine) -> list[dict[str, Any]]:
    """Every user with its companies' ref ids, by email (never a password hash)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                console_users.c.id,
                console_users.c.email,
                console_users.c.role,
                console_users.c.created_at,
                console_users.c.disabled,
            ).order_by(console_users.c.email)
        ).all()
        links = conn.execute(
            select(console_user_companies.c.user_id, companies.c.ref_id)
            .join(companies, companies.c.id == console_user_companies.c.company_id)
            .order_by(companies.c.ref_id)
        ).all()
    refs: dict[int, list[int]] = {}
    for user_id, ref_id in links:
        refs.setdefault(user_id, []).append(ref_id)
    return [
        {
            "email": row.email,
            "role": row.role,
            "companies": refs.get(row.id, []),
            "disabled": row.disabled,
            "created_at": row.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        }
        for row in rows
    ]


def remove_user(engine: Engine, email: str) -> None:
    """Delete a user; its sessions stop working at their next request."""
    email = normalize_email(email)
    with writer(engine).begin() as conn:
        user_id = conn.execute(
            select(console_users.c.id).where(console_users.c.email == email)
        ).scalar()
        if user_id is None:
            raise UnknownUserError(email)
        conn.execute(
            delete(console_user_companies).where(console_user_companies.c.user_id == user_id)
        )
        conn.execute(delete(console_users).where(console_users.c.id == user_id))


def verify(engine: Engine, email: str, password: str) -> ConsoleUser | None:
    """The user when ``password`` is theirs and they are not disabled, else ``None``."""
    with engine.connect() as conn:
        row = conn.execute(
            select(
                console_users.c.id, console_users.c.password_hash, console_users.c.disabled
            ).where(console_users.c.email == normalize_email(email))
        ).first()
    try:
        _HASHER.verify(row.password_hash if row is not None else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None or row.disabled:
        return None
    return load_user(engine, row.id)


def load_user(engine: Engine, user_id: int) -> ConsoleUser | None:
    """The user with ``user_id`` as a request sees it, or ``None`` when removed or disabled."""
    with engine.connect() as conn:
        row = conn.execute(
            select(console_users.c.email, console_users.c.role, console_users.c.disabled).where(
                console_users.c.id == user_id
            )
        ).first()
        if row is None or row.disabled:
            return None
        company_ids = conn.execute(
            select(companies.c.id)
            .join(console_user_companies, console_user_companies.c.company_id == companies.c.id)
            .where(
                console_user_companies.c.user_id == user_id,
                companies.c.subscription.in_(EXPORTING_LEVELS),
            )
        ).scalars()
        return ConsoleUser(user_id, row.email, row.role, frozenset(company_ids))


def _company_ids(conn: Connection, ref_ids: list[int]) -> list[int]:
    if not ref_ids:
        return []
    found = dict(
        conn.execute(
            select(companies.c.ref_id, companies.c.id).where(companies.c.ref_id.in_(ref_ids))
        )
        .tuples()
        .all()
    )
    missing = [ref for ref in ref_ids if ref not in found]
    if missing:
        raise InvalidRequest(
            f"No company with ref id {', '.join(map(str, missing))}.", parameter="company"
        )
    return [found[ref] for ref in ref_ids]
