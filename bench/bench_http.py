"""Measure an HTTP export: a server in its own process, an httpx client that streams and discards.

For each run: wall time, bytes, rows (counted in the stream, see ``RowCounter``), time to the
first body byte and to the first row, the server's peak RSS (sampled every 50 ms with psutil and
cross-checked with the kernel's high-water mark, reset before the run) and the CPU seconds spent
by the server, by PostgreSQL's processes and by this client while the run lasted.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path

import httpx
import psutil

from oms_export.settings import ENV_PREFIX, Settings

SCOPE = "export-api.order-item-details"
TIMEOUT = httpx.Timeout(connect=10.0, read=3600.0, write=60.0, pool=10.0)
_TURNS_OFF = re.compile(r"\b0\b[^.]*\b(off|disables?|no limit|unlimited)\b", re.IGNORECASE)


@dataclass
class Run:
    """One request, measured."""

    status: int
    seconds: float = 0.0
    bytes: int = 0
    rows: int = 0
    ttfb: float | None = None
    """Seconds to the first body byte."""
    first_row: float | None = None
    """Seconds until the first row had begun to arrive."""
    peak_rss: int = 0
    cpu: dict[str, float] = field(default_factory=dict)
    error: str = ""


class RowCounter:
    """Rows in a stream, counted without parsing it.

    ndjson and csv: one record a line (csv less its header; the demo data has no line breaks in
    values). json: the array's objects, each of which begins with ``{"id":`` (``id`` is the first
    key of every row and no row holds a nested object). The bench checks each count against the
    store's own count of the export's rows.
    """

    def __init__(self, fmt: str) -> None:
        self._fmt = fmt
        self._marker = b'{"id":' if fmt == "json" else b"\n"
        self._tail = b""
        self._count = 0
        self._last = b""

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        # A marker split across chunks is found in the last chunk's tail joined to the head of
        # this one, each shorter than the marker, so none counts twice; the chunk itself is not
        # copied (the client shares the cores with the server it measures).
        edge = len(self._marker) - 1
        if edge:
            self._count += (self._tail + chunk[:edge]).count(self._marker)
            self._tail = (self._tail + chunk)[-edge:] if len(chunk) < edge else chunk[-edge:]
        self._count += chunk.count(self._marker)
        self._last = chunk[-1:]

    @property
    def rows(self) -> int:
        if self._fmt == "json":
            return self._count
        lines = self._count + (1 if self._last not in (b"", b"\n") else 0)
        return max(lines - 1, 0) if self._fmt == "csv" else lines


class ResourceSampler:
    """Peak RSS of a process and its children, and the CPU seconds spent while it watched."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self._process = psutil.Process(pid)
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self.peak = 0
        self._cpu_before: dict[str, float] = {}
        self._postgres_before: dict[int, float] = {}
        self._machine_before = 0.0

    def __enter__(self) -> ResourceSampler:
        _reset_high_water_mark(self._process.pid)
        self._cpu_before = self._cpu()
        self._postgres_before = _postgres_cpu()
        self._machine_before = _machine_busy()
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _high_water_mark(self._process.pid))

    def cpu_seconds(self) -> dict[str, float]:
        after = self._cpu()
        used = {name: after[name] - self._cpu_before[name] for name in after}
        postgres_after = _postgres_cpu()
        used["postgres"] = sum(
            t - self._postgres_before.get(pid, 0.0) for pid, t in postgres_after.items()
        )
        # Whatever else kept the machine's cores busy meanwhile: a sign of a noisy run. A
        # watched PostgreSQL backend (a COPY) is already among the PostgreSQL processes.
        ours = used["client"] + used["postgres"]
        if self._process.pid not in postgres_after:
            ours += used["server"]
        used["others"] = max(_machine_busy() - self._machine_before - ours, 0.0)
        return used

    def _cpu(self) -> dict[str, float]:
        server = self._process.cpu_times()
        client = psutil.Process().cpu_times()
        return {"server": server.user + server.system, "client": client.user + client.system}

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            self._stop.wait(self._interval)

    def _rss(self) -> int:
        try:
            total = self._process.memory_info().rss
            for child in self._process.children(recursive=True):
                total += child.memory_info().rss
        except psutil.Error:
            return 0
        return int(total)


