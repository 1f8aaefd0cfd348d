"""Time every console page (API.md §8, issue 13 item 8) on the 1M-order demo store, PostgreSQL.

Reuses (or builds) ``orders_bench.py``'s demo store, migrates it to head (the report indexes of
0006, and the reports' totals of 0007, backfilled from the orders on first migration), vacuums
the totals' tables as autovacuum soon would, adds a bench admin and a viewer of company 1001,
starts ``oms-export serve``, signs in as each, and sends each page ``--requests`` times one after
another (after one unmeasured request), printing p50 and p99 per page as a Markdown table. The
target is every page under 200 ms.

The demo's orders run from 2023-01-01 to early 2026, so the reports are timed for the default
period (the last 30 days: empty on this store), for the last 30 days of the data, and for its
last year.

Examples:
    .venv/bin/python bench/console_bench.py                  # reuses the 1M store: ~2 min
    .venv/bin/python bench/console_bench.py --orders 20000   # a small store of its own
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import httpx
from bench_http import running, service_environment
from bench_report import markdown_table
from orders_bench import BENCH, demo_store, engine_for, vacuum
from sqlalchemy import func, select

from oms_export.console.users import add_user
from oms_export.db.schema import companies, orders
from oms_export.errors import InvalidRequest

PASSWORD = "bench password, not secret"  # noqa: S105 -- a bench store's user, made here
ADMIN = "bench.admin@example.com"
VIEWER = "bench.viewer@example.com"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TARGET_MS = 200.0
TOTALS = ("report_status_totals", "report_skus", "report_sku_totals", "report_dispatch_totals")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=1_000_000, help="orders of the demo store")
    parser.add_argument("--requests", type=int, default=20, help="requests per page")
    parser.add_argument("--seed", type=int, default=0, help="seed of the demo set")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the store even if intact")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--data-dir", type=Path, default=BENCH / ".data")
    return parser.parse_args(argv)


def sign_in(http: httpx.Client, email: str) -> None:
    found = CSRF.search(http.get("/console/sign-in").text)
    assert found, "no CSRF token on the sign-in page"
    answer = http.post(
        "/console/sign-in", data={"csrf_token": found[1], "email": email, "password": PASSWORD}
    )
    assert answer.status_code == 303, f"sign-in of {email} failed: {answer.status_code}"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def time_page(http: httpx.Client, path: str, count: int) -> tuple[int, list[float]]:
    http.get(path)  # not measured: the first request of a page warms its caches
    status, seconds = 0, []
    for _ in range(count):
        began = time.perf_counter()
        answer = http.get(path)
        seconds.append(time.perf_counter() - began)
        status = answer.status_code
    return status, seconds


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    store = demo_store(
        argparse.Namespace(
            orders=args.orders,
            seed=args.seed,
            rebuild=args.rebuild,
            postgres_url=args.postgres_url,
            data_dir=args.data_dir,
        )
    )
    engine = engine_for(store.url)  # migrates to head: the report indexes and totals are built
    for table in TOTALS:
        vacuum(store.url, table)  # what autovacuum does soon after the backfill; quick when done
    try:
        for email, role, refs in ((ADMIN, "admin", []), (VIEWER, "viewer", [1001])):
            with contextlib.suppress(InvalidRequest):  # made by an earlier run
                add_user(engine, email, PASSWORD, role=role, company_ref_ids=refs)
        with engine.connect() as conn:
            last, last_id = conn.execute(
                select(func.max(orders.c.creation_datetime), func.max(orders.c.id))
            ).one()
            ref, external_ref = conn.execute(
                select(orders.c.ref, orders.c.external_ref).where(orders.c.id == last_id)
            ).one()
            viewers_order = conn.execute(
                select(func.max(orders.c.id))
                .join(companies, companies.c.id == orders.c.company_id)
                .where(companies.c.ref_id == 1001)
            ).scalar_one()
    finally:
        engine.dispose()
    end = last.date()
    month = f"from={end - timedelta(days=29)}&to={end}"
    year = f"from={end - timedelta(days=364)}&to={end}"
    admin_pages = [
        "/console",
        f"/console/orders?q={ref}",
        f"/console/orders?q={external_ref}",
        f"/console/orders/{last_id}",
        "/console/export",
        "/console/admin/companies",
        "/console/admin/clients",
        "/console/admin/users",
        "/console/admin/events",
        "/console/reports",
        f"/console/reports?{month}",
        f"/console/reports?{month}&company=1001",
        f"/console/reports?{year}",
        f"/console/reports/top-skus.csv?{month}",
    ]
    viewer_pages = [f"/console/reports?{month}", f"/console/orders/{viewers_order}"]
    env, _ = service_environment()
    serve = [sys.executable, "-m", "oms_export", "--database-url", store.url, "serve"]
    rows = [["who", "page", "status", "p50 ms", "p99 ms"]]
    slow = []
    with running(serve, env, args.data_dir / "logs", "console") as server:
        for who, email, pages in (("admin", ADMIN, admin_pages), ("viewer", VIEWER, viewer_pages)):
            with httpx.Client(base_url=server.url, timeout=60) as http:
                sign_in(http, email)
                for path in pages:
                    status, seconds = time_page(http, path, args.requests)
                    p50, p99 = percentile(seconds, 50) * 1000, percentile(seconds, 99) * 1000
                    rows.append([who, f"`{path}`", str(status), f"{p50:.0f}", f"{p99:.0f}"])
                    if p99 > TARGET_MS:
                        slow.append(path)
                    print(f"  {who} {path}: {status}, p50 {p50:.0f} ms, p99 {p99:.0f} ms")
    print(f"\n{store.orders:,} orders, {store.items:,} items; {args.requests} requests a page\n")
    print(markdown_table(rows))
    if slow:
        print(f"\nover {TARGET_MS:.0f} ms at p99: {', '.join(slow)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
