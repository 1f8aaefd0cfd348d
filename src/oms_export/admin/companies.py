"""Companies and their subscription level, which decides whether their orders may be exported.

Errors are ``InvalidRequest`` naming the parameter, so the CLI and any future admin API answer
alike: ``subscription must be one of free, oms_lite, order_manager, enterprise``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, RowMapping, insert, select, update
from sqlalchemy.exc import IntegrityError

from oms_export.db.engine import writer
from oms_export.db.schema import SUBSCRIPTION_LEVELS, companies
from oms_export.errors import InvalidRequest
from oms_export.events.urls import check_url

_COLUMNS = (
    companies.c.ref_id,
    companies.c.name,
    companies.c.subscription,
    companies.c.external_ref,
    companies.c.customer_ref_id,
    companies.c.id,
)


def _level(level: str) -> str:
    if level not in SUBSCRIPTION_LEVELS:
        raise InvalidRequest(
            f"subscription must be one of {', '.join(SUBSCRIPTION_LEVELS)} "
            f"(lowest first), not {level!r}.",
            parameter="subscription",
        )
    return level


def _exists(conn: Connection, ref_id: int) -> bool:
    query = select(companies.c.id).where(companies.c.ref_id == ref_id)
    return conn.execute(query).first() is not None


def _row(conn: Connection, ref_id: int) -> dict[str, Any]:
    row = conn.execute(select(*_COLUMNS).where(companies.c.ref_id == ref_id)).one()
    return _plain(row._mapping)


def _plain(row: RowMapping) -> dict[str, Any]:
    # Column names are ``quoted_name``, a str subclass that JSON encoders refuse as keys.
    return {str(key): value for key, value in row.items()}


def add_company(
    engine: Engine,
    *,
    ref_id: int,
    name: str,
    subscription: str,
    external_ref: str | None = None,
    customer_ref_id: int | None = None,
) -> dict[str, Any]:
    """Add a company users will know by ``ref_id`` (the export's ``company_ref_id``)."""
    if isinstance(ref_id, bool) or not isinstance(ref_id, int) or ref_id < 1:
        raise InvalidRequest(
            f"ref id must be a whole number >= 1, not {ref_id!r}.", parameter="ref_id"
        )
    if not name.strip():
        raise InvalidRequest("A company needs a non-empty name.", parameter="name")
    values = {
        "ref_id": ref_id,
        "name": name.strip(),
        "subscription": _level(subscription),
        "external_ref": external_ref,
        "customer_ref_id": customer_ref_id,
    }
    duplicate = InvalidRequest(
        f"A company with ref id {ref_id} already exists; "
        "`oms-export companies set-subscription` changes its level.",
        parameter="ref_id",
    )
    try:
        with writer(engine).begin() as conn:
            if _exists(conn, ref_id):
                raise duplicate
            conn.execute(insert(companies).values(values))
            return _row(conn, ref_id)
    except IntegrityError as exc:  # added by someone else between our check and insert
        raise duplicate from exc


def set_subscription(engine: Engine, ref_id: int, level: str) -> dict[str, Any]:
    """Move a company to another level; its clients' next export sees the change."""
    level = _level(level)
    with writer(engine).begin() as conn:
        query = update(companies).where(companies.c.ref_id == ref_id).values(subscription=level)
        if conn.execute(query).rowcount == 0:
            raise InvalidRequest(
                f"No company with ref id {ref_id}; `oms-export companies list` shows them.",
                parameter="ref_id",
            )
        return _row(conn, ref_id)


def list_companies(engine: Engine) -> list[dict[str, Any]]:
    """Every company, by ref id."""
    with engine.connect() as conn:
        rows = conn.execute(select(*_COLUMNS).order_by(companies.c.ref_id))
        return [_plain(row._mapping) for row in rows]


def set_push_url(
    engine: Engine, ref_id: int, url: str | None, *, allow_private: bool
) -> dict[str, Any]:
    """Push each new order company ``ref_id`` fulfils to ``url`` (API.md §7); ``None`` or an
    empty URL stops it. The URL is checked as at delivery: ``https://`` to a public address,
    unless ``allow_private`` (``OMS_EXPORT_CALLBACK_ALLOW_PRIVATE``)."""
    if url is not None and not url.strip():
        url = None
    if url is not None:
        url = url.strip()
        check_url(url, allow_private=allow_private, parameter="url")
    with writer(engine).begin() as conn:
        query = update(companies).where(companies.c.ref_id == ref_id).values(push_url=url)
        if conn.execute(query).rowcount == 0:
            raise InvalidRequest(
                f"No company with ref id {ref_id}; `oms-export companies list` shows them.",
                parameter="ref_id",
            )
    return {"ref_id": ref_id, "push_url": url}
