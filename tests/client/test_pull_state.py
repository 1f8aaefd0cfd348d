"""The sync state's rules, one at a time, without a service; and its lock, across processes."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from oms_export.pull.state import BEGINNING, StateError, SyncState, Window, hold_lock

PULL = {"url": "http://x", "status": "8"}
TEN_MINUTES = timedelta(minutes=10)


def row(order: int, item: int | None, completed: str) -> dict[str, Any]:
    return {"id": order, "items__id": item, "completion_datetime": completed}


def test_a_first_run_asks_for_every_completed_order() -> None:
    window = Window(SyncState(PULL), TEN_MINUTES)
    assert window.bound == BEGINNING
    assert window.next_state().high_water is None  # no row, no mark


def test_the_next_state_keeps_only_the_keys_inside_the_lookback_of_the_mark() -> None:
    window = Window(SyncState(PULL), TEN_MINUTES)
    rows = [
        row(1, 1, "2024-05-01 10:00:00"),
        row(2, None, "2024-05-01 11:55:00"),
        row(3, 7, "2024-05-01 12:00:00"),
        row(3, 8, "2024-05-01 12:00:00"),
    ]
    assert [window.admit(r) for r in rows] == [True] * 4
    state = window.next_state()
    assert state.high_water == "2024-05-01 12:00:00"
    assert state.covered_from == "2024-05-01 11:50:00"
    assert state.delivered == {
        (2, 0): "2024-05-01 11:55:00",
        (3, 7): "2024-05-01 12:00:00",
        (3, 8): "2024-05-01 12:00:00",
    }


def test_rows_delivered_before_are_left_out_but_move_the_mark_and_keep_their_new_time() -> None:
    before = SyncState(
        PULL, "2024-05-01 12:00:00", "2024-05-01 11:50:00", {(3, 7): "2024-05-01 12:00:00"}
    )
    window = Window(before, TEN_MINUTES)
    assert window.bound == "2024-05-01 11:50:00"
    assert window.admit(row(3, 7, "2024-05-01 12:30:00")) is False
    assert window.admit(row(4, 9, "2024-05-01 11:58:00")) is True
    assert window.skipped == 1
    state = window.next_state()
    assert state.high_water == "2024-05-01 12:30:00"
    assert state.delivered == {(3, 7): "2024-05-01 12:30:00"}  # its new time; 11:58 fell out


def test_a_longer_lookback_never_asks_before_what_the_state_covers() -> None:
    before = SyncState(PULL, "2024-05-01 12:00:00", "2024-05-01 11:50:00", {})
    assert Window(before, timedelta(days=30)).bound == "2024-05-01 11:50:00"
    assert Window(before, timedelta(minutes=1)).bound == "2024-05-01 11:59:00"


def test_many_rows_are_pruned_as_the_mark_rises_and_the_result_is_the_same() -> None:
    window = Window(SyncState(PULL), TEN_MINUTES)
    for minute in range(30_000):
        day, rest = divmod(minute, 24 * 60)
        moment = f"2024-05-{day + 1:02d} {rest // 60:02d}:{rest % 60:02d}:00"
        assert window.admit(row(minute + 1, minute + 1, moment))
    state = window.next_state()
    assert state.high_water == "2024-05-21 19:59:00"
    assert sorted(state.delivered.values())[0] == "2024-05-21 19:49:00"
    assert len(state.delivered) == 11


def test_a_saved_state_loads_back_equal(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    state = SyncState(
        dict(PULL), "2024-05-01 12:00:00", "2024-05-01 11:50:00", {(3, 7): "2024-05-01 12:00:00"}
    )
    state.save(path)
    assert SyncState.load(path, PULL) == state
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.json"]


def test_a_missing_state_file_is_a_first_run(tmp_path: Path) -> None:
    assert SyncState.load(tmp_path / "none.json", PULL) == SyncState(dict(PULL))


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"{not json", "is not a pull state file"),
        (b'{"version": 1}', "is not a pull state file"),
        (b'{"version": 99}', "state version 99"),
        (b"[]", "is not a pull state file"),
    ],
)
def test_an_unreadable_state_file_is_refused_not_restarted(
    tmp_path: Path, content: bytes, says: str
) -> None:
    path = tmp_path / "s.json"
    path.write_bytes(content)
    with pytest.raises(StateError, match=says):
        SyncState.load(path, PULL)
    assert path.read_bytes() == content


def test_a_state_of_another_pull_is_refused_naming_what_differs(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    SyncState(dict(PULL)).save(path)
    with pytest.raises(StateError, match="another status, url"):
        SyncState.load(path, {"url": "http://y", "status": "516"})


def test_a_second_pull_on_one_state_file_is_refused_while_the_first_runs(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    with hold_lock(path), pytest.raises(StateError, match="another pull is using"), hold_lock(path):
        pass
    with hold_lock(path):  # released
        pass


def test_the_state_lock_needs_no_fcntl_so_pull_imports_where_there_is_none(
    tmp_path: Path,
) -> None:
    """Windows has no ``fcntl``: here it is made unimportable, and ``pull`` still imports and
    still refuses a second run on one state file."""
    probe = (
        "import sys, warnings\n"
        "sys.modules['fcntl'] = None  # import fcntl now raises ImportError\n"
        "warnings.filterwarnings('ignore', 'only soft file lock')  # filelock's own fallback\n"
        "from pathlib import Path\n"
        "import oms_export.cli.pull\n"
        "from oms_export.pull.state import StateError, hold_lock\n"
        "path = Path(sys.argv[1])\n"
        "with hold_lock(path):\n"
        "    try:\n"
        "        with hold_lock(path):\n"
        "            print('not refused')\n"
        "    except StateError as exc:\n"
        "        print(exc)\n"
    )
    path = tmp_path / "sync.json"
    done = subprocess.run(
        [sys.executable, "-c", probe, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == f"another pull is using {path}; try again when it has finished\n"


def test_a_pull_in_another_process_is_refused_while_this_one_holds_the_state(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sync.json"
    command = [sys.executable, "-m", "oms_export", "pull", "--url", "http://127.0.0.1:9"]
    env = {**os.environ, "OMS_EXPORT_CLIENT_ID": "c", "OMS_EXPORT_CLIENT_SECRET": "s"}
    with hold_lock(path):
        done = subprocess.run(
            [*command, "--state", str(path)], env=env, capture_output=True, timeout=60, check=False
        )
    assert done.returncode == 1
    assert done.stderr.decode().splitlines() == [
        f"Error: another pull is using {path}; try again when it has finished"
    ]
    assert not path.exists()
