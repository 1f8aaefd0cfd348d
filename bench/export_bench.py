"""Benchmark the export against the database's own formatting and against a naive peer.

In one run, for each backend and size: build (or reuse) the demo data set; measure the
service's full export with every option on over HTTP in json, ndjson and csv (a real
``oms-export serve`` process, limits off, an httpx client streaming and discarding the body);
measure the database formatting the same SELECT itself (PostgreSQL ``COPY`` of ``row_to_json``
and of CSV; the ``sqlite3`` shell's ``json_object``); measure a naive ORM + Pydantic peer
(``bench/naive_peer.py``); then print one table with the issue's ratios and write
``docs/performance.md`` and ``docs/performance.png``.

Examples:
    .venv/bin/python bench/export_bench.py --backend postgresql --orders 200000
    .venv/bin/python bench/export_bench.py --backend postgresql,sqlite --sizes 10000,50000,200000
    .venv/bin/python bench/export_bench.py --quick --backend sqlite
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
from bench_baselines import pg_copy, sqlite_json, sqlite_shell
from bench_docs import Page, plot, write_page
from bench_http import (
    Run,
    ServerProcess,
    fetch_json,
    measure_stream,
    running,
    service_environment,
    service_token,
)
from bench_report import (
    COPY_CSV,
    COPY_JSON,
    COPY_PLAIN,
    PEER,
    SERVICE,
    SQLITE_JSON,
    Result,
    check_rows,
    checks,
    machine_description,
    markdown_table,
    result_rows,
)
from bench_store import ALL_OPTIONS, Store, demo_credentials, prepare_store
from profile_summary import render, summarise

from oms_export.admin.demo import DEMO_CLIENT_COMPANIES

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
EXPORT_PATH = "/export-api/order-item-details"
FORMATS = ("json", "ndjson", "csv")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", default="postgresql", help="postgresql, sqlite, or both")
    parser.add_argument("--orders", type=int, default=200_000, help="one size (orders)")
    parser.add_argument("--sizes", help="several sizes, e.g. 10000,50000,200000 (for the plot)")
    parser.add_argument("--formats", default=",".join(FORMATS), help="service formats")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=2, help="runs per measurement; best kept")
    parser.add_argument(
        "--peer-repeat", type=int, help="runs of the naive peer (default: --repeat)"
    )
    parser.add_argument(
        "--copy-jit",
        choices=("default", "off"),
        default="default",
        help="JIT for the PostgreSQL COPY baselines: the server's setting, or off as the "
        "service runs its own statement",
    )
    parser.add_argument("--skip", default="", help="any of: service,baselines,peer")
    parser.add_argument("--quick", action="store_true", help="5,000 orders, one run each")
    parser.add_argument("--rebuild", action="store_true", help="rebuild stores even if intact")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--data-dir", type=Path, default=BENCH / ".data")
    parser.add_argument(
        "--docs",
        action=argparse.BooleanOptionalAction,
        help="write docs/performance.md and .png (default: yes, except with --quick)",
    )
    parser.add_argument(
        "--verify-max-orders",
        type=int,
        default=10_000,
        help="compare the peer's rows with the service's, value by value, up to this size",
    )
    parser.add_argument(
        "--peer-max-orders",
        type=int,
        default=250_000,
        help="skip the naive peer above this size (it needs about 43 MB per 1,000 orders)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also record a py-spy profile of the service during one json export "
        "(largest size of each backend)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.repeat = "5000", 1
    args.backends = [b.strip() for b in args.backend.split(",") if b.strip()]
    if not set(args.backends) <= {"postgresql", "sqlite"}:
        parser.error("--backend takes postgresql, sqlite, or postgresql,sqlite")
    args.size_list = [int(s) for s in args.sizes.split(",")] if args.sizes else [args.orders]
    args.format_list = [f.strip() for f in args.formats.split(",") if f.strip()]
    args.skip_set = {s.strip() for s in args.skip.split(",") if s.strip()}
    if args.peer_repeat is None:
        args.peer_repeat = args.repeat
    if args.docs is None:
        args.docs = not args.quick
    return args


def say(message: str) -> None:
    print(message, flush=True)


def describe_run(label: str, run: Run) -> str:
    if run.status != 200:
        return f"    {label}: HTTP {run.status} {run.error}"
    rate = run.rows / run.seconds if run.seconds else 0.0
    rss = f", peak RSS {run.peak_rss / 1e6:,.0f} MB" if run.peak_rss else ""
    return f"    {label}: {run.rows:,} rows in {run.seconds:.2f} s = {rate:,.0f} rows/s{rss}"


def wait_for_quiet(limit: float = 15.0, patience: float = 90.0) -> None:
    """Wait (a while at most) until other work leaves the cores below ``limit`` % busy."""
    deadline = time.monotonic() + patience
    while (busy := psutil.cpu_percent(interval=1.0)) > limit:
        if time.monotonic() > deadline:
            say(f"    (the machine stays {busy:.0f}% busy; measuring anyway)")
            return


Measure = tuple[Result, Callable[[], Run]]
"""A measurement: the result its runs go to and how to make one run."""


def repeat_runs(
    result: Result, times: int, once: Callable[[], Run], alongside: Sequence[Measure] = ()
) -> Result:
    """``times`` runs of ``once``; each followed by one run of every measurement ``alongside``.

    A ratio of two measurements taken in turn compares runs made moments apart, on a machine
    whose speed can drift by more than the ratio's margin within minutes.
    """
    stopped: set[int] = set()
    for n in range(times):
        for number, (target, run_once) in enumerate([(result, once), *alongside]):
            if number in stopped:
                continue
            wait_for_quiet()
            run = run_once()
            target.runs.append(run)
            say(describe_run(f"{target.method} #{n + 1}", run))
            if run.status != 200:
                stopped.add(number)
        if 0 in stopped:
            break
    return result


def _idle_rss(pid: int) -> int:
    return int(psutil.Process(pid).memory_info().rss)


def bench_service(
    store: Store, args: argparse.Namespace, alongside: Sequence[Measure] = ()
) -> list[Result]:
    """The service's full export in each format, a fresh server process per format.

    The ``alongside`` measurements (the database's own formatting) run in turn with json's.
    """
    env, turned_off = service_environment()
    say(f"  service: {', '.join(turned_off)} = 0 (limits off)")
    command = [sys.executable, "-m", "oms_export", "--database-url", store.url, "serve"]
    results = []
    for fmt in args.format_list:
        result = Result(store.backend, store.orders, store.rows, SERVICE.format(fmt=fmt))
        client_id, secret = demo_credentials(store.url)
        with running(command, env, args.data_dir / "logs", "service") as server:
            result.idle_rss = _idle_rss(server.pid)
            headers = {"Authorization": f"Bearer {service_token(server.url, client_id, secret)}"}
            # json is the default: asked without format=, it works before formats land too.
            params = [*ALL_OPTIONS] + ([("format", fmt)] if fmt != "json" else [])
            once = partial(
                measure_stream, server.url + EXPORT_PATH, params, headers, fmt, server.pid
            )
            repeat_runs(result, args.repeat, once, alongside if fmt == "json" else ())
        first = result.runs[0] if result.runs else None
        if first is not None and first.status == 400:
            result.runs.clear()
            result.note = f"n/a: the service answered 400 to format={fmt}"
        results.append(result)
    return results


def baselines(store: Store, args: argparse.Namespace) -> list[Measure]:
    """The database formatting the export's rows itself, not yet run."""
    if store.backend == "postgresql":
        return [
            (
                Result(store.backend, store.orders, store.rows, method),
                partial(pg_copy, store, fmt, jit=args.copy_jit == "default"),
            )
            for method, fmt in ((COPY_JSON, "json"), (COPY_CSV, "csv"), (COPY_PLAIN, "plain"))
        ]
    result = Result(store.backend, store.orders, store.rows, SQLITE_JSON)
    shell = sqlite_shell()
    if shell is None:
        say(f"    {SQLITE_JSON}: n/a, no sqlite3 shell (apt-get install -y sqlite3)")
        return []
    result.note = "rows: the store's count (output to /dev/null)"
    return [(result, lambda: sqlite_json(store, shell))]


def _peer_command(store: Store) -> list[str]:
    companies = ",".join(map(str, DEMO_CLIENT_COMPANIES))
    return [
        sys.executable, str(BENCH / "naive_peer.py"), "--database-url", store.url,
        "--company-ref-ids", companies,
    ]  # fmt: skip


def bench_peer(store: Store, args: argparse.Namespace) -> Result:
    """The naive peer, a fresh process per run (its memory is the point of the measurement)."""
    result = Result(store.backend, store.orders, store.rows, PEER)
    env, _ = service_environment()

    def once() -> Run:
        with running(_peer_command(store), env, args.data_dir / "logs", "peer") as peer:
            result.idle_rss = _idle_rss(peer.pid)
            return measure_stream(peer.url + EXPORT_PATH, [], {}, "json", peer.pid)

    return repeat_runs(result, args.peer_repeat, once)


def verify_peer(store: Store, args: argparse.Namespace) -> str:
    """The peer's rows against the service's json and ndjson, value by value."""
    env, _ = service_environment()
    client_id, secret = demo_credentials(store.url)
    serve = [sys.executable, "-m", "oms_export", "--database-url", store.url, "serve"]
    logs = args.data_dir / "logs"
    with running(serve, env, logs, "service") as server:
        headers = {"Authorization": f"Bearer {service_token(server.url, client_id, secret)}"}
        service_rows = fetch_json(server.url + EXPORT_PATH, [*ALL_OPTIONS], headers)
        ndjson = httpx.get(
            server.url + EXPORT_PATH,
            params=[*ALL_OPTIONS, ("format", "ndjson")],
            headers=headers,
            timeout=600,
        )
    with running(_peer_command(store), env, logs, "peer") as peer:
        peer_rows = fetch_json(peer.url + EXPORT_PATH, [], {})
    assert isinstance(service_rows, list)
    assert isinstance(peer_rows, list)
    verdicts = [_compare("naive peer", service_rows, peer_rows)]
    if ndjson.status_code == 200:
        lines = [json.loads(line) for line in ndjson.text.splitlines() if line]
        verdicts.append(_compare("service ndjson", service_rows, lines))
    return "; ".join(verdicts)


def _compare(name: str, expected: list[Any], got: list[Any]) -> str:
    if len(expected) != len(got):
        return f"{name}: {len(got)} rows, service json {len(expected)}: DIFFERENT"
    for n, (a, b) in enumerate(zip(expected, got, strict=True)):
        if a != b or list(a) != list(b):
            keys = [k for k in a if a.get(k) != b.get(k)] or ["(key order)"]
            return f"{name}: row {n} differs from service json in {keys[:5]}: DIFFERENT"
    return f"{name}: all {len(got):,} rows equal to service json, keys in the same order"


def profile_service(store: Store, args: argparse.Namespace) -> str:
    """py-spy on the service process during one json export; returns the summary."""
    spy_bin = Path(sys.executable).with_name("py-spy")
    if not spy_bin.exists():
        return "py-spy is not installed (pip install py-spy)"
    env, _ = service_environment()
    client_id, secret = demo_credentials(store.url)
    serve = [sys.executable, "-m", "oms_export", "--database-url", store.url, "serve"]
    raw = args.data_dir / f"profile-{store.backend}-{store.orders}.txt"
    with running(serve, env, args.data_dir / "logs", "service") as server:
        headers = {"Authorization": f"Bearer {service_token(server.url, client_id, secret)}"}
        spy = _start_py_spy(spy_bin, server, raw)
        run = measure_stream(server.url + EXPORT_PATH, [*ALL_OPTIONS], headers, "json", server.pid)
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)
    say(describe_run("profiled json export (not in the table)", run))
    summary = render(summarise(raw))
    (raw.with_suffix(".md")).write_text(summary)
    return f"Profile of {store.backend} {store.orders:,} orders, raw in {raw}:\n\n{summary}"


