"""On a terminal, ``pull`` shows its progress live; the summary stays when it is done."""

from __future__ import annotations

import os
import pty
import select
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from oms_export.admin.demo import load_demo
from oms_export.settings import Settings
from tests.client.pulling import pull_command, pull_env
from tests.live import LiveServer


def run_on_a_terminal(command: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run with stderr on a pseudo-terminal; what the terminal showed, escape codes and all."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        command,
        env={**env, "COLUMNS": "120", "TERM": "xterm"},
        stdout=subprocess.DEVNULL,
        stderr=follower,
    )
    os.close(follower)
    shown = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            process.kill()
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    return process.wait(timeout=30), shown.decode(errors="replace")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_terminal_sees_live_rows_and_the_summary(
    live_server: LiveServer, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    demo: dict[str, Any] = load_demo(engine, settings, orders=300)
    out = tmp_path / "orders.ndjson"
    command = pull_command(live_server.url, "--page-size", "3", "-o", str(out))
    status, shown = run_on_a_terminal(command, pull_env(demo))
    assert status == 0
    assert " rows" in shown.split("Pulled")[0]  # the live line came before the summary
    assert "rows/s" in shown
    assert "\x1b[" in shown  # redrawn in place
    rows = out.read_bytes().count(b"\n")
    assert f"Pulled {rows:,} rows" in shown


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_quiet_keeps_a_terminal_silent(
    live_server: LiveServer, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    demo: dict[str, Any] = load_demo(engine, settings, orders=20)
    command = pull_command(live_server.url, "--quiet", "-o", str(tmp_path / "o.json"))
    status, shown = run_on_a_terminal(command, pull_env(demo))
    assert (status, shown) == (0, "")


def test_a_terminal_sees_each_retry_while_it_waits_and_the_error_naming_the_url(
    tmp_path: Path,
) -> None:
    """Against a dead service the display says why nothing moves, not "0 rows" and a clock."""
    credentials = {"client_id": "c", "client_secret": "s"}
    command = pull_command("http://127.0.0.1:9", "--retries", "2", "-o", str(tmp_path / "o.json"))
    status, shown = run_on_a_terminal(command, pull_env(credentials))
    assert status == 1
    assert "Retrying: attempt 1 of 3 failed on http://127.0.0.1:9/token" in shown
    assert "Retrying: attempt 2 of 3 failed on http://127.0.0.1:9/token" in shown
    assert "  last error: ConnectError: [Errno 111] Connection refused; next attempt in " in shown
    assert (
        "Error: http://127.0.0.1:9/token: 3 attempts failed, the last with ConnectError: "
        "[Errno 111] Connection refused" in shown
    )
