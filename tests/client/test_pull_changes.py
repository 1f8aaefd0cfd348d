"""``pull --changes --state``: a report kept in sync by ``updated_datetime`` (API.md §6.4).

Every order changed since the last pull is delivered again, all its rows; ``--to`` replaces the
rows it held for that order, so the table holds each order once, as it is now.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from sqlalchemy import Engine, update

from oms_export.auth.clients import create_client
from oms_export.db import schema
from oms_export.pull.state import BEGINNING, CHANGES, SyncState, Window
from oms_export.settings import Settings
from tests import factories as f
from tests.client.pulling import pull, service_rows
from tests.client.test_table_output import Target
from tests.live import LiveServer

FULFILMENT = {"options[includeFulfilment]": "1"}
TEN_MINUTES = timedelta(minutes=10)


@pytest.fixture
def store(engine: Engine, settings: Settings) -> dict[str, Any]:
    """Company 1001's client, and three orders changed at different times:

    A at 10:00 (two items), B at 11:55 (inside the lookback of the last change), C at 12:00 (the
    last change), all on 2024-05-01.
    """
    acme = f.company(engine, 1001, "order_manager")
    other = f.company(engine, 1002, "order_manager")
    credentials = create_client(engine, settings, name="reports", company_ref_ids=[1001])
    two = [{"sku": "TEE", "quantity": 2}, {"sku": "MUG", "quantity": 1}]
    credentials["orders"] = {
        "A": f.order(engine, acme, "A", status=4, items=two, updated_datetime=f.utc("2024-05-01 10:00:00")),
        "B": f.order(engine, acme, "B", status=1, items=[{"sku": "CAP"}], updated_datetime=f.utc("2024-05-01 11:55:00")),
        "C": f.order(engine, acme, "C", status=8, updated_datetime=f.utc("2024-05-01 12:00:00")),
    }  # fmt: skip
    f.order(engine, other, "NOT-OURS", updated_datetime=f.utc("2024-05-01 12:30:00"))
    return credentials


def change(engine: Engine, order_id: int, updated: str | None, **values: Any) -> None:
    """An order changed as the store changes it: its fields and, unless None, its time."""
    if updated is not None:
        values["updated_datetime"] = f.utc(updated)
    with engine.begin() as conn:
        conn.execute(update(schema.orders).where(schema.orders.c.id == order_id).values(values))


def cancel_every_item(engine: Engine, order_id: int) -> None:
    items = schema.order_items
    with engine.begin() as conn:
        conn.execute(
            update(items)
            .where(items.c.order_id == order_id)
            .values(status=7, cancelled_quantity=items.c.quantity)
        )


def ndjson(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def delivered(path: Path) -> list[tuple[str, str]]:
    """Which orders a run's file holds, with the time delivered, one entry per order."""
    return list(
        dict.fromkeys((row["external_ref"], row["updated_datetime"]) for row in ndjson(path))
    )


def by_key(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda row: (row["id"], row["items__id"] or 0))