def _reset_high_water_mark(pid: int) -> None:
    # Writing 5 to clear_refs resets VmHWM (Linux); without it the sampled peak stands alone.
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return


def _high_water_mark(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(match[1]) * 1024 if match else 0


def _machine_busy() -> float:
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


def _postgres_cpu() -> dict[int, float]:
    times: dict[int, float] = {}
    for proc in psutil.process_iter(["name", "cpu_times"]):
        cpu = proc.info.get("cpu_times")
        if proc.info.get("name") == "postgres" and cpu is not None:
            times[proc.pid] = cpu.user + cpu.system
    return times


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def service_environment() -> tuple[dict[str, str], list[str]]:
    """The environment for ``oms-export serve`` with every limit off; also names what it set.

    The per-client rate limit is off (``OMS_EXPORT_RATE_LIMIT_PER_MINUTE=0``), and so is any
    other setting whose description says 0 turns it off; Redis is not used.
    """
    env = {k: v for k, v in os.environ.items() if k != f"{ENV_PREFIX}REDIS_URL"}
    turned_off = []
    for f in fields(Settings):
        name = ENV_PREFIX + f.name.upper()
        if f.name == "rate_limit_per_minute" or (
            f.type in ("int", int) and _TURNS_OFF.search(f.metadata.get("description", ""))
        ):
            env[name] = "0"
            turned_off.append(name)
    return env, turned_off


class ServerProcess:
    """A server started as its own process on a free loopback port; stopped with SIGTERM."""

    def __init__(
        self, command: Sequence[str], env: Mapping[str, str], log_dir: Path, name: str
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log = log_dir / f"{name}-{self.port}.log"
        # Output goes to a file: a pipe nobody drains would block the server once full.
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [*command, "--port", str(self.port)],
                env=dict(env),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self._wait_healthy()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _wait_healthy(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if httpx.get(self.url + "/health", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not become healthy; see {self.log}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextmanager
def running(
    command: Sequence[str], env: Mapping[str, str], log_dir: Path, name: str
) -> Iterator[ServerProcess]:
    server = ServerProcess(command, env, log_dir, name)
    try:
        yield server
    finally:
        server.stop()


def service_token(base_url: str, client_id: str, client_secret: str) -> str:
    response = httpx.post(
        base_url + "/token",
        data={
            "client_id": client_id,
            "client_secret": client_secret,
            "grant_type": "client_credentials",
            "scope": SCOPE,
        },
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def measure_stream(
    url: str,
    params: list[tuple[str, str]],
    headers: Mapping[str, str],
    fmt: str,
    server_pid: int,
) -> Run:
    """One request, streamed and discarded, with the server's resources watched meanwhile."""
    counter = RowCounter(fmt)
    request_headers = {"Accept-Encoding": "identity", **headers}
    with (
        ResourceSampler(server_pid) as sampler,
        httpx.Client(timeout=TIMEOUT) as client,
    ):
        started = time.perf_counter()
        with client.stream("GET", url, params=tuple(params), headers=request_headers) as response:
            run = Run(status=response.status_code)
            if response.status_code != 200:
                run.error = response.read().decode(errors="replace")[:300]
                return run
            for chunk in response.iter_raw():
                now = time.perf_counter() - started
                if run.ttfb is None and chunk:
                    run.ttfb = now
                run.bytes += len(chunk)
                counter.feed(chunk)
                if run.first_row is None and counter.rows:
                    run.first_row = now
        run.seconds = time.perf_counter() - started
        run.rows = counter.rows
        run.cpu = sampler.cpu_seconds()
    run.peak_rss = sampler.peak
    return run


def fetch_json(url: str, params: list[tuple[str, str]], headers: Mapping[str, str]) -> object:
    """The whole response parsed, for the row-by-row comparison at small sizes."""
    response = httpx.get(url, params=tuple(params), headers=headers, timeout=TIMEOUT)
    response.raise_for_status()
    return response.json()
