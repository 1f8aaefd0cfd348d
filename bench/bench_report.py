"""The bench's results: one table with the ratios the issue asks for, the docs page, the plot."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import sqlite3
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from bench_http import Run

SERVICE = "service {fmt}"
COPY_JSON = "PG COPY row_to_json"
COPY_CSV = "PG COPY csv"
COPY_PLAIN = "PG COPY csv, plain join"
SQLITE_JSON = "sqlite3 shell json_object"
PEER = "naive peer (ORM+Pydantic)"
WHERE_THE_TIME_GOES = "## Where the time goes"
MB = 1_000_000
CORES = os.cpu_count() or 1
TIMES = "\u00d7"


@dataclass
class Result:
    """One method on one store: its runs, the best of which is reported."""

    backend: str
    orders: int
    expected_rows: int
    method: str
    runs: list[Run] = field(default_factory=list)
    note: str = ""
    idle_rss: int = 0

    @property
    def best(self) -> Run | None:
        """The fastest successful run."""
        done = [run for run in self.runs if run.status == 200]
        return min(done, key=lambda run: run.seconds) if done else None

    @property
    def peak_rss(self) -> int:
        """The highest peak RSS over all runs (not only the fastest)."""
        return max((run.peak_rss for run in self.runs if run.status == 200), default=0)

    @property
    def rows_per_second(self) -> float | None:
        best = self.best
        return best.rows / best.seconds if best and best.seconds else None

    @property
    def rows_ok(self) -> bool:
        return all(run.rows == self.expected_rows for run in self.runs if run.status == 200)


@dataclass(frozen=True)
class Check:
    backend: str
    orders: int
    name: str
    value: float | None
    target: str
    met: bool | None
    unit: str = TIMES


def _find(results: Sequence[Result], backend: str, orders: int, method: str) -> Result | None:
    for result in results:
        if (result.backend, result.orders, result.method) == (backend, orders, method):
            return result
    return None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def checks(results: Sequence[Result]) -> list[Check]:
    """The issue's targets for each store measured."""
    found: list[Check] = []
    for backend, orders in dict.fromkeys((r.backend, r.orders) for r in results):

        def get(method: str, backend: str = backend, orders: int = orders) -> Result | None:
            return _find(results, backend, orders, method)

        json = get(SERVICE.format(fmt="json"))
        peer = get(PEER)
        json_rate = json.rows_per_second if json else None

        def add(
            name: str,
            value: float | None,
            target: float | None,
            backend: str = backend,
            orders: int = orders,
        ) -> None:
            met = None if value is None or target is None else value >= target
            shown = "—" if target is None else f"≥ {target:g}"
            found.append(Check(backend, orders, name, value, shown, met))

        if backend == "postgresql":
            for method, target in ((COPY_JSON, 1.5), (COPY_CSV, 0.9), (COPY_PLAIN, 0.9)):
                base = get(method)
                rate = base.rows_per_second if base else None
                add(f"service json ÷ {method} (rows/s)", _ratio(json_rate, rate), target)
        else:
            base = get(SQLITE_JSON)
            rate = base.rows_per_second if base else None
            add(f"service json ÷ {SQLITE_JSON} (rows/s)", _ratio(json_rate, rate), 0.9)
        peer_rate = peer.rows_per_second if peer else None
        add("service json ÷ naive peer (rows/s)", _ratio(json_rate, peer_rate), 6)
        peer_rss = peer.peak_rss if peer else None
        json_rss = json.peak_rss if json else None
        add("naive peer ÷ service json (peak RSS)", _ratio(peer_rss, json_rss), 30)
        found.extend(_absolute_checks(results, backend, orders))
    return found


def _absolute_checks(results: Sequence[Result], backend: str, orders: int) -> list[Check]:
    """The issue's absolute targets, over every service format measured."""
    service = [
        r
        for r in results
        if (r.backend, r.orders) == (backend, orders) and r.method.startswith("service ") and r.best
    ]
    if not service:
        return []
    rss = max(r.peak_rss for r in service) / MB
    ttfb = max((r.best.ttfb or 0.0) for r in service if r.best)
    return [
        Check(backend, orders, "service peak RSS, worst format", rss, "< 150", rss < 150, " MB"),
        Check(backend, orders, "service first byte, worst format", ttfb, "< 0.5", ttfb < 0.5, " s"),
    ]


