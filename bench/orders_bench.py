"""Benchmark the orders API (API.md §6) against the import and against the export it feeds.

In one run, on PostgreSQL, each figure beside the baseline it is judged by:

- **Creates.** ``POST /orders`` (3 items each) by ``--clients`` concurrent clients against a real
  ``oms-export serve`` process, into a fresh demo store without orders, against
  ``import_orders`` (what ``oms-export import orders`` runs) of the very same orders into another
  fresh one: orders/s of each and their ratio (target: at least 0.5 of the import's).
- **Moves and parcels.** ``PUT /orders/{id}/status`` (1 → 4) and ``POST /orders/{id}/shipments``
  (every unit, so the order is dispatched) on the orders just created, by the same clients, with
  p50/p99 latency, against ``GET /orders/{id}`` of the same orders (the answer every write
  renders too): requests/s and their ratio.
- **Changes since.** The demo set at ``--orders`` (1,000,000 by default) with 1% of its orders
  changed in the last hour (their ``updated_datetime`` set in SQL): the export of
  ``filter[updated_datetime:gte]`` against the full export, both json rows with
  ``options[includeFulfilment]=1``, from the same server, in turns: the changes export's time to
  first byte (target < 0.5 s) and the rows/s of each and their ratio (target: at least 0.8).

Prints the figures as Markdown tables and, unless ``--quick``, writes them with the command and
the machine into the "Orders API" section of ``docs/performance.md`` (the rest of the page is
``export_bench.py``'s, which keeps this section as it stands).

Examples:
    .venv/bin/python bench/orders_bench.py                          # 1M orders: ~20 min
    .venv/bin/python bench/orders_bench.py --orders 200000 --creates 5000
    .venv/bin/python bench/orders_bench.py --quick                  # < 2 min, no docs
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil
import psycopg
from bench_http import ResourceSampler, Run, measure_stream, running, service_environment
from bench_report import machine_description, markdown_table
from psycopg import sql
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url

from oms_export.admin.demo import demo_credentials, load_demo
from oms_export.admin.imports import import_orders
from oms_export.db.engine import make_engine
from oms_export.db.migrate import upgrade
from oms_export.db.schema import order_items, orders, shipments
from oms_export.settings import Settings

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PAGE = ROOT / "docs" / "performance.md"
SECTION = "## Orders API"
EXPORT_PATH = "/export-api/order-item-details"
JSON_HEADERS = {"Content-Type": "application/json"}
TIMEOUT = httpx.Timeout(60.0)
TIMES = "\u00d7"
CORES = psutil.cpu_count() or 1
CHANGED_EVERY = 100
"""One order in this many is changed for the changes-since export: 1%."""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--orders", type=int, default=1_000_000, help="orders of the changes-since store"
    )
    parser.add_argument(
        "--creates", type=int, default=10_000, help="orders created over HTTP and imported"
    )
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients")
    parser.add_argument("--workers", type=int, default=1, help="`serve --workers` of the service")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each export; best kept")
    parser.add_argument("--seed", type=int, default=0, help="seed of the demo set")
    parser.add_argument("--skip", default="", help="any of: writes,export")
    parser.add_argument(
        "--changed",
        choices=("scattered", "recent"),
        default="scattered",
        help="which 1%% of the orders changed: every 100th id, or the newest",
    )
    parser.add_argument(
        "--patience",
        type=float,
        default=60.0,
        help="seconds to wait for a quiet machine before each measurement (0 with --quick)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="20,000 orders, 1,000 creates, one run each"
    )
    parser.add_argument("--rebuild", action="store_true", help="rebuild the store even if intact")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--data-dir", type=Path, default=BENCH / ".data")
    parser.add_argument(
        "--docs",
        action=argparse.BooleanOptionalAction,
        help="write the Orders API section of docs/performance.md (default: yes, not --quick)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.orders, args.creates, args.repeat, args.patience = 20_000, 1_000, 1, 0.0
    if args.docs is None:
        args.docs = not args.quick
    args.skip_set = {s.strip() for s in args.skip.split(",") if s.strip()}
    if args.clients < 1 or args.creates < args.clients or args.orders < CHANGED_EVERY:
        parser.error("--clients ≥ 1, --creates ≥ --clients and --orders ≥ 100, please")
    return args


def say(message: str) -> None:
    print(message, flush=True)


def wait_for_quiet(args: argparse.Namespace, limit: float = 15.0) -> None:
    """Wait (``--patience`` seconds at most) until other work leaves the cores below ``limit`` %
    busy: the service, PostgreSQL and the bench's clients share them with whatever else runs."""
    deadline = time.monotonic() + args.patience
    while (busy := psutil.cpu_percent(interval=1.0)) > limit:
        if time.monotonic() > deadline:
            say(f"    (the machine stays {busy:.0f}% busy; measuring anyway)")
            return