def _start_py_spy(spy_bin: Path, server: ServerProcess, raw: Path) -> subprocess.Popen[bytes]:
    command = [
        str(spy_bin), "record", "--pid", str(server.pid), "--rate", "250", "--format", "raw",
        "--output", str(raw), "--nonblocking",
    ]  # fmt: skip
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # let it attach before the request starts
    return spy


def peer_results(store: Store, args: argparse.Namespace) -> tuple[list[Result], list[str]]:
    """The naive peer's measurement and, at small sizes, the check that its rows are equal."""
    if store.orders > args.peer_max_orders:
        note = f"n/a: skipped above --peer-max-orders {args.peer_max_orders:,} (memory)"
        say(f"    {PEER}: {note}")
        return [Result(store.backend, store.orders, store.rows, PEER, note=note)], []
    result = bench_peer(store, args)
    if store.orders > args.verify_max_orders:
        return [result], []
    verdict = verify_peer(store, args)
    say(f"  check: {verdict}")
    return [result], [f"{store.backend}, {store.orders:,} orders: {verdict}."]


def bench_store(store: Store, args: argparse.Namespace) -> tuple[list[Result], list[str]]:
    results: list[Result] = []
    notes: list[str] = []
    measures = [] if "baselines" in args.skip_set else baselines(store, args)
    if "service" not in args.skip_set and "json" in args.format_list:
        results += bench_service(store, args, measures)
    else:
        if "service" not in args.skip_set:
            results += bench_service(store, args)
        for result, once in measures:
            repeat_runs(result, args.repeat, once)
    results += [result for result, _ in measures]
    if "peer" not in args.skip_set:
        peer, checked = peer_results(store, args)
        results += peer
        notes += checked
    if args.profile and store.orders == max(args.size_list):
        say(profile_service(store, args))
    return results, notes


