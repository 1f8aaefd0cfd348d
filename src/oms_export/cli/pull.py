"""``oms-export pull``: an export into a file, stdout or a table, once or as an incremental sync.

Needs only the base package (httpx, orjson, click, rich): it talks to the service over HTTP like
any reporting job would, never to its database.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Final

import click
from rich.console import Console

from oms_export import datetimes
from oms_export.client import ApiError, ExportClient, ExportError, Retry
from oms_export.client.errors import attempts_failed
from oms_export.client.query import FilterValue, Shape
from oms_export.pull.outputs import FORMATS, FileOutput, Output, StdoutOutput
from oms_export.pull.progress import LiveProgress, NoProgress, RetryLines
from oms_export.pull.run import Incremental, run_pull
from oms_export.pull.state import CHANGES, COMPLETION, StateError, SyncState, Window, hold_lock
from oms_export.pull.table import TableError, TableOutput

INCLUDES: Final = {
    "owner": "includeProductOwner",
    "price": "includeProductPrice",
    "ecommerce": "includeProductEcommerceInfo",
    "attributes": "includeAttributes",
}

FULFILMENT: Final = "includeFulfilment"
"""What ``--changes`` asks for besides ``--include``: it brings ``updated_datetime`` into rows."""

SUFFIX_FORMATS: Final = {
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".csv": "csv",
    ".parquet": "parquet",
}

DEFAULT_TABLE: Final = "order_item_details"

# The service names the query parameter at fault; the user typed an option.
_OPTION_OF_PARAMETER: Final = (
    ("filter[status", "--status"),
    ("filter[completion_datetime:lt", "--completed-before"),
    ("filter[completion_datetime:g", "--completed-after"),
    ("filter[updated_datetime", "--changes"),
    ("options[includeFulfilment]", "--changes"),
    ("options[", "--include"),
    ("shape", "--shape"),
    ("page[size]", "--page-size"),
)


def _moment(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A datetime in the service's own grammar (``datetimes``), sent as ``YYYY-MM-DD HH:MM:SS``.

    Read here rather than passed through, so a bad value is a usage error before any request,
    and an offset that carries a moment past year 1 or 9999 (``0001-01-01T00:00:00+01:00``) is
    one naming the range, as the service's 400 would, not a traceback.
    """
    if value is None:
        return None
    try:
        return datetimes.format_utc(datetimes.parse_utc(value))
    except datetimes.OutOfRange:
        raise click.BadParameter(
            f"{value!r} is out of range in UTC; it accepts datetimes {datetimes.RANGE}"
        ) from None
    except datetimes.NotADatetime:
        raise click.BadParameter(
            f"{value!r} is not a datetime; it accepts {datetimes.FORMS}, in UTC unless an "
            "offset is given"
        ) from None


_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_LONGEST_DAYS: Final = timedelta.max.days