def noise(others: float, seconds: float) -> str:
    """A note when other work took more than a tenth of the cores during a measurement."""
    if seconds < 1.0:  # the kernel counts CPU time in ticks: too coarse for a moment
        return ""
    share = others / (seconds * CORES)
    return f"noisy: other work took {share:.0%} of the cores" if share > 0.1 else ""


# --- stores ---------------------------------------------------------------------------------


def database_url(postgres_url: str, name: str) -> str:
    return make_url(postgres_url).set(database=name).render_as_string(False)


def libpq(url: str) -> str:
    """``url`` as psycopg takes it (no SQLAlchemy driver name)."""
    return make_url(url).set(drivername="postgresql").render_as_string(False)


def fresh_database(postgres_url: str, name: str) -> str:
    """Drop and create database ``name`` on the server of ``postgres_url``; its URL."""
    with psycopg.connect(libpq(postgres_url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return database_url(postgres_url, name)


def engine_for(url: str) -> Engine:
    engine: Engine = make_engine(Settings.from_env(database_url=url))
    upgrade(engine)
    return engine


def vacuum(url: str, table: str | None = None) -> None:
    """What autovacuum does soon after a bulk write anyway; done now, so runs repeat."""
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        target = sql.SQL(" {}").format(sql.Identifier(table)) if table else sql.SQL("")
        conn.execute(sql.SQL("VACUUM ANALYZE") + target)


@dataclass(frozen=True)
class DemoStore:
    url: str
    credentials: dict[str, Any]
    """``demo_credentials``' printout: the export client, ``retailer`` and ``fulfiller``."""
    orders: int
    items: int
    built_seconds: float | None
    """``None`` when a store built before was reused."""


def empty_demo_store(postgres_url: str, name: str) -> DemoStore:
    """A fresh database with the demo's companies, products and clients, and no order."""
    url = fresh_database(postgres_url, name)
    engine = engine_for(url)
    try:
        credentials = load_demo(engine, Settings.from_env(database_url=url), orders=0)
    finally:
        engine.dispose()
    return DemoStore(url, credentials, 0, 0, 0.0)


def demo_store(args: argparse.Namespace) -> DemoStore:
    """The demo set at ``--orders``, built once and reused while its counts match its note."""
    name = f"oms_orders_bench_{args.orders}_s{args.seed}"
    note_path = args.data_dir / f"{name}.json"
    url = database_url(args.postgres_url, name)
    held = None if args.rebuild else _counts(url)
    if held == _read_note(note_path) and held is not None:
        engine = engine_for(url)
        try:
            credentials = demo_credentials(engine, Settings.from_env(database_url=url))
        finally:
            engine.dispose()
        return DemoStore(url, credentials, held["orders"], held["items"], None)
    note_path.unlink(missing_ok=True)
    fresh_database(args.postgres_url, name)
    started = time.perf_counter()
    engine = engine_for(url)
    try:
        settings = Settings.from_env(database_url=url)
        credentials = load_demo(engine, settings, orders=args.orders, seed=args.seed)
    finally:
        engine.dispose()
    vacuum(url)
    built = time.perf_counter() - started
    counts = _counts(url)
    assert counts is not None
    note_path.write_text(json.dumps(counts))
    return DemoStore(url, credentials, counts["orders"], counts["items"], built)


def _read_note(path: Path) -> dict[str, Any] | None:
    try:
        note: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return note


def _counts(url: str) -> dict[str, int] | None:
    """The store's orders, items and shipments, or ``None`` when it is missing or foreign."""
    try:
        engine = make_engine(Settings.from_env(database_url=url))
        with engine.connect() as conn:
            counted = {
                table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
                for table in (orders, order_items, shipments)
            }
        engine.dispose()
    except Exception:  # a missing or half-built database: built again
        return None
    return {"orders": counted["orders"], "items": counted["order_items"],
            "shipments": counted["shipments"]}  # fmt: skip


def mark_changes(url: str, at: datetime, how: str) -> tuple[int, datetime]:
    """Give 1% of the orders an ``updated_datetime`` within the hour before ``at``, as a day of
    changes leaves them: every ``CHANGED_EVERY``th id (``scattered``, the worst case: no two on
    one page) or the newest 1% (``recent``: orders change in the days after they are made).
    Marks of an earlier run are undone first. The count marked and the moment to export from."""
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        conn.execute(
            "UPDATE orders SET updated_datetime = coalesce(creation_datetime, updated_datetime) "
            "WHERE updated_datetime >= %s",
            (at - timedelta(days=2),),
        )
        which = (
            "id %% %s = 0"
            if how == "scattered"
            else "id > (SELECT max(id) FROM orders) - (SELECT count(*) FROM orders) / %s"
        )
        cursor = conn.execute(
            "UPDATE orders SET updated_datetime = %s - make_interval(secs => (id / %s) %% 3600) "
            f"WHERE {which}",
            (at, CHANGED_EVERY, CHANGED_EVERY),
        )
        marked = cursor.rowcount
    vacuum(url, "orders")
    return marked, at - timedelta(hours=1)


# --- the orders -----------------------------------------------------------------------------


def order_record(n: int) -> dict[str, Any]:
    """Order ``n`` of the bench: 3 items, sold by 1001 and fulfilled by 3001, as a shop sends it.

    Valid both as a create body and as an import record, so both sides store the same rows.
    """
    return {
        "external_ref": f"BENCH-{n:07d}",
        "company_ref_id": 1001,
        "secondary_company_ref_id": 3001,
        "status": 1,
        "sale_datetime": "2024-05-01 09:30:00",
        "customer_name": f"Customer {n}",
        "customer_email": f"customer{n}@example.com",
        "shipping_address_1": f"{n % 200 + 1} High Street",
        "shipping_address_3": "London",
        "shipping_postcode": "LO1 1AB",
        "shipping_country_code": "GB",
        "shipping_method": "Standard",
        "shipping_price": 3.99,
        "shipping_price_inc_tax": 4.79,
        "shipping_tax_rate": 0.2,
        "attributes": [{"name": "channel", "value": "web"}],
        "items": [
            {
                "external_ref": f"BENCH-{n:07d}-{k + 1}",
                "sku": f"SKU-{501 + (n * 3 + k) % 200}",
                "product_id": 501 + (n * 3 + k) % 200,
                "description": "Printed to order",
                "quantity": 1 + (n + k) % 3,
                "status": 1,
                "unit_sale_price": 9.99,
                "attributes": [{"name": "print", "value": "front"}],
            }
            for k in range(3)
        ],
    }


# --- concurrent requests --------------------------------------------------------------------


Request = tuple[str, str, bytes | None]
"""Method, path and JSON body (``None`` for none)."""


@dataclass
class Burst:
    """Requests sent by concurrent clients, measured: wall time and each request's latency."""

    name: str
    expected: int
    """The status code every answer should have."""
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    answers: list[Any] = field(default_factory=list)
    others: float = 0.0
    """CPU seconds other work on the machine took meanwhile."""

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else 0.0

    @property
    def failures(self) -> int:
        return self.count - self.statuses[self.expected]


def burst(
    name: str,
    base_url: str,
    token: str,
    requests: Sequence[Request],
    *,
    server_pid: int,
    clients: int,
    expected: int,
    keep: bool = False,
) -> Burst:
    """Send ``requests`` from ``clients`` threads (client ``c`` takes every ``clients``-th one,
    each on its own keep-alive connection), started together; ``keep`` keeps each JSON answer."""
    result = Burst(name, expected)
    answers: list[Any] = [None] * len(requests)
    latencies: list[list[float]] = [[] for _ in range(clients)]
    statuses: list[Counter[int]] = [Counter() for _ in range(clients)]
    start = threading.Barrier(clients + 1)
    headers = {"Authorization": f"Bearer {token}", **JSON_HEADERS}

    def client(c: int) -> None:
        with httpx.Client(base_url=base_url, headers=headers, timeout=TIMEOUT) as http:
            http.get("/health")  # connect before the clock starts
            start.wait()
            for index in range(c, len(requests), clients):
                method, path, body = requests[index]
                began = time.perf_counter()
                response = http.request(method, path, content=body)
                latencies[c].append(time.perf_counter() - began)
                statuses[c][response.status_code] += 1
                if keep and response.status_code == expected:
                    answers[index] = orjson.loads(response.content)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for thread in threads:
        thread.start()
    with ResourceSampler(server_pid) as sampler:
        start.wait()
        began = time.perf_counter()
        for thread in threads:
            thread.join()
        result.seconds = time.perf_counter() - began
        result.others = sampler.cpu_seconds()["others"]
    result.latencies = [t for mine in latencies for t in mine]
    for mine in statuses:
        result.statuses.update(mine)
    result.answers = answers
    return result


def token(base_url: str, client: dict[str, Any], scope: str) -> str:
    response = httpx.post(
        base_url + "/token",
        data={
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
            "grant_type": "client_credentials",
            "scope": scope,
        },
    )
    response.raise_for_status()
    access: str = response.json()["access_token"]
    return access


# --- measurements ---------------------------------------------------------------------------


@dataclass
class Figure:
    """One line of the results table."""

    what: str
    count: int
    unit: str
    seconds: float
    p50: float | None = None
    p99: float | None = None
    ttfb: float | None = None
    first_row: float | None = None
    note: str = ""

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class Ratio:
    name: str
    value: float | None
    target: str
    met: bool | None


def from_burst(what: str, b: Burst) -> Figure:
    failed = f"{b.failures} answers not {b.expected}: {dict(b.statuses)}" if b.failures else ""
    note = "; ".join(n for n in (failed, noise(b.others, b.seconds)) if n)
    return Figure(what, b.count, "requests", b.seconds, b.percentile(50), b.percentile(99),
                  note=note)  # fmt: skip


def bench_writes(args: argparse.Namespace) -> tuple[list[Figure], list[Ratio]]:
    records = [order_record(n) for n in range(args.creates)]
    clients = args.clients

    say(f"== import_orders of {args.creates:,} orders into a fresh store")
    imported = empty_demo_store(args.postgres_url, "oms_orders_bench_import")
    engine = engine_for(imported.url)
    wait_for_quiet(args)
    try:
        with ResourceSampler(os.getpid()) as sampler:
            began = time.perf_counter()
            summary = import_orders(engine, enumerate(records))
            import_seconds = time.perf_counter() - began
            import_noise = noise(sampler.cpu_seconds()["others"], import_seconds)
    finally:
        engine.dispose()
    if summary["created"] != args.creates:
        raise RuntimeError(f"the import did not create every order: {summary}")
    say(f"    {args.creates / import_seconds:,.0f} orders/s ({import_seconds:.1f} s)")

    say(f"== the same orders over HTTP by {clients} clients, then moves, parcels and reads")
    store = empty_demo_store(args.postgres_url, "oms_orders_bench_http")
    env, _ = service_environment()
    serve = [sys.executable, "-m", "oms_export", "--database-url", store.url, "serve",
             "--workers", str(args.workers)]  # fmt: skip
    with running(serve, env, args.data_dir / "logs", "orders") as server:
        retailer = token(server.url, store.credentials["retailer"], "orders.write")
        fulfiller = token(server.url, store.credentials["fulfiller"], "orders.fulfil")
        wait_for_quiet(args)
        creates = burst(
            "create", server.url, retailer,
            [("POST", "/orders", orjson.dumps(r)) for r in records],
            server_pid=server.pid, clients=clients, expected=201, keep=True,
        )  # fmt: skip
        say(f"    POST /orders: {creates.per_second:,.0f}/s, failures {creates.failures}")
        created = [a for a in creates.answers if a is not None]
        wait_for_quiet(args)
        reads = burst(
            "read", server.url, fulfiller,
            [("GET", f"/orders/{o['id']}", None) for o in created],
            server_pid=server.pid, clients=clients, expected=200,
        )  # fmt: skip
        say(f"    GET /orders/{{id}}: {reads.per_second:,.0f}/s")
        wait_for_quiet(args)
        moves = burst(
            "status", server.url, fulfiller,
            [("PUT", f"/orders/{o['id']}/status", b'{"status": 4}') for o in created],
            server_pid=server.pid, clients=clients, expected=200,
        )  # fmt: skip
        say(f"    PUT status: {moves.per_second:,.0f}/s, failures {moves.failures}")
        wait_for_quiet(args)
        parcels = burst(
            "shipments", server.url, fulfiller,
            [("POST", f"/orders/{o['id']}/shipments", _parcel(o)) for o in created],
            server_pid=server.pid, clients=clients, expected=201, keep=True,
        )  # fmt: skip
        say(f"    POST shipments: {parcels.per_second:,.0f}/s, failures {parcels.failures}")
    dispatched = sum(1 for a in parcels.answers if a and a["order"]["status"] == 8)
    figures = [
        Figure("`import_orders` (baseline, 1 process)", args.creates, "orders", import_seconds),
        from_burst(f"`POST /orders`, {clients} clients", creates),
        from_burst(f"`GET /orders/{{id}}` (baseline), {clients} clients", reads),
        from_burst(f"`PUT /orders/{{id}}/status` 1 → 4, {clients} clients", moves),
        from_burst(f"`POST /orders/{{id}}/shipments`, {clients} clients", parcels),
    ]
    figures[0].note = "; ".join(
        n
        for n in (f"{summary['created']:,} created, {summary['rejected']} rejected", import_noise)
        if n
    )
    figures[4].note = (figures[4].note + "; " if figures[4].note else "") + (
        f"{dispatched:,} orders dispatched by it"
    )
    import_rate = args.creates / import_seconds
    create_ratio = creates.per_second / import_rate if import_rate else None
    ratios = [
        Ratio("`POST /orders` ÷ `import_orders` (orders/s)", create_ratio, f"≥ 0.5{TIMES}",
              None if create_ratio is None else create_ratio >= 0.5),
        Ratio("`PUT …/status` ÷ `GET /orders/{id}` (requests/s)",
              _ratio(moves.per_second, reads.per_second), "—", None),
        Ratio("`POST …/shipments` ÷ `GET /orders/{id}` (requests/s)",
              _ratio(parcels.per_second, reads.per_second), "—", None),
    ]  # fmt: skip
    return figures, ratios


def _parcel(order: dict[str, Any]) -> bytes:
    """One parcel of every unit of ``order``, its items named: the order is then dispatched."""
    items = [{"id": item["id"], "quantity": item["quantity"]} for item in order["items"]]
    return orjson.dumps(
        {"items": items, "carrier": "DPD", "tracking": f"DPD-{order['id']}",
         "tracking_url": f"https://tracking.example.com/DPD-{order['id']}"}
    )  # fmt: skip


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def bench_changes(args: argparse.Namespace) -> tuple[list[Figure], list[Ratio], str]:
    say(f"== changes-since export at {args.orders:,} orders")
    store = demo_store(args)
    how = (
        "reused the store built before (counts match)"
        if store.built_seconds is None
        else f"built the store in {store.built_seconds:.0f} s"
    )
    say(f"    {how}: {store.orders:,} orders, {store.items:,} items")
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    marked, since = mark_changes(store.url, now, args.changed)
    say(f"    {marked:,} orders changed within the hour; exporting changes since {since}")
    env, _ = service_environment()
    serve = [sys.executable, "-m", "oms_export", "--database-url", store.url, "serve"]
    common = [("options[includeFulfilment]", "1"), ("shape", "rows")]
    changes_params = [("filter[updated_datetime:gte]", since.isoformat(sep=" ")), *common]
    runs: dict[str, list[Run]] = {"changes": [], "full": []}
    with running(serve, env, args.data_dir / "logs", "changes") as server:
        access = token(server.url, store.credentials, "export-api.order-item-details")
        headers = {"Authorization": f"Bearer {access}"}
        # Not measured: a fresh process's first export pays for imports and connections.
        warm = httpx.get(server.url + EXPORT_PATH, params=changes_params, headers=headers,
                         timeout=TIMEOUT)  # fmt: skip
        warm.raise_for_status()
        for n in range(args.repeat):
            for name, params in (("changes", changes_params), ("full", common)):
                wait_for_quiet(args)
                run = measure_stream(server.url + EXPORT_PATH, params, headers, "json", server.pid)
                runs[name].append(run)
                if run.status != 200:
                    raise RuntimeError(f"{name} export answered {run.status}: {run.error}")
                say(f"    {name} #{n + 1}: {run.rows:,} rows in {run.seconds:.2f} s, "
                    f"first byte {run.ttfb or 0:.3f} s")  # fmt: skip
    changes = min(runs["changes"], key=lambda r: r.seconds)
    full = min(runs["full"], key=lambda r: r.seconds)
    figures = [
        _export_figure("export, full (baseline)", full),
        _export_figure("export, `filter[updated_datetime:gte]` (1% changed)", changes),
    ]
    rate = _ratio(figures[1].per_second, figures[0].per_second)
    # The changes export sorts its scattered rows before the first leaves (its first byte says
    # how long); from then on it streams as fast as the full export can: that rate, apart.
    streamed = _ratio(_streaming_rate(changes), _streaming_rate(full))
    worst_ttfb = max((r.ttfb or 0.0) for r in runs["changes"])
    ratios = [
        Ratio("changes export, first byte (s; worst run)", worst_ttfb, "< 0.5 s",
              worst_ttfb < 0.5),
        Ratio("changes export ÷ full export (rows/s)", rate, f"≥ 0.8{TIMES}",
              None if rate is None else rate >= 0.8),
        Ratio("changes export ÷ full export (rows/s from the first row on)", streamed,
              f"≥ 0.8{TIMES}", None if streamed is None else streamed >= 0.8),
    ]  # fmt: skip
    context = (
        f"{store.orders:,} orders and {store.items:,} items (`load_demo(orders={args.orders}, "
        f"seed={args.seed})`, {how.split(' (')[0]}); {marked:,} orders ("
        + (f"every {CHANGED_EVERY}th id" if args.changed == "scattered" else "the newest 1%")
        + ") given an `updated_datetime` within the hour before the run"
    )
    return figures, ratios, context


def _streaming_rate(run: Run) -> float | None:
    after = run.seconds - (run.first_row or 0.0)
    return run.rows / after if after > 0 else None


def _export_figure(what: str, run: Run) -> Figure:
    return Figure(what, run.rows, "rows", run.seconds, ttfb=run.ttfb, first_row=run.first_row,
                  note=noise(run.cpu.get("others", 0.0), run.seconds))  # fmt: skip


# --- report ---------------------------------------------------------------------------------


def _num(value: float | None, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


def figure_rows(figures: Sequence[Figure]) -> list[list[str]]:
    rows = [["measurement", "count", "s", "per s", "p50 ms", "p99 ms", "TTFB s", "1st row s",
             "note"]]  # fmt: skip
    for f in figures:
        rows.append(
            [
                f.what,
                f"{f.count:,} {f.unit}",
                f"{f.seconds:.2f}",
                f"{f.per_second:,.0f}",
                _num(None if f.p50 is None else f.p50 * 1000, ".1f"),
                _num(None if f.p99 is None else f.p99 * 1000, ".1f"),
                _num(f.ttfb, ".3f"),
                _num(f.first_row, ".3f"),
                f.note,
            ]
        )
    return rows


def ratio_rows(ratios: Sequence[Ratio]) -> list[list[str]]:
    rows = [["figure", "measured", "target", "met"]]
    for r in ratios:
        unit = " s" if r.target.endswith(" s") else TIMES
        value = "n/a" if r.value is None else f"{r.value:.2f}{unit}"
        met = "—" if r.met is None else ("yes" if r.met else "NO")
        rows.append([r.name, value, r.target, met])
    return rows


def postgres_version(url: str) -> str | None:
    try:
        with psycopg.connect(libpq(url)) as conn:
            row = conn.execute("SHOW server_version").fetchone()
    except psycopg.Error:
        return None
    return f"PostgreSQL {row[0]}" if row else None


def section(
    args: argparse.Namespace,
    tables: str,
    contexts: Sequence[str],
    elapsed: float,
) -> str:
    command = ".venv/bin/python bench/orders_bench.py " + shlex.join(sys.argv[1:])
    machine = "\n".join(machine_description(postgres_version(args.postgres_url)))
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    notes = [
        f"Creates: {args.creates:,} orders of 3 items (sold by 1001, fulfilled by 3001), sent "
        f"by {args.clients} threads of the bench, each an httpx client on its own keep-alive "
        f"connection, to a real `python -m oms_export serve --workers {args.workers}` process "
        "(rate limits off) on a fresh database holding the demo's companies, products and "
        "clients but no order. The baseline imports the very same records with "
        "`import_orders` (what `oms-export import orders` runs) in the bench's own process, "
        "one transaction per order, into another such database.",
        "Moves and parcels: on the orders just created, `PUT /orders/{id}/status` with "
        '`{"status": 4}`, then one `POST /orders/{id}/shipments` naming every unit (which '
        "dispatches the order), by the same clients with the fulfiller's token; the baseline "
        "is `GET /orders/{id}` of the same orders just before, the order every write answers "
        "with. Latency is each request's, as its client saw it.",
        f"Changes since: {'; '.join(contexts) or 'not measured in this run'}. Both exports "
        "are json rows (`shape=rows`) with `options[includeFulfilment]=1`, for the demo "
        "export client, from one server process, taken in turns "
        f"({args.repeat} runs each; the fastest shown). "
        "One changes export before them, not measured, warms the fresh server process up. "
        "TTFB: time to the first body byte; *1st row*: until the first row had begun to "
        "arrive; the client streams the body and discards it.",
        "The bench's client threads share the machine's cores with the service and PostgreSQL.",
    ]
    return (
        f"{SECTION}\n\n"
        f"How fast the orders API (API.md §6) takes orders in and moves them, and how fast the "
        f"export hands out what changed. Generated by `bench/orders_bench.py` on {when} (the "
        f"run took {elapsed / 60:.1f} minutes); this section is rewritten by each of its runs "
        "and kept by `export_bench.py`'s.\n\n"
        "<!-- not-run: the benchmark takes many minutes and needs PostgreSQL -->\n"
        f"```sh\n{command.strip()}\n```\n\n"
        "`--quick` is a smoke run of under two minutes (20,000 orders, 1,000 creates).\n\n"
        f"### Machine\n\n{machine}\n\n"
        f"### Figures\n\n{tables}\n"
        "### Method\n\n" + "".join(f"- {note}\n" for note in notes)
    )


def write_section(text: str) -> None:
    """Put ``text`` in place of the page's Orders API section, or at its end."""
    page = PAGE.read_text()
    start = page.find(f"\n{SECTION}\n")
    if start < 0:
        page = page.rstrip("\n") + "\n\n" + text
    else:
        end = page.find("\n## ", start + len(SECTION) + 2)
        page = page[: start + 1] + text + ("" if end < 0 else "\n" + page[end + 1 :])
    PAGE.write_text(page)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    figures: list[Figure] = []
    ratios: list[Ratio] = []
    contexts: list[str] = []
    steps: list[Callable[[], None]] = []
    if "writes" not in args.skip_set:

        def writes() -> None:
            found, judged = bench_writes(args)
            figures.extend(found)
            ratios.extend(judged)

        steps.append(writes)
    if "export" not in args.skip_set:

        def export() -> None:
            found, judged, context = bench_changes(args)
            figures.extend(found)
            ratios.extend(judged)
            contexts.append(context)

        steps.append(export)
    for step in steps:
        step()
    tables = markdown_table(figure_rows(figures)) + "\n" + markdown_table(ratio_rows(ratios))
    elapsed = time.perf_counter() - began
    say("")
    say(tables)
    say(f"bench took {elapsed / 60:.1f} minutes")
    if args.docs and figures:
        write_section(section(args, tables, contexts, elapsed))
        say(f"wrote the {SECTION.removeprefix('## ')} section of {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
