"""The bench's stores: the demo data set at one size and seed, built once and reused after.

A store is a fresh PostgreSQL database (``oms_bench_<orders>_s<seed>``) or SQLite file per size.
Loading 200,000 orders takes a minute, so a store already built at that size and seed is reused
when a small JSON note beside it (written after a successful load) still matches the store's row
counts. The demo client's secret is renewed on every run: a secret is never written to disk.

The export's SQL is taken from the service itself (``build_plan`` with the service's own query
parser and tenancy rules, for the demo client with every option on), so the database baselines
run exactly the statement the service runs.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import Connection, Engine, Select, func, select
from sqlalchemy.engine import make_url

from oms_export.admin.demo import DEMO_CLIENT_COMPANIES, DEMO_CLIENT_NAME, load_demo
from oms_export.auth.clients import list_clients, rotate_secret
from oms_export.auth.principal import CompanyGrant, Principal
from oms_export.db.engine import make_engine
from oms_export.db.migrate import upgrade
from oms_export.db.schema import companies, order_items, orders
from oms_export.export.fields import OPTIONS
from oms_export.export.params import parse_export_query
from oms_export.export.query import build_plan
from oms_export.export.tenancy import entitlement
from oms_export.settings import Settings

ALL_OPTIONS: tuple[tuple[str, str], ...] = tuple((f"options[{name}]", "1") for name in OPTIONS)
"""The export's query parameters with every option on, as the bench requests it over HTTP."""


@dataclass(frozen=True)
class Store:
    """One demo data set, ready to export."""

    backend: str
    orders: int
    seed: int
    url: str
    """The database URL as a user writes it (``postgresql://…`` or ``sqlite:///…``)."""
    items: int
    rows: int
    """Item rows the full export holds (all options on): the figure every method must reach."""
    reused: bool
    load_seconds: float

    @property
    def sqlite_path(self) -> Path:
        database = make_url(self.url).database
        if self.backend != "sqlite" or not database:
            raise ValueError("only a SQLite store has a file")
        return Path(database)

    @property
    def libpq_url(self) -> str:
        """The URL for psycopg itself (no SQLAlchemy driver name)."""
        return make_url(self.url).set(drivername="postgresql").render_as_string(False)


def settings_for(url: str) -> Settings:
    return Settings.from_env(database_url=url)


def prepare_store(
    backend: str, orders_count: int, seed: int, *, data_dir: Path, postgres_url: str, rebuild: bool
) -> Store:
    """The demo set at this size and seed: reused when it is already there and intact."""
    name = f"oms_bench_{orders_count}_s{seed}"
    note_path = data_dir / f"{backend}-{name}.json"
    if backend == "postgresql":
        url = make_url(postgres_url).set(database=name).render_as_string(False)
    else:
        url = f"sqlite:///{(data_dir / f'{name}.db').resolve()}"
    note = _read_note(note_path)
    if not rebuild and note is not None and _intact(backend, url, note, orders_count, seed):
        return Store(backend, orders_count, seed, url, note["items"], note["rows"], True, 0.0)
    note_path.unlink(missing_ok=True)
    _fresh_database(backend, url, postgres_url)
    started = time.perf_counter()
    items = _load(url, orders_count, seed, backend)
    load_seconds = time.perf_counter() - started
    rows = count_export_rows(url)
    note_path.write_text(
        json.dumps({"orders": orders_count, "seed": seed, "items": items, "rows": rows})
    )
    return Store(backend, orders_count, seed, url, items, rows, False, load_seconds)


def _read_note(path: Path) -> dict[str, Any] | None:
    try:
        note: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return note


def _intact(backend: str, url: str, note: dict[str, Any], orders_count: int, seed: int) -> bool:
    if note.get("orders") != orders_count or note.get("seed") != seed:
        return False
    if backend == "sqlite" and not Path(make_url(url).database or "").exists():
        return False
    if backend == "postgresql" and not _pg_database_exists(url):
        return False
    engine = make_engine(settings_for(url))
    try:
        with engine.connect() as conn:
            held_orders = conn.execute(select(func.count()).select_from(orders)).scalar_one()
            held_items = conn.execute(select(func.count()).select_from(order_items)).scalar_one()
    except Exception:  # a half-built or foreign database: build it again
        return False
    finally:
        engine.dispose()
    return bool(held_orders == orders_count and held_items == note.get("items"))


def _maintenance_url(url: str, database: str | None = None) -> str:
    """``url`` for psycopg itself, on ``database`` when given."""
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(False)