def _duration(ctx: click.Context, param: click.Parameter, value: str) -> timedelta:
    """``90s``, ``10m``, ``2h``, ``1d`` or plain seconds, up to what a ``timedelta`` holds."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", value)
    if match is None:
        raise click.BadParameter(f"{value!r} is not a duration; use e.g. 90s, 10m, 2h, 1d")
    number, unit = match.groups()
    seconds = int(number) * _UNITS[unit or "s"]
    if seconds > _LONGEST_DAYS * _UNITS["d"]:
        raise click.BadParameter(f"{value!r} is too long; it accepts at most {_LONGEST_DAYS}d")
    return timedelta(seconds=seconds)


def _includes(value: str | None) -> list[str]:
    if not value:
        return []
    words = [word.strip() for word in value.split(",") if word.strip()]
    if "all" in words:
        return list(INCLUDES.values())
    unknown = [word for word in words if word not in INCLUDES]
    if unknown:
        raise click.BadParameter(
            f"{', '.join(unknown)} unknown; it accepts {', '.join(INCLUDES)} or all "
            "(comma-separated)",
            param_hint="--include",
        )
    return [INCLUDES[word] for word in dict.fromkeys(words)]


def _status(value: str | None) -> str | None:
    if value is None:
        return None
    return ",".join(sorted({code.strip() for code in value.split(",")}, key=_numeric_first))


def _numeric_first(code: str) -> tuple[int, str]:
    return (int(code), "") if code.isdigit() else (-1, code)


@contextmanager
def _reported_errors() -> Iterator[None]:
    """Every failure as one line; a service error names the option the user typed."""
    try:
        yield
    except ApiError as exc:
        for prefix, option in _OPTION_OF_PARAMETER:
            if exc.parameter and exc.parameter.startswith(prefix):
                raise click.UsageError(f"{option}: {exc.error_description}") from None
        said = f"{exc.status_code} {exc.error}: {exc.error_description}"
        if exc.url is not None and exc.attempts > 1:  # retried in vain: say where and how often
            raise click.ClickException(attempts_failed(exc.url, exc.attempts, said)) from None
        raise click.ClickException(f"the service answered {said}") from None
    except (ExportError, StateError, TableError) as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:  # the output or state file: a missing directory, a full disk
        where = f"{exc.filename}: " if exc.filename else ""
        raise click.ClickException(f"{where}{exc.strerror or exc}") from None


def _output(to: str | None, table: str, output: str | None, fmt: str | None, shape: str) -> Output:
    if to is not None:
        if output is not None or fmt is not None:
            raise click.UsageError("--to writes a table: it takes no -o or --format")
        if shape != "items":
            raise click.UsageError("--to writes one row per item: it takes no --shape orders")

        try:
            return TableOutput(to, table)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        except ModuleNotFoundError as exc:
            raise click.ClickException(
                f"--to {to.split(':')[0]} needs {exc.name}: pip install 'oms-export[postgres]'"
            ) from None
    path = Path(output) if output is not None and output != "-" else None
    fmt = fmt or (SUFFIX_FORMATS.get(path.suffix.lower(), "json") if path else "json")
    if shape == "orders" and fmt in ("csv", "parquet"):
        raise click.UsageError(f"--format {fmt} holds flat rows: it takes no --shape orders")
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ModuleNotFoundError:
            raise click.ClickException(
                "--format parquet needs pyarrow: pip install 'oms-export[parquet]'"
            ) from None
        if path is None and sys.stdout.isatty():
            raise click.UsageError("parquet is binary: give -o FILE rather than a terminal")
    return FileOutput(path, fmt) if path else StdoutOutput(fmt)


@click.command("pull")
@click.option(
    "--url",
    envvar="OMS_EXPORT_URL",
    default="http://127.0.0.1:8000",
    show_default=True,
    show_envvar=True,
    help="The service's base URL.",
)
@click.option("--client-id", envvar="OMS_EXPORT_CLIENT_ID", required=True, show_envvar=True)
@click.option(
    "--client-secret",
    envvar="OMS_EXPORT_CLIENT_SECRET",
    required=True,
    show_envvar=True,
    help="Prefer the environment variable: a command line is visible to other users.",
)
@click.option("--status", help="Order status codes, comma-separated, e.g. 8,516.")
@click.option(
    "--completed-after",
    callback=_moment,
    metavar="DATETIME",
    help="Orders completed after this: '2020-03-06 12:00:00' (UTC), 2020-03-06, or ISO 8601 "
    "such as 2020-03-06T14:00:00+02:00.",
)
@click.option(
    "--completed-before",
    callback=_moment,
    metavar="DATETIME",
    help="Orders completed before this, in the same forms.",
)
@click.option(
    "--include",
    help="More fields, comma-separated: owner, price, ecommerce, attributes, or all.",
)
@click.option(
    "--shape",
    type=click.Choice(["items", "orders"]),
    default="items",
    show_default=True,
    help="One flat row per item, or one nested object per order.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="Output format [default: from the -o suffix, else json].",
)
@click.option("-o", "--output", metavar="FILE", help="Write here instead of stdout ('-').")
@click.option(
    "--to", metavar="DATABASE_URL", help="Upsert into a table: sqlite:///FILE or postgresql://…"
)
@click.option("--table", default=DEFAULT_TABLE, show_default=True, help="The table --to writes to.")
@click.option(
    "--state",
    "state_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Incremental sync: deliver only completed rows this state file has not seen.",
)
@click.option(
    "--changes",
    is_flag=True,
    help="With --state: sync by updated_datetime instead: deliver again every order changed "
    "since the last pull, all its rows (--to replaces them; files get them again).",
)
@click.option(
    "--lookback",
    callback=_duration,
    default="10m",
    show_default=True,
    help="With --state: how far before the last mark to look again, for rows written with a "
    "time a little in the past; make it longer than a run takes.",
)
@click.option(
    "--page-size",
    type=click.IntRange(1, 10_000),
    default=10_000,
    show_default=True,
    help="Orders per request; a failed request is retried from its page.",
)
@click.option(
    "--retries",
    type=click.IntRange(0, 100),
    default=7,
    show_default=True,
    help="Retries of a request the service is too busy for or a connection dropped.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress display and no summary.")
def command(
    url: str,
    client_id: str,
    client_secret: str,
    status: str | None,
    completed_after: str | None,
    completed_before: str | None,
    include: str | None,
    shape: str,
    fmt: str | None,
    output: str | None,
    to: str | None,
    table: str,
    state_path: Path | None,
    changes: bool,
    lookback: timedelta,
    page_size: int,
    retries: int,
    quiet: bool,
) -> None:
    """Pull order item details from the export service.

    \b
    Examples:
        oms-export pull --url http://127.0.0.1:8000 --status 8,516 -o orders.csv
        oms-export pull --include all --to sqlite:///reports.db --state sync.json
        oms-export pull --changes --state changes.json --to sqlite:///reports.db
    """
    if changes and state_path is None:
        raise click.UsageError("--changes needs --state FILE, where it keeps what it delivered")
    if changes and (completed_after or completed_before):
        raise click.UsageError(
            "--changes follows updated_datetime: it takes no --completed-after or "
            "--completed-before (every changed order is delivered, completed or not)"
        )
    options = _includes(include)
    status = _status(status)
    filters: dict[str, FilterValue] = {}
    if status:
        filters["status:in"] = status
    if completed_before:
        filters["completion_datetime:lt"] = completed_before
    incremental = None
    with _reported_errors(), _locked(state_path):
        if state_path is not None:
            fingerprint = {
                "url": url.rstrip("/"),
                "status": status,
                "completed_after": completed_after,
                "completed_before": completed_before,
                "include": sorted(options),
                "shape": shape,
            }
            if changes:  # absent otherwise: state files from before --changes stay valid
                fingerprint["mode"] = "changes"
            watermark = CHANGES if changes else COMPLETION
            window = Window(SyncState.load(state_path, fingerprint), lookback, watermark)
            incremental = Incremental(state_path, window)
            if changes:
                filters["updated_datetime:gte"] = window.bound
            elif completed_after is None or completed_after < window.bound:
                filters["completion_datetime:gte"] = window.bound
            else:
                filters["completion_datetime:gt"] = completed_after
        elif completed_after:
            filters["completion_datetime:gt"] = completed_after
        destination = _output(to, table, output, fmt, shape)
        console = Console(stderr=True)
        watcher: LiveProgress | NoProgress
        if quiet:
            watcher = NoProgress()
        elif console.is_terminal:
            watcher = LiveProgress(console)
        else:
            watcher = RetryLines(sys.stderr)
        retry = Retry(attempts=retries + 1)
        client = ExportClient(url, client_id, client_secret, retry=retry, on_retry=watcher.retrying)
        with client, watcher:
            # --shape items is the CLI's word (and in state fingerprints); the API says rows.
            api_shape: Shape = "orders" if shape == "orders" else "rows"
            asked = [*options, FULFILMENT] if changes else options  # rows need updated_datetime
            rows = client.rows(filters, asked, api_shape, page_size)
            summary = run_pull(rows, rows.progress, destination, watcher, incremental)
    if not quiet:
        click.echo(summary.line(), err=True)


@contextmanager
def _locked(state_path: Path | None) -> Iterator[None]:
    if state_path is None:
        yield
        return
    with hold_lock(state_path):
        yield