def _num(value: float | None, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


def _note(result: Result) -> str:
    notes = [result.note] if result.note else []
    best = result.best
    if best is not None:
        noise = best.cpu.get("others", 0.0) / (best.seconds * CORES) if best.seconds else 0.0
        if noise > 0.1:
            notes.append(f"noisy: other work took {noise:.0%} of the cores")
        if not result.rows_ok:
            notes.append(f"rows ≠ store's {result.expected_rows:,}")
    return "; ".join(notes)


def result_rows(results: Sequence[Result]) -> list[list[str]]:
    header = [
        "backend", "orders", "method", "rows", "s", "rows/s", "MB/s", "TTFB s", "1st row s",
        "peak RSS MB", "note",
    ]  # fmt: skip
    rows = [header]
    for r in results:
        best = r.best
        note = _note(r)
        rows.append(
            [
                r.backend,
                f"{r.orders:,}",
                r.method,
                f"{best.rows:,}" if best else "n/a",
                _num(best.seconds if best else None, ".2f"),
                _num(r.rows_per_second, ",.0f"),
                _num(best.bytes / best.seconds / MB if best and best.bytes else None, ".1f"),
                _num(best.ttfb if best else None, ".3f"),
                _num(best.first_row if best else None, ".3f"),
                _num(r.peak_rss / MB if r.peak_rss else None, ",.0f"),
                note,
            ]
        )
    return rows


def check_rows(found: Sequence[Check]) -> list[list[str]]:
    rows = [["backend", "orders", "ratio", "measured", "target", "met"]]
    for c in found:
        value = "n/a" if c.value is None else f"{c.value:.2f}{c.unit}"
        met = "—" if c.met is None else ("yes" if c.met else "NO")
        target = c.target if c.target == "—" else f"{c.target}{c.unit}"
        rows.append([c.backend, f"{c.orders:,}", c.name, value, target, met])
    return rows


def cpu_rows(results: Sequence[Result]) -> list[list[str]]:
    rows = [["backend", "orders", "method", "wall s", "server CPU s", "PostgreSQL CPU s",
             "client CPU s", "other CPU s", "idle RSS MB"]]  # fmt: skip
    for r in results:
        best = r.best
        if not best:
            continue
        cpu = best.cpu
        rows.append(
            [
                r.backend,
                f"{r.orders:,}",
                r.method,
                f"{best.seconds:.2f}",
                _num(cpu.get("server"), ".2f"),
                _num(cpu.get("postgres"), ".2f"),
                _num(cpu.get("client"), ".2f"),
                _num(cpu.get("others"), ".2f"),
                _num(r.idle_rss / MB if r.idle_rss else None, ".0f"),
            ]
        )
    return rows


def markdown_table(rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table padded to line up, so it reads as well in a terminal."""
    widths = [max(len(row[n]) for row in rows) for n in range(len(rows[0]))]
    numeric = [
        all(re.fullmatch(r"[\d,.\u00d7—naMBs/ -]+", row[n]) for row in rows[1:])
        for n in range(len(widths))
    ]

    def line(cells: Sequence[str]) -> str:
        padded = [
            cell.rjust(w) if right else cell.ljust(w)
            for cell, w, right in zip(cells, widths, numeric, strict=True)
        ]
        return "| " + " | ".join(padded) + " |"

    rule = [
        "-" * (w - 1) + ":" if right else "-" * w for w, right in zip(widths, numeric, strict=True)
    ]
    return "\n".join([line(rows[0]), line(rule), *(line(row) for row in rows[1:])]) + "\n"


def machine_description(postgres_version: str | None) -> list[str]:
    cpu = "unknown CPU"
    try:
        found = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        cpu = found[1] if found else cpu
    except OSError:
        pass
    packages = ("fastapi", "uvicorn", "sqlalchemy", "psycopg", "orjson", "pydantic", "httpx")
    versions = ", ".join(f"{name} {importlib.metadata.version(name)}" for name in packages)
    lines = [
        f"- CPU: {cpu}, {os.cpu_count()} cores; memory {psutil.virtual_memory().total / 2**30:.0f}"
        f" GiB; {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}; {versions}",
        f"- SQLite {sqlite3.sqlite_version} (library); {_sqlite_shell_version()}",
    ]
    if postgres_version:
        lines.append(f"- {postgres_version}, default configuration, on the same machine")
    return lines


def _sqlite_shell_version() -> str:
    try:
        out = subprocess.run(["sqlite3", "--version"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "no sqlite3 shell"
    return "sqlite3 shell " + out.stdout.split()[0]


def kept_section(path: Path) -> str | None:
    """The "Where the time goes" section of the page as it is now: written by hand, kept."""
    try:
        text = path.read_text()
    except OSError:
        return None
    start = text.find(WHERE_THE_TIME_GOES)
    return text[start:].rstrip() + "\n" if start >= 0 else None