def _pg_database_exists(url: str) -> bool:
    name = make_url(url).database
    with psycopg.connect(_maintenance_url(url, "postgres")) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return found is not None


def _fresh_database(backend: str, url: str, postgres_url: str) -> None:
    if backend == "sqlite":
        path = Path(make_url(url).database or "")
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    name = make_url(url).database or ""
    with psycopg.connect(_maintenance_url(postgres_url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _load(url: str, orders_count: int, seed: int, backend: str) -> int:
    settings = settings_for(url)
    engine = make_engine(settings)
    try:
        upgrade(engine)
        loaded = load_demo(engine, settings, orders=orders_count, seed=seed)
    finally:
        engine.dispose()
    if backend == "postgresql":
        # What autovacuum does shortly after a bulk load anyway; done now so runs are repeatable.
        with psycopg.connect(_maintenance_url(url), autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
    items: int = loaded["items"]
    return items


def demo_credentials(url: str) -> tuple[str, str]:
    """The demo client's id and a new secret for it (its old tokens stop working)."""
    settings = settings_for(url)
    engine = make_engine(settings)
    try:
        client = next(c for c in list_clients(engine) if c["name"] == DEMO_CLIENT_NAME)
        renewed = rotate_secret(engine, settings, client["client_id"])
    finally:
        engine.dispose()
    return renewed["client_id"], renewed["client_secret"]


def export_statement(conn: Connection) -> Select[Any]:
    """The SELECT the service runs for the demo client's full export with every option on."""
    rows = conn.execute(
        select(companies.c.id, companies.c.ref_id, companies.c.subscription).where(
            companies.c.ref_id.in_(DEMO_CLIENT_COMPANIES)
        )
    ).all()
    principal = Principal(
        client_pk=0,
        client_id="bench",
        scopes=frozenset(),
        companies=tuple(CompanyGrant(r.id, r.ref_id, r.subscription) for r in rows),
    )
    query = parse_export_query(ALL_OPTIONS)
    statement: Select[Any] = build_plan(conn, query, entitlement(principal, query)).statement
    return statement


def entitled_company_ids(conn: Connection) -> list[int]:
    """Internal ids of the companies the demo client's export reads (its entitled ones)."""
    return sorted(
        conn.scalars(
            select(companies.c.id).where(
                companies.c.ref_id.in_(DEMO_CLIENT_COMPANIES),
                companies.c.subscription.not_in(("free", "oms_lite")),
            )
        )
    )


def plain_join_sql(url: str) -> str:
    """The second anchor of issue 14: no export formatting, only the data the export reads.

    The demo client's orders joined with their company and their items, each order's and each
    item's attributes aggregated into one JSON object, ordered as the export is.
    """
    engine = make_engine(settings_for(url))
    try:
        with engine.connect() as conn:
            ids = ", ".join(map(str, entitled_company_ids(conn)))
    finally:
        engine.dispose()
    return (
        "SELECT o.*, c.*, i.*, oa.attributes, ia.attributes FROM orders o"
        " JOIN companies c ON c.id = o.company_id"
        " LEFT JOIN LATERAL (SELECT json_object_agg(name, value) AS attributes"
        "  FROM order_attributes WHERE order_id = o.id) oa ON true"
        " LEFT JOIN order_items i ON i.order_id = o.id"
        " LEFT JOIN LATERAL (SELECT json_object_agg(name, value) AS attributes"
        "  FROM item_attributes WHERE item_id = i.id) ia ON true"
        f" WHERE o.company_id IN ({ids}) OR o.secondary_company_id IN ({ids})"
        " ORDER BY o.id, i.id"
    )


def literal_sql(conn: Connection, statement: Select[Any]) -> str:
    """The statement as one SQL string with its values inlined, for COPY or the sqlite3 shell."""
    compiled = statement.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
    return str(compiled)


def count_export_rows(url: str) -> int:
    engine: Engine = make_engine(settings_for(url))
    try:
        with engine.connect() as conn:
            statement = export_statement(conn)
            count = select(func.count()).select_from(statement.subquery())
            total: int = conn.execute(count).scalar_one()
    finally:
        engine.dispose()
    return total


def export_sql(url: str) -> tuple[str, tuple[str, ...]]:
    """The export's SQL text and its column labels, in order."""
    engine = make_engine(settings_for(url))
    try:
        with engine.connect() as conn:
            statement = export_statement(conn)
            return literal_sql(conn, statement), tuple(c.name for c in statement.selected_columns)
    finally:
        engine.dispose()
