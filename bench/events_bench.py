"""Benchmark event delivery (API.md §7, issue 12 item 9) on PostgreSQL.

Two measurements, each with ``oms-export worker`` processes started as an operator starts them,
delivering to a loopback receiver that answers 200 (``OMS_EXPORT_CALLBACK_ALLOW_PRIVATE=1``):

- **Latency.** Changes at ``--rate`` a second (100) for ``--seconds`` (120), each an events row
  committed in a transaction of its own, as ``orders.outbox`` writes it, with one worker: the
  time from the commit (the row's ``occurred_at``, taken just before it) to the receiver
  reading the request, p50, p99 and max (target: p99 under 2 s).
- **Throughput.** A backlog of ``--backlog`` (5,000) pending events, one per order, committed at
  once while 1, 2 and 4 workers wait for work: deliveries a second until none is pending.

Everything runs on this machine (database, workers, receiver, the writer of changes), so the
figures are what one machine does with all of them at once. Prints a Markdown table.

Examples:
    .venv/bin/python bench/events_bench.py                       # ~4 min
    .venv/bin/python bench/events_bench.py --seconds 20 --backlog 2000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench_report import machine_description, markdown_table
from sqlalchemy import Engine, create_engine, func, insert, select, text
from sqlalchemy.engine import make_url

from oms_export.db.engine import make_engine, normalize_url
from oms_export.db.migrate import upgrade
from oms_export.db.schema import companies, events, orders
from oms_export.settings import Settings

DATABASE = "oms_export_events_bench"
TIMES = "\u00d7"
ROOT = Path(__file__).resolve().parents[1]
LOGS = ROOT / "bench" / ".data"


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class _Server(ThreadingHTTPServer):
    request_queue_size = 1024  # socketserver's 5 drops connections of concurrent senders


class Receiver:
    """Answers 200 to every PUT/POST and notes when each event id first arrived."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.requests = 0
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_PUT(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                at = time.time()
                with lock:
                    receiver.requests += 1
                    receiver.arrived.setdefault(self.headers["OMS-Event-Id"], at)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_PUT

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def fresh_database(admin_url: str) -> str:
    admin = create_engine(normalize_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{DATABASE}"'))
        version = conn.execute(text("SELECT version()")).scalar()
    admin.dispose()
    url = make_url(normalize_url(admin_url)).set(database=DATABASE)
    print(f"# {str(version).split(',')[0]}", file=sys.stderr)
    return url.render_as_string(hide_password=False)


def seed(engine: Engine, orders_wanted: int) -> tuple[int, list[int]]:
    """A receiving company and ``orders_wanted`` orders of it: (company id, order ids)."""
    now = utcnow()
    with engine.begin() as conn:
        company_id = conn.execute(
            insert(companies).returning(companies.c.id),
            {"ref_id": 2001, "name": "Receiver", "subscription": "enterprise"},
        ).scalar_one()
        conn.execute(
            insert(orders),
            [
                {"external_ref": f"B{n}", "company_id": company_id, "status": 4,
                 "is_free_of_charge": False, "updated_datetime": now}
                for n in range(orders_wanted)
            ],
        )  # fmt: skip
        order_ids = list(conn.scalars(select(orders.c.id).order_by(orders.c.id)))
    return int(company_id), order_ids


def event_row(company_id: int, order_id: int, url: str, now: datetime) -> dict[str, Any]:
    event_id = f"evt_{uuid.uuid4().hex}"
    body = json.dumps({"event_id": event_id, "id": order_id, "status": 4, "status_name": "x"})
    return {
        "event_id": event_id, "order_id": order_id, "company_id": company_id,
        "kind": "status_callback", "occurred_at": now, "status": 4, "url": url, "body": body,
        "state": "pending", "attempts": 0, "next_attempt_at": now,
    }  # fmt: skip


def pending(engine: Engine) -> int:
    with engine.connect() as conn:
        query = select(func.count()).select_from(events).where(events.c.state == "pending")
        return int(conn.execute(query).scalar_one())


@contextmanager
def workers(database_url: str, count: int, env: dict[str, str]) -> Iterator[None]:
    """``count`` ``oms-export worker`` processes, stopped by SIGTERM afterwards."""
    LOGS.mkdir(parents=True, exist_ok=True)
    started = []
    for n in range(count):
        err = (LOGS / f"events-worker-{n}.log").open("w")
        command = [sys.executable, "-m", "oms_export", "--database-url", database_url, "worker"]
        process = subprocess.Popen(command, env={**os.environ, **env}, stderr=err)
        started.append((process, err))
    time.sleep(3)  # imported and polling: the figures leave out start-up
    try:
        yield
    finally:
        for process, _err in started:
            process.terminate()
        for process, err in started:
            process.wait(timeout=30)
            err.close()


def latency_run(
    engine: Engine, database_url: str, env: dict[str, str], receiver: Receiver, args: Any
) -> dict[str, Any]:
    company_id, order_ids = seed(engine, 2000)
    written: dict[str, datetime] = {}
    with workers(database_url, 1, env):
        started = time.monotonic()
        for n in range(int(args.rate * args.seconds)):
            due = started + n / args.rate
            time.sleep(max(0.0, due - time.monotonic()))
            now = utcnow()
            row = event_row(company_id, random.choice(order_ids), receiver.url, now)
            with engine.begin() as conn:  # one change, one transaction
                conn.execute(insert(events), row)
            written[row["event_id"]] = now
        wrote_for = time.monotonic() - started
        deadline = time.monotonic() + 60
        while pending(engine) and time.monotonic() < deadline:
            time.sleep(0.2)
    late = [
        receiver.arrived[event_id] - at.replace(tzinfo=UTC).timestamp()
        for event_id, at in written.items()
        if event_id in receiver.arrived
    ]
    cuts = statistics.quantiles(late, n=100)
    return {
        "events": len(written),
        "rate": len(written) / wrote_for,
        "delivered": len(late),
        "p50": cuts[49],
        "p99": cuts[98],
        "max": max(late),
    }


def throughput_run(
    engine: Engine,
    database_url: str,
    env: dict[str, str],
    receiver: Receiver,
    count: int,
    backlog: int,
) -> dict[str, Any]:
    with engine.begin() as conn:
        conn.execute(
            text("TRUNCATE event_attempts, events, orders, companies RESTART IDENTITY CASCADE")
        )
    company_id, order_ids = seed(engine, backlog)
    with workers(database_url, count, env):
        now = utcnow()
        rows = [event_row(company_id, order_id, receiver.url, now) for order_id in order_ids]
        with engine.begin() as conn:
            conn.execute(insert(events), rows)
        started = time.monotonic()
        while pending(engine):
            time.sleep(0.05)
        elapsed = time.monotonic() - started
    return {
        "workers": count,
        "events": backlog,
        "seconds": elapsed,
        "per_second": backlog / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--backlog", type=int, default=5000)
    parser.add_argument("--workers", default="1,2,4", help="worker counts of the throughput runs")
    args = parser.parse_args()

    database_url = fresh_database(args.postgres_url)
    engine = make_engine(Settings(database_url=database_url))
    upgrade(engine)
    receiver = Receiver()
    env = {"OMS_EXPORT_CALLBACK_ALLOW_PRIVATE": "1", "OMS_EXPORT_SECRET_KEY": "bench"}
    try:
        latency = latency_run(engine, database_url, env, receiver, args)
        runs = [
            throughput_run(engine, database_url, env, receiver, int(n), args.backlog)
            for n in args.workers.split(",")
        ]
    finally:
        receiver.close()
        engine.dispose()

    print(f"\n$ {shlex.join([Path(sys.executable).name, *sys.argv])}\n")
    print(markdown_table([
        ["latency run", "changes", "changes/s", "delivered", "p50", "p99", "max"],
        ["1 worker", str(latency["events"]), f"{latency['rate']:.1f}", str(latency["delivered"]),
         f"{latency['p50']:.3f} s", f"{latency['p99']:.3f} s", f"{latency['max']:.3f} s"],
    ]))  # fmt: skip
    print(markdown_table([
        ["workers", "backlog", "drained in", "deliveries/s", "vs 1 worker"],
        *[[str(r["workers"]), str(r["events"]), f"{r['seconds']:.1f} s",
           f"{r['per_second']:.0f}", f"{r['per_second'] / runs[0]['per_second']:.2f}{TIMES}"]
          for r in runs],
    ]))  # fmt: skip
    print("\n".join(machine_description(None)))


if __name__ == "__main__":
    main()
