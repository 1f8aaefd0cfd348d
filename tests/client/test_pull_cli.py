"""``oms-export pull`` as a user runs it: a real process against the real service, both stores."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine

from oms_export.admin.demo import load_demo
from oms_export.settings import Settings
from tests.client.faultproxy import FaultProxy
from tests.client.pulling import (
    ALL_OPTIONS,
    pull,
    pull_command,
    pull_env,
    service_export,
    service_rows,
)
from tests.client.test_table_output import Target
from tests.live import LiveServer


@pytest.fixture
def demo(engine: Engine, settings: Settings) -> dict[str, Any]:
    """300 demo orders: every status, option and attribute; a client of five companies."""
    return load_demo(engine, settings, orders=300, seed=3)


@pytest.mark.parametrize("fmt", ["json", "ndjson", "csv"])
def test_a_pull_writes_the_service_export_byte_for_byte(
    live_server: LiveServer, demo: dict[str, Any], tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / f"orders.{fmt}"
    done = pull(live_server.url, demo, "--include", "all", "--page-size", "7", "-o", str(out))
    assert done.returncode == 0, done.stderr
    expected = service_export(live_server.url, demo, {**ALL_OPTIONS, "format": fmt}).content
    assert out.read_bytes() == expected
    assert len(expected) > 100_000


def test_a_pull_to_stdout_takes_the_format_asked_for(
    live_server: LiveServer, demo: dict[str, Any]
) -> None:
    done = pull(live_server.url, demo, "--status", "8,516", "--format", "ndjson")
    assert done.returncode == 0, done.stderr
    expected = service_export(
        live_server.url, demo, {"filter[status:in]": "8,516", "format": "ndjson"}
    )
    assert done.stdout == expected.content
    assert done.stdout.count(b"\n") > 10


def test_a_pull_of_orders_nests_as_the_service_does(
    live_server: LiveServer, demo: dict[str, Any]
) -> None:
    done = pull(live_server.url, demo, "--shape", "orders", "--include", "price,attributes")
    assert done.returncode == 0, done.stderr
    params = {
        "shape": "orders",
        "options[includeProductPrice]": "1",
        "options[includeAttributes]": "1",
    }
    assert orjson.loads(done.stdout) == service_rows(live_server.url, demo, params)


def test_filters_narrow_the_pull_as_they_narrow_the_export(
    live_server: LiveServer, demo: dict[str, Any]
) -> None:
    args = ["--status", "516,8", "--completed-after", "2023-01-01T12:00:00+02:00"]
    args += ["--completed-before", "2023-03-01"]
    done = pull(live_server.url, demo, *args)
    assert done.returncode == 0, done.stderr
    params = {
        "filter[status:in]": "8,516",
        "filter[completion_datetime:gt]": "2023-01-01 10:00:00",
        "filter[completion_datetime:lt]": "2023-03-01 00:00:00",
    }
    expected = service_rows(live_server.url, demo, params)
    assert orjson.loads(done.stdout) == expected
    assert 0 < len(expected) < len(service_rows(live_server.url, demo))


def test_a_parquet_pull_holds_the_export_rows_with_typed_columns(
    live_server: LiveServer, demo: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "orders.parquet"
    done = pull(live_server.url, demo, "--include", "all", "-o", str(out))
    assert done.returncode == 0, done.stderr
    table = pq.read_table(out)
    expected = service_rows(live_server.url, demo, ALL_OPTIONS)
    assert table.column_names == list(expected[0])
    assert str(table.schema.field("items__quantity").type) == "int64"
    assert str(table.schema.field("shipping_price").type) == "double"
    got = table.to_pylist()
    for row in got:
        for key, value in row.items():
            if key.endswith("_datetime") and value is not None:
                row[key] = value.replace(tzinfo=None).isoformat(sep=" ")
            elif key.endswith("_date") and value is not None:
                row[key] = value.isoformat()
    differences = [
        (row["id"], key, value, want[key])
        for row, want in zip(got, expected, strict=True)
        for key, value in row.items()
        if value != want[key]
    ]
    assert differences == []


def test_no_file_is_left_half_written_when_the_pull_fails(
    live_server: LiveServer, demo: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "reports" / "orders.json"
    out.parent.mkdir()
    out.write_bytes(b"previous")
    done = pull(live_server.url, demo, "--status", "8,9999", "-o", str(out))
    assert done.returncode == 2
    assert out.read_bytes() == b"previous"
    assert sorted(path.name for path in out.parent.iterdir()) == ["orders.json"]


@pytest.mark.parametrize(
    ("args", "option", "says"),
    [
        (["--status", "8,9999"], "--status", "order status codes"),
        (["--completed-after", "yesterday"], "--completed-after", "it accepts `Y-m-d H:i:s`"),
        (["--include", "owner,colour"], "--include", "owner, price, ecommerce, attributes"),
        (["--lookback", "ten minutes"], "--lookback", "10m"),
        (["--shape", "orders", "--format", "csv"], "--format csv", "flat rows"),
        (["--to", "sqlite:///x.db", "-o", "x.json"], "--to", "no -o"),
        (["--page-size", "0"], "--page-size", "1<=x<=10000"),
    ],
)
def test_bad_input_is_a_usage_error_naming_the_option(
    live_server: LiveServer, demo: dict[str, Any], args: list[str], option: str, says: str
) -> None:
    done = pull(live_server.url, demo, *args)
    assert done.returncode == 2
    error = done.stderr.decode()
    assert option in error
    assert says in error
    assert done.stdout == b""


def test_a_refused_client_fails_with_the_service_words_and_never_shows_the_secret(
    live_server: LiveServer, demo: dict[str, Any]
) -> None:
    wrong = {**demo, "client_secret": demo["client_secret"][::-1]}
    done = pull(live_server.url, wrong)
    assert done.returncode == 1
    assert "401 invalid_client" in done.stderr.decode()
    assert wrong["client_secret"].encode() not in done.stdout + done.stderr
    helped = pull(live_server.url, wrong, "--help")
    assert b"OMS_EXPORT_CLIENT_SECRET" in helped.stdout
    assert wrong["client_secret"].encode() not in helped.stdout


REFUSED = "ConnectError: [Errno 111] Connection refused"


def test_an_unreachable_service_shows_each_retry_then_one_line_naming_url_and_attempts(
    demo: dict[str, Any],
) -> None:
    done = pull("http://127.0.0.1:9", demo, "--retries", "2")  # nothing listens on port 9
    assert done.returncode == 1
    first, second, error = done.stderr.decode().splitlines()
    assert re.fullmatch(
        rf"Attempt 1 of 3 failed: http://127.0.0.1:9/token: {re.escape(REFUSED)}; "
        r"trying again in 0\.[2-5] s",
        first,
    )
    assert second.startswith(f"Attempt 2 of 3 failed: http://127.0.0.1:9/token: {REFUSED}; ")
    assert error == f"Error: http://127.0.0.1:9/token: 3 attempts failed, the last with {REFUSED}"
    quiet = pull("http://127.0.0.1:9", demo, "--retries", "1", "--quiet")
    assert quiet.returncode == 1
    assert quiet.stderr.decode().splitlines() == [
        f"Error: http://127.0.0.1:9/token: 2 attempts failed, the last with {REFUSED}"
    ]


def test_a_service_busy_past_the_retries_fails_naming_the_url_attempts_and_its_words(
    live_server: LiveServer, demo: dict[str, Any]
) -> None:
    export = "/export-api/order-item-details"
    busy = {"error": "temporarily_unavailable", "error_description": "Down for a moment."}
    with FaultProxy(live_server.url) as proxy:
        proxy.reply(export, 503, busy)
        proxy.reply(export, 503, busy)
        done = pull(proxy.url, demo, "--retries", "1")
    assert done.returncode == 1
    said = "503 temporarily_unavailable: Down for a moment."
    retry, error = done.stderr.decode().splitlines()
    assert retry.startswith(f"Attempt 1 of 2 failed: {proxy.url}{export}: {said}; trying again")
    assert error == f"Error: {proxy.url}{export}: 2 attempts failed, the last with {said}"


def human(count: int) -> str:
    """Bytes as the summary writes them, spelled out here rather than imported."""
    if count < 1000:
        return f"{count} B"
    if count < 1_000_000:
        return f"{count / 1000:.1f} KB"
    return f"{count / 1_000_000:.1f} MB"


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("where", ["file", "stdout"])
def test_the_summary_reports_bytes_written_apart_from_bytes_downloaded(
    live_server: LiveServer, demo: dict[str, Any], tmp_path: Path, fmt: str, where: str
) -> None:
    out = tmp_path / f"orders.{fmt}"
    target = ["-o", str(out)] if where == "file" else ["--format", fmt]
    done = pull(live_server.url, demo, "--include", "all", *target)
    assert done.returncode == 0, done.stderr
    written = out.stat().st_size if where == "file" else len(done.stdout)
    downloaded = len(
        service_export(live_server.url, demo, {**ALL_OPTIONS, "format": "ndjson"}).content
    )
    [summary] = done.stderr.decode().splitlines()
    assert (
        f"(1 page, {human(downloaded)} downloaded, {human(written)} written, 0 retries)" in summary
    )
    assert human(written) != human(downloaded)  # csv and parquet are smaller than ndjson


def test_off_a_terminal_a_retry_is_one_line_before_the_summary(
    live_server: LiveServer, demo: dict[str, Any], tmp_path: Path
) -> None:
    export = "/export-api/order-item-details"
    busy = {"error": "temporarily_unavailable", "error_description": "Down for a moment."}
    with FaultProxy(live_server.url) as proxy:
        proxy.reply(export, 503, busy, skip=1)  # page 2
        done = pull(proxy.url, demo, "--page-size", "200", "-o", str(tmp_path / "o.json"))
    assert done.returncode == 0, done.stderr
    retry, summary = done.stderr.decode().splitlines()
    assert re.fullmatch(
        rf"Attempt 1 of 8 failed: {re.escape(proxy.url + export)}: 503 temporarily_unavailable: "
        r"Down for a moment\.; trying again in 0\.[2-5] s",
        retry,
    )
    assert summary.startswith("Pulled ")
    assert "(2 pages, " in summary
    assert ", 1 retry) in " in summary


def test_off_a_terminal_only_the_summary_line_is_printed_and_quiet_prints_nothing(
    live_server: LiveServer, demo: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "orders.csv"
    done = pull(live_server.url, demo, "-o", str(out), "--page-size", "50")
    [summary] = done.stderr.decode().splitlines()
    rows = len(service_rows(live_server.url, demo))
    assert summary.startswith(f"Pulled {rows:,} rows (")
    assert f"-> {out}" in summary
    quiet = pull(live_server.url, demo, "-o", str(out), "--quiet")
    assert (quiet.returncode, quiet.stderr, quiet.stdout) == (0, b"", b"")


def test_an_empty_pull_is_an_empty_array_or_file(
    live_server: LiveServer, demo: dict[str, Any]
) -> None:
    empty = ["--completed-after", "2999-01-01"]
    assert pull(live_server.url, demo, *empty).stdout == b"[]"
    assert pull(live_server.url, demo, *empty, "--format", "csv").stdout == b""
    assert (
        io.BytesIO(pull(live_server.url, demo, *empty, "--format", "ndjson").stdout).read() == b""
    )


def test_a_table_that_cannot_be_opened_is_one_line_naming_it(
    live_server: LiveServer, demo: dict[str, Any], tmp_path: Path
) -> None:
    target = f"sqlite:///{tmp_path}/no/such/dir/reports.db"
    done = pull(live_server.url, demo, "--to", target)
    assert done.returncode == 1
    [line] = done.stderr.decode().strip().splitlines()
    assert line.startswith(f"Error: cannot open table order_item_details in {target}: ")


@pytest.mark.parametrize("fmt", ["json", "ndjson", "csv"])
def test_faults_on_the_way_change_nothing_in_what_a_pull_writes(
    live_server: LiveServer, demo: dict[str, Any], tmp_path: Path, fmt: str
) -> None:
    export = "/export-api/order-item-details"
    out = tmp_path / f"orders.{fmt}"
    with FaultProxy(live_server.url) as proxy:
        busy = {"error": "rate_limited", "error_description": "slow down"}
        # Each fault waits for its skip requests after the one before it: 429, page 1, 503,
        # page 2 cut, page 2 again, 401 on page 3 (a new token), the rest clean.
        proxy.reply(export, 429, busy, headers={"Retry-After": "1"})
        proxy.reply(
            export, 503, {"error": "temporarily_unavailable", "error_description": "x"}, skip=1
        )
        proxy.cut(export, after=30_000)
        expired = 'Bearer realm="oms-export", error="invalid_token"'
        proxy.reply(
            export, 401, {"error": "invalid_token"}, headers={"WWW-Authenticate": expired}, skip=1
        )
        done = pull(proxy.url, demo, "--include", "all", "--page-size", "60", "-o", str(out))
        assert done.returncode == 0, done.stderr
        assert proxy.pending == []
        assert proxy.errors == []
        assert [s.status for s in proxy.requests("/token")] == [200, 200]
    expected = service_export(live_server.url, demo, {**ALL_OPTIONS, "format": fmt}).content
    assert out.read_bytes() == expected
    assert "3 retries" in done.stderr.decode()


def test_a_pull_into_a_table_holds_the_export_rows_and_a_second_changes_nothing(
    live_server: LiveServer, demo: dict[str, Any], database_url: str, tmp_path: Path
) -> None:
    if database_url.startswith("sqlite"):
        target = Target("sqlite", f"sqlite:///{tmp_path}/reports.db")
    else:  # a table beside the store's own, in the same PostgreSQL database, dropped after
        target = Target("postgresql", database_url.replace("+psycopg", ""))
    expected = service_rows(live_server.url, demo, ALL_OPTIONS)
    try:
        for _ in range(2):
            args = ["--include", "all", "--page-size", "50", "--to", target.url]
            done = pull(live_server.url, demo, *args)
            assert done.returncode == 0, done.stderr
            assert done.stdout == b""
            assert target.rows() == sorted(
                expected, key=lambda row: (row["id"], row["items__id"] or 0)
            )
    finally:
        if target.backend == "postgresql":
            with psycopg.connect(target.url, autocommit=True) as conn:
                conn.execute("DROP TABLE IF EXISTS order_item_details")


def test_an_output_file_that_cannot_be_written_is_one_line_naming_it(
    live_server: LiveServer, demo: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "missing" / "orders.json"
    done = pull(live_server.url, demo, "-o", str(out))
    assert done.returncode == 1
    [line] = done.stderr.decode().strip().splitlines()
    assert line.startswith(f"Error: {out.parent / '.orders.json.part'}: ")
    assert line.endswith("No such file or directory")


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--completed-after", "0001-01-01T00:00:00+01:00"], "Error: Invalid value for '--completed-after': '0001-01-01T00:00:00+01:00' is out of range in UTC; it accepts datetimes from 0001-01-01 00:00:00 to 9999-12-31 23:59:59 UTC"),
        (["--completed-before", "9999-12-31T23:59:59-01:00"], "Error: Invalid value for '--completed-before': '9999-12-31T23:59:59-01:00' is out of range in UTC; it accepts datetimes from 0001-01-01 00:00:00 to 9999-12-31 23:59:59 UTC"),
        (["--state", "sync.json", "--completed-after", "0001-01-01T00:30:00+00:31"], "Error: Invalid value for '--completed-after': '0001-01-01T00:30:00+00:31' is out of range in UTC; it accepts datetimes from 0001-01-01 00:00:00 to 9999-12-31 23:59:59 UTC"),
        (["--lookback", "99999999999d"], "Error: Invalid value for '--lookback': '99999999999d' is too long; it accepts at most 999999999d"),
    ],
)  # fmt: skip
def test_a_datetime_out_of_range_is_a_usage_error_not_a_traceback(
    args: list[str], error: str, tmp_path: Path
) -> None:
    """Refused before any request: the service is never reached (nothing listens on port 9)."""
    done = subprocess.run(
        pull_command("http://127.0.0.1:9", *args),
        env=pull_env({"client_id": "c", "client_secret": "s"}),
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.decode().splitlines() == [
        "Usage: oms-export pull [OPTIONS]",
        "Try 'oms-export pull --help' for help.",
        "",
        error,
    ]
    assert done.stdout == b""
    assert list(tmp_path.iterdir()) == []  # no state file or lock was made
