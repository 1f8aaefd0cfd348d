"""Can any client take a node down? (issue 9): one node under stalled and slow readers.

One run, on a PostgreSQL database of its own:

1. setup: ``oms-export demo --orders N`` into a new database, 25 OAuth clients made with
   ``oms-export clients create``, each on one company allowed to export, and ``oms-export serve
   --workers 1`` started with the ``OMS_EXPORT_*`` settings given (limits left at their defaults);
2. baseline: only the prober, which sends ``POST /token`` and ``GET /health`` every 100-200 ms
   on a new connection each time, from a thread of its own, and times each answer;
3. load: the prober again, plus 50 stalled and 50 slow readers spread over the clients (4 per
   client, above its cap of concurrent exports). Readers are raw sockets sending one
   ``Connection: close`` GET of the full export with every option on. A stalled reader reads the
   head, then stops reading (its receive buffer shrunk with ``SO_RCVBUF``) until the server lets
   go of the socket (seen in the server's own socket table) or ``--stall-seconds`` pass; it then
   drains the socket for up to 5 s to learn whether the server had cut the body, and opens
   another. A slow reader reads at a fixed rate to the end. A refused export is asked again
   after its ``Retry-After``.

Then it prints the prober's p50/p99 under load against the baseline, the 5xx answers by endpoint,
the export refusals and whether each was a 429 or 503 with ``Retry-After``, the exports served,
the node's peak RSS, and writes the figures to ``bench/.data/reliability-<time>.json``. The
server is stopped and the database dropped at the end.

Examples:
    .venv/bin/python bench/reliability_bench.py
    .venv/bin/python bench/reliability_bench.py --seconds 60 --idle-seconds 10 --slow-rate 200
    .venv/bin/python bench/reliability_bench.py --env OMS_EXPORT_MAX_NODE_EXPORTS=8
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlencode

import httpx
import psutil
import psycopg
from bench_http import SCOPE, ResourceSampler, running
from bench_store import ALL_OPTIONS
from psycopg import sql
from sqlalchemy.engine import make_url

from oms_export.admin.demo import DEMO_COMPANIES
from oms_export.db.schema import EXPORTING_LEVELS
from oms_export.settings import ENV_PREFIX, Settings

BENCH = Path(__file__).resolve().parent
EXPORT_PATH = "/export-api/order-item-details"
OMS_EXPORT = [sys.executable, "-m", "oms_export"]
END_OF_CHUNKS = b"0\r\n\r\n"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=20_000, help="demo orders to load")
    parser.add_argument("--clients", type=int, default=25)
    parser.add_argument("--stalled", type=int, default=50, help="stalled readers")
    parser.add_argument("--slow", type=int, default=50, help="slow readers")
    parser.add_argument("--slow-rate", type=int, default=400, help="a slow reader's KB/s")
    parser.add_argument("--rcvbuf", type=int, default=4096, help="a stalled reader's SO_RCVBUF")
    parser.add_argument(
        "--stall-seconds",
        type=float,
        help="a stalled reader gives up a socket the server still holds after this long "
        "(default: 3 x --idle-seconds)",
    )
    parser.add_argument("--seconds", type=float, default=120.0, help="the load phase")
    parser.add_argument("--baseline-seconds", type=float, default=30.0)
    parser.add_argument(
        "--idle-seconds", type=int, default=10, help="OMS_EXPORT_EXPORT_IDLE_SECONDS"
    )
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="more server settings"
    )
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--data-dir", type=Path, default=BENCH / ".data")
    return parser.parse_args(argv)


def say(message: str) -> None:
    print(message, flush=True)


@dataclass
class Client:
    client_id: str
    secret: str
    company: int
    token: str = ""

    @property
    def form(self) -> dict[str, str]:
        return {
            "client_id": self.client_id,
            "client_secret": self.secret,
            "grant_type": "client_credentials",
            "scope": SCOPE,
        }


@dataclass
class Tally:
    """Everything seen, from the prober's thread and the readers' event loop alike."""

    phase: str = "baseline"
    latency: dict[str, dict[str, list[float]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list))
    )
    """phase -> endpoint -> seconds."""
    answers: Counter[str] = field(default_factory=Counter)
    """``"<endpoint> <status>"`` (or the transport error's name), every phase."""
    health: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    """``"<status> <error> Retry-After=<value>"`` for each export answered with anything but 200."""
    admitted: Counter[str] = field(default_factory=Counter)
    completed: int = 0
    slow_cut: list[float] = field(default_factory=list)
    stalled: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    """How each stalled export ended -> the seconds it was held stalled."""
    slow_bytes: int = 0
    head: list[float] = field(default_factory=list)
    """Seconds from connecting to an admitted export's head."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, endpoint: str, outcome: str, seconds: float | None = None) -> None:
        with self.lock:
            self.answers[f"{endpoint} {outcome}"] += 1
            if seconds is not None:
                self.latency[self.phase][endpoint].append(seconds)


# --- setup -------------------------------------------------------------------------------------


def oms_export(url: str, *args: str) -> Any:
    done = subprocess.run(
        [*OMS_EXPORT, "--database-url", url, *args], check=True, capture_output=True, text=True
    )
    return json.loads(done.stdout)


def create_database(postgres_url: str, name: str) -> str:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_url(postgres_url).set(database=name).render_as_string(False)


def drop_database(postgres_url: str, name: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def make_clients(url: str, count: int) -> list[Client]:
    companies = [ref for ref, _name, level, _role in DEMO_COMPANIES if level in EXPORTING_LEVELS]
    refs = [companies[n % len(companies)] for n in range(count)]

    def create(n: int) -> Client:
        made = oms_export(
            url, "clients", "create", "--name", f"bench-{n}", "--company", str(refs[n])
        )
        return Client(made["client_id"], made["client_secret"], refs[n])

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(create, range(count)))


def server_environment(args: argparse.Namespace) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    env[f"{ENV_PREFIX}EXPORT_IDLE_SECONDS"] = str(args.idle_seconds)
    for assignment in args.env:
        name, _, value = assignment.partition("=")
        env[name] = value
    return env


# --- the prober (a thread: its timings do not wait on the readers' event loop) ------------------


def probe(base_url: str, client: Client, tally: Tally, stop: threading.Event) -> None:
    no_reuse = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=base_url, timeout=15.0, limits=no_reuse) as http:
        while not stop.is_set():
            for endpoint in ("/token", "/health"):
                started = time.perf_counter()
                try:
                    if endpoint == "/token":
                        response = http.post("/token", data=client.form)
                    else:
                        response = http.get("/health")
                except httpx.HTTPError as exc:
                    tally.answer(endpoint, type(exc).__name__)
                    continue
                tally.answer(endpoint, str(response.status_code), time.perf_counter() - started)
                if endpoint == "/health":
                    body = response.json() if response.content.startswith(b"{") else {}
                    codes = "/".join(v for v in body.values() if isinstance(v, str))
                    with tally.lock:
                        tally.health[f"{response.status_code} {codes}"] += 1
            stop.wait(random.uniform(0.1, 0.2))


# --- the readers -------------------------------------------------------------------------------


@dataclass
class Load:
    host: str
    port: int
    server_pid: int
    tally: Tally
    slow_rate: int
    rcvbuf: int
    stall: float
    deadline: float
    held: set[int] = field(default_factory=set)
    """Remote ports of the TCP connections the server's processes hold (its socket table)."""
    held_at: float = 0.0
    """When ``held`` was last read (monotonic)."""

    def request(self, token: str) -> bytes:
        return (
            f"GET {EXPORT_PATH}?{urlencode(ALL_OPTIONS)} HTTP/1.1\r\n"
            f"Host: {self.host}:{self.port}\r\nAuthorization: Bearer {token}\r\n"
            "Accept-Encoding: identity\r\nConnection: close\r\n\r\n"
        ).encode()

    async def watch_sockets(self) -> None:
        while True:
            started = time.monotonic()
            self.held = await asyncio.to_thread(_held_ports, self.server_pid)
            self.held_at = started
            await asyncio.sleep(1.0)


def _held_ports(pid: int) -> set[int]:
    ports: set[int] = set()
    try:
        root = psutil.Process(pid)
        for process in [root, *root.children(recursive=True)]:
            ports.update(c.raddr.port for c in process.net_connections("tcp") if c.raddr)
    except psutil.Error:
        pass
    return ports


async def open_export(
    load: Load, client: Client, rcvbuf: int | None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
    """An export whose answer is 200, its head read; None after a refusal or error (waited out)."""
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    writer: asyncio.StreamWriter | None = None
    started = time.monotonic()
    try:
        async with asyncio.timeout(60.0):  # not wait_for: in 3.11 it can swallow a cancellation
            await asyncio.get_running_loop().sock_connect(sock, (load.host, load.port))
            reader, writer = await asyncio.open_connection(sock=sock, limit=32768)
            writer.write(load.request(client.token))
            head = await reader.readuntil(b"\r\n\r\n")
    except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
        load.tally.answer("export", type(exc).__name__)
        (writer.transport.abort() if writer else sock.close())
        await asyncio.sleep(1.0)
        return None
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    load.tally.answer("export", str(status))
    if status == 200:
        load.tally.head.append(time.monotonic() - started)
        return reader, writer
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
    retry_after = headers.get("retry-after", "")
    body = b""
    with contextlib.suppress(TimeoutError, OSError):
        async with asyncio.timeout(2.0):
            body = await reader.read(4096)
    error = re.search(rb'"error":\s*"([^"]*)"', body)
    code = error[1].decode() if error else "-"
    load.tally.refusals[f"{status} {code} Retry-After={retry_after or '-'}"] += 1
    writer.transport.abort()
    wait = float(retry_after) if retry_after.isdigit() else 1.0
    await asyncio.sleep(min(wait, 30.0) + random.uniform(0, 1))
    return None


async def stalled_reader(load: Load, client: Client) -> None:
    """Reads the head, then nothing until the server lets go of the socket or ``stall`` seconds
    pass; then drains the socket for a few seconds to see whether the server had cut the body."""
    while time.monotonic() < load.deadline:
        opened = await open_export(load, client, load.rcvbuf)
        if opened is None:
            continue
        reader, writer = opened
        load.tally.admitted["stalled"] += 1
        transport = cast(asyncio.Transport, writer.transport)
        transport.pause_reading()
        port = writer.get_extra_info("sockname")[1]
        started = time.monotonic()
        try:
            while load.held_at <= started or port in load.held:
                if time.monotonic() > min(load.deadline, started + load.stall):
                    break
                await asyncio.sleep(0.5)
            if time.monotonic() > load.deadline:
                return
            held = time.monotonic() - started
            transport.resume_reading()
            try:
                async with asyncio.timeout(5.0):
                    whole, _got = await read_body(load, reader, None)
            except TimeoutError:
                whole = None
        finally:
            transport.abort()
        closer = "client" if held >= load.stall else "server"
        verdict = {True: "whole", False: "cut", None: "still streaming"}[whole]
        load.tally.stalled[f"socket closed by the {closer}, body {verdict}"].append(held)


async def slow_reader(load: Load, client: Client) -> None:
    while time.monotonic() < load.deadline:
        opened = await open_export(load, client, None)
        if opened is None:
            continue
        reader, writer = opened
        load.tally.admitted["slow"] += 1
        started = time.monotonic()
        try:
            whole, got = await read_body(load, reader, load.slow_rate * 1000)
        finally:
            writer.transport.abort()
        load.tally.slow_bytes += got
        if whole:
            load.tally.completed += 1
        elif whole is False:
            load.tally.slow_cut.append(time.monotonic() - started)


async def read_body(
    load: Load, reader: asyncio.StreamReader, rate: float | None
) -> tuple[bool | None, int]:
    """Read to the end, at ``rate`` bytes/s when given: (whether the body ended with its last
    chunk, bytes read); None instead of a verdict when the load phase ended first."""
    started, got, tail = time.monotonic(), 0, b""
    try:
        while chunk := await reader.read(65536):
            if time.monotonic() > load.deadline:
                return None, got
            got += len(chunk)
            tail = (tail + chunk)[-len(END_OF_CHUNKS) :]
            ahead = got / rate - (time.monotonic() - started) if rate else 0.0
            if ahead > 0:
                await asyncio.sleep(ahead)
    except OSError:
        pass
    return tail == END_OF_CHUNKS, got


async def run_load(
    load: Load, clients: list[Client], stalled: int, slow: int, seconds: float
) -> None:
    async def staggered(kind: Any, client: Client) -> None:
        await asyncio.sleep(random.uniform(0, 1))
        await kind(load, client)

    tasks = [asyncio.create_task(load.watch_sockets())]
    tasks += [
        asyncio.create_task(staggered(stalled_reader, clients[n % len(clients)]))
        for n in range(stalled)
    ]
    tasks += [
        asyncio.create_task(staggered(slow_reader, clients[n % len(clients)])) for n in range(slow)
    ]
    await asyncio.sleep(seconds)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


# --- the run -----------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    name = f"oms_reliability_{os.getpid()}"
    url = create_database(args.postgres_url, name)
    try:
        started = time.perf_counter()
        demo = oms_export(url, "demo", "--orders", str(args.orders))
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        say(
            f"setup: {demo['orders']:,} orders, {demo['items']:,} items in {name} "
            f"({time.perf_counter() - started:.0f} s)"
        )
        clients = make_clients(url, args.clients)
        env = server_environment(args)
        command = [*OMS_EXPORT, "--database-url", url, "serve", "--workers", "1"]
        with running(command, env, args.data_dir, "reliability") as server:
            tally, figures = measure(args, server.url, server.pid, clients)
            figures["alive_after_load"] = server.process.poll() is None
        figures["server_log_error_lines"] = server.log.read_text().count('"level":"error"')
    finally:
        drop_database(args.postgres_url, name)
    settings = sorted(f"{k}={v}" for k, v in env.items() if k.startswith(ENV_PREFIX))
    figures.update(orders=demo["orders"], items=demo["items"], settings=settings)
    figures.update(summarise(tally))
    say(render(args, figures) + f"\nserver log: {server.log}")
    path = args.data_dir / f"reliability-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, **figures}))
    say(f"figures written to {path}")
    return 0


def measure(
    args: argparse.Namespace, base_url: str, pid: int, clients: list[Client]
) -> tuple[Tally, dict[str, Any]]:
    for client in clients:
        response = httpx.post(base_url + "/token", data=client.form, timeout=30)
        response.raise_for_status()
        client.token = response.json()["access_token"]
    tally, stop = Tally(), threading.Event()
    prober = threading.Thread(target=probe, args=(base_url, clients[0], tally, stop), daemon=True)
    say(f"baseline: the prober alone for {args.baseline_seconds:.0f} s")
    with ResourceSampler(pid) as idle:
        prober.start()
        time.sleep(args.baseline_seconds)
    say(f"load: {args.stalled} stalled + {args.slow} slow readers for {args.seconds:.0f} s")
    tally.phase = "load"
    host, port = base_url.removeprefix("http://").split(":")
    deadline = time.monotonic() + args.seconds
    stall = args.stall_seconds or 3 * args.idle_seconds
    load = Load(host, int(port), pid, tally, args.slow_rate, args.rcvbuf, stall, deadline)
    with ResourceSampler(pid) as busy:
        asyncio.run(run_load(load, clients, args.stalled, args.slow, args.seconds))
        cpu = busy.cpu_seconds()
    stop.set()
    prober.join()
    return tally, {"rss_baseline": idle.peak, "rss_load": busy.peak, "cpu_seconds": cpu}


def percentiles(values: list[float]) -> list[float]:
    """p50 and p99 in milliseconds."""
    if len(values) < 2:
        return values * 2 or [float("nan")] * 2
    return [statistics.median(values) * 1e3, statistics.quantiles(values, n=100)[98] * 1e3]


def summarise(tally: Tally) -> dict[str, Any]:
    latency = {}
    for endpoint in ("/token", "/health"):
        base, loaded = (tally.latency[phase][endpoint] for phase in ("baseline", "load"))
        p_base, p_load = percentiles(base), percentiles(loaded)
        ratio = [a / b for a, b in zip(p_load, p_base, strict=True)]
        latency[endpoint] = {"baseline": p_base, "load": p_load, "ratio": ratio}
        latency[endpoint]["samples"] = [len(base), len(loaded)]
    improper = sum(
        n for k, n in tally.refusals.items() if k[:3] not in ("429", "503") or k.endswith("=-")
    )
    return {
        "latency_ms": latency,
        "fivexx": {k: n for k, n in tally.answers.items() if k.split()[1].startswith("5")},
        "transport_errors": {k: n for k, n in tally.answers.items() if not k.split()[1].isdigit()},
        "answers": tally.answers,
        "refusals": tally.refusals,
        "improper_refusals": improper,
        "admitted": tally.admitted,
        "head_ms": percentiles(tally.head),
        "slow_completed": tally.completed,
        "slow_cut_after": tally.slow_cut,
        "slow_mb": tally.slow_bytes / 1e6,
        "stalled": tally.stalled,
        "health": tally.health,
    }


def render(args: argparse.Namespace, f: dict[str, Any]) -> str:
    known = "export_idle_seconds" in {field.name for field in fields(Settings)}
    lines = [
        "",
        f"{f['orders']:,} orders; {args.clients} clients; {args.stalled} stalled + {args.slow} "
        f"slow ({args.slow_rate} KB/s) readers for {args.seconds:.0f} s after a "
        f"{args.baseline_seconds:.0f} s baseline",
        f"server: {' '.join(f['settings'])} (idle setting known to the code: {known})",
        "",
        "latency ms     baseline p50 / p99    load p50 / p99    ratio p50 / p99   samples",
    ]
    for endpoint, p in f["latency_ms"].items():
        b, lo, r, n = p["baseline"], p["load"], p["ratio"], p["samples"]
        lines.append(
            f"{endpoint:<10}{b[0]:>14.1f} /{b[1]:>7.1f}{lo[0]:>12.1f} /{lo[1]:>7.1f}"
            f"{r[0]:>12.1f}x /{r[1]:>5.1f}x{n[0]:>6}/{n[1]}"
        )
    fivexx = f["fivexx"]
    five_hundreds = sum(n for k, n in fivexx.items() if k.endswith(" 500"))
    lines += [
        "",
        f"5xx answers: {_counts(fivexx) or 'none'} (500s: {five_hundreds})",
        f"transport errors: {_counts(f['transport_errors']) or 'none'}",
        f"export refusals: {sum(f['refusals'].values()):,} ({_counts(f['refusals']) or '-'}); "
        f"all 429/503 with Retry-After: {'yes' if not f['improper_refusals'] else 'NO'}",
        f"exports served (200): {sum(f['admitted'].values()):,} ({_counts(f['admitted'])}), "
        f"head after {f['head_ms'][0]:.0f} ms p50, {f['head_ms'][1]:.0f} ms p99",
        f"slow readers: {f['slow_completed']} read to the end, {len(f['slow_cut_after'])} cut "
        f"short, {f['slow_mb']:,.0f} MB taken",
        *(
            f"stalled: {outcome} x{len(held)}, held {statistics.median(held):.1f} s p50, "
            f"{max(held):.1f} s max"
            for outcome, held in sorted(f["stalled"].items())
        ),
        f"/health answers: {_counts(f['health']) or 'none'}",
        f"node peak RSS: baseline {f['rss_baseline'] / 1e6:,.0f} MB, "
        f"load {f['rss_load'] / 1e6:,.0f} MB",
        "CPU s under load: " + ", ".join(f"{k} {v:.0f}" for k, v in f["cpu_seconds"].items()),
        f"server alive after the load: {f['alive_after_load']}; "
        f"error lines in its log: {f['server_log_error_lines']}",
    ]
    return "\n".join(lines)


def _counts(counter: dict[str, int]) -> str:
    return ", ".join(f"{k} x{n:,}" for k, n in sorted(counter.items()))


if __name__ == "__main__":
    sys.exit(main())
