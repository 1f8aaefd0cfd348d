"""``pull --state``: each run delivers the completed rows not delivered before, exactly once."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, select, update

from oms_export.admin.demo import load_demo
from oms_export.db.schema import companies, orders
from oms_export.settings import Settings
from tests import factories as f
from tests.client.pulling import pull, pull_command, pull_env, service_rows
from tests.live import LiveServer

COMPLETED = {"filter[completion_datetime:gte]": "0001-01-01 00:00:00"}


@pytest.fixture
def demo(engine: Engine, settings: Settings) -> dict[str, Any]:
    return load_demo(engine, settings, orders=200, seed=5)


def ndjson(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def keys(rows: list[dict[str, Any]]) -> list[tuple[int, int | None]]:
    return [(row["id"], row["items__id"]) for row in rows]


def company_id(engine: Engine, ref_id: int) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(select(companies.c.id).where(companies.c.ref_id == ref_id)).scalar_one()
        )


def at(text: str, delta: timedelta = timedelta()) -> datetime:
    return datetime.fromisoformat(text) + delta


def test_a_second_run_delivers_only_new_and_late_completing_orders(
    live_server: LiveServer, demo: dict[str, Any], engine: Engine, tmp_path: Path
) -> None:
    state, first, second, third = (tmp_path / name for name in ("s.json", "1.nd", "2.nd", "3.nd"))
    run = pull(live_server.url, demo, "--state", str(state), "-o", str(first), "--format", "ndjson")
    assert run.returncode == 0, run.stderr
    completed = service_rows(live_server.url, demo, COMPLETED)
    assert ndjson(first) == completed
    assert len(completed) < len(service_rows(live_server.url, demo))  # incomplete ones wait
    mark = orjson.loads(state.read_bytes())["high_water"]
    assert mark == max(row["completion_datetime"] for row in completed)

    again = pull(
        live_server.url, demo, "--state", str(state), "-o", str(second), "--format", "ndjson"
    )
    assert again.returncode == 0, again.stderr
    assert second.read_bytes() == b""
    assert "delivered before" in again.stderr.decode()

    acme = company_id(engine, 1001)
    items = [{"sku": "NEW-1", "quantity": 1}, {"sku": "NEW-2", "quantity": 3}]
    new = f.order(
        engine, acme, "NEW", items=items, completion_datetime=at(mark, timedelta(hours=1))
    )
    on_mark = f.order(engine, acme, "ON-MARK", completion_datetime=at(mark))
    too_late = f.order(engine, acme, "TOO-LATE", completion_datetime=at(mark, -timedelta(days=1)))
    with engine.begin() as conn:
        waiting = conn.execute(
            select(orders.c.id)
            .where(orders.c.completion_datetime.is_(None), orders.c.company_id == acme)
            .limit(1)
        ).scalar_one()
        conn.execute(
            update(orders)
            .where(orders.c.id == waiting)
            .values(completion_datetime=at(mark, -timedelta(minutes=5)))
        )

    third_run = pull(
        live_server.url, demo, "--state", str(state), "-o", str(third), "--format", "ndjson"
    )
    assert third_run.returncode == 0, third_run.stderr
    delivered = ndjson(third)
    everything = service_rows(live_server.url, demo, COMPLETED)
    assert delivered == [row for row in everything if row["id"] in {new, on_mark, waiting}]
    assert {row["id"] for row in delivered} == {new, on_mark, waiting}
    assert too_late not in {row["id"] for row in delivered}  # beyond the 10-minute lookback
    assert orjson.loads(state.read_bytes())["high_water"] == str(at(mark, timedelta(hours=1)))


def test_a_longer_lookback_catches_an_order_completed_further_back(
    live_server: LiveServer, demo: dict[str, Any], engine: Engine, tmp_path: Path
) -> None:
    state, first, second = tmp_path / "s.json", tmp_path / "1.json", tmp_path / "2.json"
    sync = ["--state", str(state), "--lookback", "6h"]
    assert pull(live_server.url, demo, *sync, "-o", str(first)).returncode == 0
    mark = orjson.loads(state.read_bytes())["high_water"]
    late = at(mark, -timedelta(hours=5))
    old = f.order(engine, company_id(engine, 1001), "OLD", completion_datetime=late)
    run = pull(live_server.url, demo, *sync, "-o", str(second))
    assert run.returncode == 0, run.stderr
    assert [row["id"] for row in orjson.loads(second.read_bytes())] == [old]


def test_making_the_lookback_longer_between_runs_delivers_nothing_twice(
    live_server: LiveServer, demo: dict[str, Any], tmp_path: Path
) -> None:
    state, first, second = tmp_path / "s.json", tmp_path / "1.json", tmp_path / "2.json"
    assert pull(live_server.url, demo, "--state", str(state), "-o", str(first)).returncode == 0
    run = pull(live_server.url, demo, "--state", str(state), "--lookback", "30d", "-o", str(second))
    assert run.returncode == 0, run.stderr
    assert orjson.loads(second.read_bytes()) == []
    assert len(orjson.loads(first.read_bytes())) > 50


def test_a_state_file_of_another_pull_is_refused(
    live_server: LiveServer, demo: dict[str, Any], tmp_path: Path
) -> None:
    state = tmp_path / "s.json"
    assert pull(live_server.url, demo, "--state", str(state), "--status", "8").returncode == 0
    before = state.read_bytes()
    other = pull(live_server.url, demo, "--state", str(state), "--status", "516")
    assert other.returncode == 1
    assert "another status" in other.stderr.decode()
    assert state.read_bytes() == before


def kill_during(command: list[str], env: dict[str, str], delay: float) -> int:
    """Start a pull, SIGKILL it after ``delay`` seconds; its exit status (-9 when killed)."""
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    return process.wait(timeout=30)


def table_rows(path: Path, table: str) -> list[tuple[int, int | None]]:
    with sqlite3.connect(path) as conn:
        query = f'SELECT id, items__id FROM "{table}" ORDER BY id, items__id'  # noqa: S608
        return conn.execute(query).fetchall()


def runs_killed_then_finished(
    command: list[str], env: dict[str, str], delays: tuple[float, ...], state: Path, out: Path
) -> tuple[list[int], list[dict[str, Any]]]:
    """Pulls SIGKILLed after each delay, then one left to finish; the exit statuses, and the
    rows a reader collected: the output of each run that replaced the state file (its commit)."""
    statuses, collected = [], []
    for delay in (*delays, None):
        before = state.read_bytes() if state.exists() else b""
        if delay is None:
            statuses.append(
                subprocess.run(command, env=env, check=False, capture_output=True).returncode
            )
        else:
            statuses.append(kill_during(command, env, delay))
        if state.exists() and state.read_bytes() != before and out.exists():
            collected += ndjson(out)
    return statuses, collected


def in_table_order(rows: list[tuple[int, int | None]]) -> list[tuple[int, int | None]]:
    return sorted(rows, key=lambda key: (key[0], key[1] or 0))


@pytest.mark.parametrize("target", ["file", "table"])
def test_killing_a_pull_at_any_moment_and_running_it_again_delivers_every_row_once(
    live_server: LiveServer, demo: dict[str, Any], engine: Engine, tmp_path: Path, target: str
) -> None:
    state, out, db = tmp_path / "s.json", tmp_path / "out.ndjson", tmp_path / "reports.db"
    where = ["-o", str(out)] if target == "file" else ["--to", f"sqlite:///{db}", "--table", "t"]
    args = ["--state", str(state), "--page-size", "1", "--quiet", *where]
    command, env = pull_command(live_server.url, *args), pull_env(demo)

    statuses, collected = runs_killed_then_finished(command, env, (0.3, 0.8, 1.5), state, out)
    assert -signal.SIGKILL in statuses[:-1]  # at least one kill landed mid-run
    assert statuses[-1] == 0
    first = keys(service_rows(live_server.url, demo, COMPLETED))
    if target == "file":
        assert keys(collected) == first
        assert not (tmp_path / ".out.ndjson.part").exists()
    else:
        assert table_rows(db, "t") == in_table_order(first)

    items = [{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": 2}]
    later = datetime(2099, 1, 1)
    for n in range(3):
        f.order(
            engine, company_id(engine, 1002), f"LATER-{n}", items=items, completion_datetime=later
        )
    statuses, collected = runs_killed_then_finished(command, env, (0.2, 0.4), state, out)
    assert statuses[-1] == 0
    everything = keys(service_rows(live_server.url, demo, COMPLETED))
    if target == "file":
        assert keys(collected) == everything[len(first) :]
        assert len(collected) == 6
    else:
        assert table_rows(db, "t") == in_table_order(everything)