@pytest.fixture
def target(database_url: str, tmp_path: Path) -> Any:
    """The report's table: a SQLite file, or a table beside the store's own in PostgreSQL."""
    if database_url.startswith("sqlite"):
        yield Target("sqlite", f"sqlite:///{tmp_path}/reports.db")
        return
    reports = Target("postgresql", database_url.replace("+psycopg", ""))
    yield reports
    with psycopg.connect(reports.url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS order_item_details")


def test_a_changed_order_replaces_its_rows_in_the_table_which_holds_each_order_once(
    live_server: LiveServer, store: dict[str, Any], engine: Engine, tmp_path: Path, target: Target
) -> None:
    sync = ["--changes", "--state", str(tmp_path / "s.json"), "--to", target.url]
    first = pull(live_server.url, store, *sync)
    assert first.returncode == 0, first.stderr
    assert target.rows() == by_key(service_rows(live_server.url, store, FULFILMENT))
    assert "changed up to 2024-05-01 12:00:00" in first.stderr.decode()

    a = store["orders"]["A"]
    change(engine, a, "2024-05-01 12:30:00", status=128)
    cancel_every_item(engine, a)
    second = pull(live_server.url, store, *sync)
    assert second.returncode == 0, second.stderr
    now = by_key(service_rows(live_server.url, store, FULFILMENT))
    assert target.rows() == now
    rows_of_a = [row for row in target.rows() if row["id"] == a]
    assert [
        (r["status"], r["items__status"], r["items__cancelled_quantity"], r["updated_datetime"])
        for r in rows_of_a
    ] == [(128, 7, 2, "2024-05-01 12:30:00"), (128, 7, 1, "2024-05-01 12:30:00")]
    assert len(target.rows()) == 4  # A's two items, B's one, C's item-less row: each once


def test_unchanged_orders_are_not_delivered_again_and_a_changed_one_is_whole(
    live_server: LiveServer, store: dict[str, Any], engine: Engine, tmp_path: Path
) -> None:
    state = tmp_path / "s.json"
    runs = iter(tmp_path / f"{n}.ndjson" for n in range(1, 10))

    def run() -> Path:
        out = next(runs)
        done = pull(live_server.url, store, "--changes", "--state", str(state), "-o", str(out))
        assert done.returncode == 0, done.stderr
        return out

    first = run()
    assert delivered(first) == [
        ("A", "2024-05-01 10:00:00"), ("B", "2024-05-01 11:55:00"), ("C", "2024-05-01 12:00:00"),
    ]  # fmt: skip
    assert ndjson(first) == service_rows(live_server.url, store, FULFILMENT)
    assert orjson.loads(state.read_bytes())["high_water"] == "2024-05-01 12:00:00"

    # B lies inside the lookback, asked for again and left out; A lies before it. C, at the
    # mark's very second, is delivered once more (the next test says why).
    assert delivered(run()) == [("C", "2024-05-01 12:00:00")]

    change(engine, store["orders"]["A"], "2024-05-01 12:30:00", status=512)
    third = run()
    assert delivered(third) == [("A", "2024-05-01 12:30:00"), ("C", "2024-05-01 12:00:00")]
    assert [row["status"] for row in ndjson(third) if row["external_ref"] == "A"] == [512, 512]

    assert delivered(run()) == [("A", "2024-05-01 12:30:00")]  # the new mark's second
    change(engine, store["orders"]["B"], "2024-05-01 13:00:00", status=4)
    change(engine, store["orders"]["C"], "2024-05-01 13:05:00", status=64)
    assert delivered(run()) == [
        ("A", "2024-05-01 12:30:00"),  # still at the mark this run starts from
        ("B", "2024-05-01 13:00:00"),
        ("C", "2024-05-01 13:05:00"),
    ]
    assert delivered(run()) == [("C", "2024-05-01 13:05:00")]


def test_an_order_changed_again_in_the_second_it_was_read_is_delivered_with_its_change(
    live_server: LiveServer, store: dict[str, Any], engine: Engine, tmp_path: Path
) -> None:
    """The time is kept to the second: a change in the second a pull read the order leaves it
    with the time delivered. The newest second is the one a pull can have read mid-way, so the
    orders at the mark are delivered again, and the change is not lost."""
    state, first, second = tmp_path / "s.json", tmp_path / "1.ndjson", tmp_path / "2.ndjson"
    sync = ["--changes", "--state", str(state)]
    assert pull(live_server.url, store, *sync, "-o", str(first)).returncode == 0
    change(engine, store["orders"]["C"], None, status=64)  # same second: 12:00:00
    assert pull(live_server.url, store, *sync, "-o", str(second)).returncode == 0
    assert [(row["external_ref"], row["status"]) for row in ndjson(second)] == [("C", 64)]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--changes"], "--changes needs --state FILE"),
        (["--changes", "--state", "s.json", "--completed-after", "2024-05-01"], "no --completed-after or --completed-before"),
        (["--changes", "--state", "s.json", "--completed-before", "2024-05-01"], "no --completed-after or --completed-before"),
    ],
)  # fmt: skip
def test_changes_without_a_state_or_with_completion_filters_is_a_usage_error(
    live_server: LiveServer, store: dict[str, Any], tmp_path: Path, args: list[str], says: str
) -> None:
    args = [str(tmp_path / arg) if arg == "s.json" else arg for arg in args]
    done = pull(live_server.url, store, *args)
    assert done.returncode == 2
    assert says in done.stderr.decode()
    assert done.stdout == b""
    assert not (tmp_path / "s.json").exists()


@pytest.mark.parametrize(
    ("first", "then"), [([], ["--changes"]), (["--changes"], [])], ids=["completion", "changes"]
)
def test_a_state_file_of_the_other_mode_is_refused(
    live_server: LiveServer,
    store: dict[str, Any],
    tmp_path: Path,
    first: list[str],
    then: list[str],
) -> None:
    state, out = tmp_path / "s.json", tmp_path / "out.json"
    assert (
        pull(live_server.url, store, *first, "--state", str(state), "-o", str(out)).returncode == 0
    )
    before = state.read_bytes()
    other = pull(live_server.url, store, *then, "--state", str(state), "-o", str(out))
    assert other.returncode == 1
    assert "belongs to a pull with another mode" in other.stderr.decode()
    assert state.read_bytes() == before


def row(order: int, item: int | None, updated: str) -> dict[str, Any]:
    return {"id": order, "items__id": item, "updated_datetime": updated}


def test_the_window_leaves_out_an_order_delivered_at_the_same_time_whole() -> None:
    before = SyncState(
        {"mode": "changes"}, "2024-05-01 12:00:00", "2024-05-01 11:50:00",
        {(3, 0): "2024-05-01 11:55:00", (4, 0): "2024-05-01 11:58:00", (5, 0): "2024-05-01 12:00:00"},
    )  # fmt: skip
    window = Window(before, TEN_MINUTES, CHANGES)
    assert window.bound == "2024-05-01 11:50:00"
    admitted = [
        window.admit(r)
        for r in (
            row(3, 31, "2024-05-01 11:55:00"),  # as delivered: left out, both rows
            row(3, 32, "2024-05-01 11:55:00"),
            row(4, 41, "2024-05-01 12:10:00"),  # changed since: delivered again
            row(5, None, "2024-05-01 12:00:00"),  # at the mark's second: delivered again
            row(6, 61, "2024-05-01 11:51:00"),  # new to the window
        )
    ]
    assert admitted == [False, False, True, True, True]
    assert window.skipped == 2
    state = window.next_state()
    assert state.high_water == "2024-05-01 12:10:00"
    assert state.delivered == {
        (4, 0): "2024-05-01 12:10:00",
        (5, 0): "2024-05-01 12:00:00",
    }  # 11:55 and 11:51 fell out of the lookback of the new mark


def test_a_first_changes_window_asks_for_every_order() -> None:
    window = Window(SyncState({"mode": "changes"}), TEN_MINUTES, CHANGES)
    assert window.bound == BEGINNING
    assert window.admit(row(1, None, "2024-05-01 09:00:00"))
    assert window.next_state().delivered == {(1, 0): "2024-05-01 09:00:00"}
