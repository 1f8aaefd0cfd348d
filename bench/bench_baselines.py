"""The database's own limit on the same rows: the service's SELECT, formatted by the database.

PostgreSQL: ``COPY (SELECT row_to_json(t) FROM (<the export's SELECT>) t) TO STDOUT`` and
``COPY (<the export's SELECT>) TO STDOUT (FORMAT csv, HEADER)``, and a CSV COPY of a plain
join of the same orders, items and attributes (``bench_store.plain_join_sql``), read through
psycopg's ``cursor.copy()`` and discarded. SQLite: the ``sqlite3`` shell printing
``json_object(…)`` of each row of the same SELECT to /dev/null.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence

import psycopg
from bench_http import ResourceSampler, Run
from bench_store import Store, export_sql, plain_join_sql

SQLITE_MAX_PAIRS = 60
"""``json_object`` takes at most 127 arguments in a stock SQLite build: 60 pairs per call."""


def pg_copy(store: Store, fmt: str, *, jit: bool = True) -> Run:
    """One COPY of the export's rows, as JSON text (``row_to_json``) or as CSV; ``plain``: the
    plain join's rows as CSV.

    ``jit=False`` turns JIT compilation off for the COPY, as the service does for its SELECT;
    by default PostgreSQL's own settings apply.
    """
    select_sql = plain_join_sql(store.url) if fmt == "plain" else export_sql(store.url)[0]
    if fmt == "json":
        statement = f"COPY (SELECT row_to_json(t) FROM ({select_sql}) AS t) TO STDOUT"
    else:
        statement = f"COPY ({select_sql}) TO STDOUT (FORMAT csv, HEADER)"
    with psycopg.connect(store.libpq_url) as conn, conn.cursor() as cursor:
        if not jit:
            conn.execute("SET jit = off")
        backend = conn.info.backend_pid
        lines = 0
        run = Run(status=200)
        with ResourceSampler(backend) as sampler:
            started = time.perf_counter()
            with cursor.copy(statement) as copy:
                for block in copy:
                    data = bytes(block)
                    if run.first_row is None:
                        run.first_row = run.ttfb = time.perf_counter() - started
                    run.bytes += len(data)
                    lines += data.count(b"\n")
            run.seconds = time.perf_counter() - started
            run.cpu = sampler.cpu_seconds()
    run.rows = lines - 1 if fmt != "json" else lines  # CSV: less the header
    return run


def sqlite_shell() -> str | None:
    return shutil.which("sqlite3")


def sqlite_json_sql(select_sql: str, columns: Sequence[str]) -> str:
    """``SELECT json_object(…) FROM (<select>) t``, split into calls of at most 60 pairs.

    The objects of the calls are joined into one by trimming their braces (every value is a
    scalar, so a trimmed brace is always the object's own).
    """
    chunks = [
        columns[start : start + SQLITE_MAX_PAIRS]
        for start in range(0, len(columns), SQLITE_MAX_PAIRS)
    ]
    parts = []
    for n, chunk in enumerate(chunks):
        pairs = ", ".join(_json_pair(column) for column in chunk)
        part = f"json_object({pairs})"
        if n > 0:
            part = f"ltrim({part}, '{{')"
        if n < len(chunks) - 1:
            part = f"rtrim({part}, '}}')"
        parts.append(part)
    joined = " || ',' || ".join(parts)
    return f"SELECT {joined} FROM ({select_sql}) AS t;\n"


def _json_pair(column: str) -> str:
    return f"'{column}', t.\"{column}\""


def sqlite_json(store: Store, shell: str) -> Run:
    """The sqlite3 shell writing every row as JSON to /dev/null; rows are the store's count."""
    select_sql, columns = export_sql(store.url)
    script = sqlite_json_sql(select_sql, columns)
    command = [shell, "-readonly", "-batch", "-noheader", str(store.sqlite_path)]
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors
        )
        assert process.stdin is not None
        process.stdin.write(script.encode())
        process.stdin.close()
        # wait4 gives the shell's CPU time with its exit status. (Its ru_maxrss would count
        # the bench's own memory, which the shell shares until it execs: not reported.)
        _pid, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        errors.seek(0)
        message = errors.read().decode(errors="replace").strip()
    if process.returncode != 0 or message:
        return Run(status=500, error=message[:300] or f"sqlite3 exited {process.returncode}")
    return Run(
        status=200,
        seconds=seconds,
        rows=store.rows,
        cpu={"server": usage.ru_utime + usage.ru_stime},
    )