def postgres_version(url: str) -> str | None:
    try:
        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
            row = conn.execute("SHOW server_version").fetchone()
    except psycopg.Error:
        return None
    return f"PostgreSQL {row[0]}" if row else None


def method_notes(args: argparse.Namespace) -> list[str]:
    return [
        "Data: `load_demo(orders=N, seed=0)` into a fresh database per size (PostgreSQL: "
        "`VACUUM ANALYZE` after the load, as autovacuum would do soon after); a store built "
        "before at the same size and seed is reused when its row counts still match.",
        "The export: the demo client's companies (1001, 1002, 2001, 3001; 1004 is excluded), "
        "no filter, every option on (`includeProductOwner`, `includeProductPrice`, "
        "`includeProductEcommerceInfo`, `includeAttributes`). *rows* are item rows.",
        "Service: a real `python -m oms_export serve` process (one worker), rate limit, "
        "concurrency cap and statement timeout off, a fresh process per format; the client is "
        "httpx streaming the body and discarding it (rows counted in the stream and checked "
        "against the store's count of the same SELECT).",
        f"Runs per measurement: {args.repeat} ({args.peer_repeat} for the naive "
        "peer, whose one run takes minutes at 200,000 orders); the table shows the fastest "
        "run, and peak RSS is the highest seen over all runs. The database's own formatting "
        "runs in turn with the service's json (service, COPY json, COPY csv, service, …), so "
        "the ratios compare runs made moments apart on a machine whose speed drifts.",
        "TTFB: time to the first body byte; *1st row*: time until the first row had begun to "
        "arrive. Peak RSS: the serving process, sampled every 50 ms and cross-checked with the "
        "kernel's VmHWM (reset before each run).",
        "PG COPY: the service's own SELECT (`build_plan(...).statement` compiled with its "
        "values inlined) as `COPY (SELECT row_to_json(t) FROM (…) t) TO STDOUT` and "
        "`COPY (…) TO STDOUT (FORMAT csv, HEADER)`, read with psycopg's `cursor.copy()` and "
        "discarded. *PG COPY csv, plain join*: the same orders (the client's companies) "
        "joined with their company and their items, each order's and item's attributes "
        "aggregated by `json_object_agg`, ordered by order and item id, no formatting and no "
        "option's tables (`bench_store.plain_join_sql`): what the data costs the database to "
        "read, whatever the export's SELECT. "
        "The PostgreSQL backend's RSS is not shown (it counts shared buffers). "
        f"JIT: {args.copy_jit} for the COPYs (`--copy-jit`); with PostgreSQL's default (on) "
        "the COPYs spend about 1 s compiling before their first row, which weighs most at "
        "small sizes; the service turns JIT off for its own statement.",
        "sqlite3 shell: `json_object(…)` of every column of the same SELECT (in calls of 60 "
        "pairs, the shell's argument limit), printed to /dev/null; rows are the store's count "
        "of that SELECT.",
        "Naive peer (`bench/naive_peer.py`): SQLAlchemy ORM classes on the same tables, "
        "`joinedload`/`selectinload`, a Pydantic model per row, the whole list returned by a "
        "FastAPI endpoint on uvicorn (a fresh process per run).",
        "CPU seconds: the serving process (or the COPY's backend, or the sqlite3 shell), all "
        "PostgreSQL processes, the bench's own client, and everything else on the machine "
        "(*other*: a noisy neighbour shows there) during the run.",
    ]


