"""What a person watching ``pull`` reads, with no server: the summary's figures, a retry as one
line off a terminal, and the live display on a (rich) terminal."""

from __future__ import annotations

import io

from rich.console import Console

from oms_export.client import Query, Retrying
from oms_export.client.query import Pager
from oms_export.pull.progress import LiveProgress, RetryLines, Summary

NOTICE = Retrying(1, 3, "http://h:8000/token", "ConnectError: [Errno 111] Connection refused", 0.5)


def test_the_summary_says_what_was_downloaded_and_what_was_written() -> None:
    summary = Summary(
        rows=1234,
        skipped=0,
        pages=3,
        bytes=2_345_678,
        retries=1,
        seconds=2.0,
        destination="orders.csv",
        written=987_654,
    )
    assert summary.line() == (
        "Pulled 1,234 rows (3 pages, 2.3 MB downloaded, 987.7 KB written, 1 retry) in 2.0 s, "
        "617 rows/s -> orders.csv"
    )


def test_a_table_has_no_bytes_written_to_report() -> None:
    summary = Summary(
        rows=1, skipped=2, pages=1, bytes=999, retries=0, seconds=0.0, destination="table t in x"
    )
    assert summary.line() == (
        "Pulled 1 row (1 page, 999 B downloaded, 0 retries) in 0.0 s, 0 rows/s -> table t in x; "
        "left out 2 rows delivered before"
    )


def test_off_a_terminal_each_retry_is_one_line_and_progress_is_silent() -> None:
    stream = io.StringIO()
    with RetryLines(stream) as watcher:
        watcher.update(Pager(Query()), 10)
        watcher.retrying(NOTICE)
        watcher.retrying(Retrying(2, 3, "http://h:8000/token", "ReadTimeout", 1.0))
    assert stream.getvalue().splitlines() == [
        "Attempt 1 of 3 failed: http://h:8000/token: ConnectError: [Errno 111] Connection "
        "refused; trying again in 0.5 s",
        "Attempt 2 of 3 failed: http://h:8000/token: ReadTimeout; trying again in 1.0 s",
    ]


def test_on_a_terminal_a_retry_shows_under_the_line_until_rows_flow_again() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100, color_system=None)
    pager = Pager(Query())
    with LiveProgress(console) as live:
        live.retrying(NOTICE)  # drawn at once, not at the next tick
        shown_while_waiting = screen.getvalue()
        pager.rows, pager.bytes = 10, 5000
        live.update(pager, 1234)
    assert "Retrying: attempt 1 of 3 failed on http://h:8000/token" in shown_while_waiting
    assert (
        "  last error: ConnectError: [Errno 111] Connection refused; next attempt in 0.5 s"
        in shown_while_waiting
    )
    after = screen.getvalue()[len(shown_while_waiting) :]
    assert "10 rows 1.2 KB written, 5.0 KB downloaded" in after
    assert "Retrying" not in after  # rows came: the retry worked and its note is gone