def _code_version() -> str:
    """The commit measured, and whether the service's code had uncommitted changes."""

    def git(*words: str) -> str:
        done = subprocess.run(["git", *words], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = " plus uncommitted changes in src/" if git("status", "--porcelain", "src") else ""
    return f"Code measured: commit {commit}{dirty}."


def _quiet_check(seconds: float = 3.0) -> str:
    """How busy the machine was before the run: other work on 2 cores skews every figure."""
    busy = psutil.cpu_percent(interval=seconds)
    verdict = f"The machine's cores were {busy:.0f}% busy in the {seconds:.0f} s before the run"
    if busy > 20:
        say(f"WARNING: {verdict}; the figures will be low and noisy. See *other CPU s*.")
    return verdict + "."


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    results: list[Result] = []
    notes: list[str] = [_code_version(), _quiet_check()]
    for backend in args.backends:
        for size in args.size_list:
            say(f"== {backend}, {size:,} orders")
            store = prepare_store(
                backend, size, args.seed, data_dir=args.data_dir,
                postgres_url=args.postgres_url, rebuild=args.rebuild,
            )  # fmt: skip
            how = (
                "reused the database built before at this size and seed (row counts match)"
                if store.reused
                else f"built a fresh database in {store.load_seconds:.0f} s"
            )
            say(f"  store: {how}; {store.items:,} items, {store.rows:,} export rows")
            store_results, store_notes = bench_store(store, args)
            results += store_results
            notes += store_notes
    found = checks(results)
    if results:
        say("")
        say(markdown_table(result_rows(results)))
        say(markdown_table(check_rows(found)))
    elapsed = time.perf_counter() - started
    say(f"bench took {elapsed / 60:.1f} minutes")
    _save_json(args, results)
    if args.docs and results:
        _write_docs(args, results, found, notes, elapsed)
    return 0


def _save_json(args: argparse.Namespace, results: Sequence[Result]) -> None:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = args.data_dir / f"results-{stamp}.json"
    path.write_text(json.dumps([asdict(r) for r in results], indent=1))
    say(f"results: {path}")


def _write_docs(
    args: argparse.Namespace,
    results: Sequence[Result],
    found: Sequence[Any],
    notes: Sequence[str],
    elapsed: float,
) -> None:
    png = ROOT / "docs" / "performance.png"
    page = ROOT / "docs" / "performance.md"
    plot(results, png)
    command = ".venv/bin/python bench/export_bench.py " + shlex.join(sys.argv[1:])
    pg = postgres_version(args.postgres_url) if "postgresql" in args.backends else None
    write_page(
        page,
        png,
        results,
        found,
        Page(
            command=command.strip(),
            date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            machine=machine_description(pg),
            bench_seconds=elapsed,
            notes=[*method_notes(args), *notes],
        ),
    )
    say(f"wrote {page.relative_to(ROOT)} and {png.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
