"""How fast ``oms-export pull`` and the SDK read a full export, against the service's own pace.

    .venv/bin/python bench/pull_bench.py --backend postgresql --orders 200000

Builds (or reuses) the demo store of ``export_bench.py``, starts one ``oms-export serve``
process with limits off, and in the same run measures, every option on:

- the service alone: the unpaged ndjson export streamed by httpx and thrown away (the ceiling);
- the same in pages of 10,000 orders, as the client asks for it;
- the SDK: ``ExportClient.rows()`` turned into dicts and counted;
- ``oms-export pull`` as a process, into ndjson, csv, json and parquet files and a SQLite table.

Each line prints item rows/s and the ratio to the service alone. Best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx
from bench_http import running, service_environment, service_token
from bench_store import ALL_OPTIONS, demo_credentials, prepare_store

from oms_export.client import ExportClient

EXPORT_PATH = "/export-api/order-item-details"
HERE = Path(__file__).resolve().parent
INCLUDE_ALL = [
    "includeProductOwner",
    "includeProductPrice",
    "includeProductEcommerceInfo",
    "includeAttributes",
]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", default="postgresql", choices=("postgresql", "sqlite"))
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--data-dir", type=Path, default=HERE / ".data")
    return parser.parse_args(argv)


def stream_rows(base: str, token: str, params: list[tuple[str, str]]) -> int:
    """Rows of every page of one export, read as bytes and counted by newline."""
    rows, cursor = 0, None
    with httpx.Client(base_url=base, timeout=httpx.Timeout(600.0)) as http:
        while True:
            page = params + ([("page[after]", cursor)] if cursor else [])
            with http.stream(
                "GET", EXPORT_PATH, params=page, headers={"Authorization": f"Bearer {token}"}
            ) as response:
                response.raise_for_status()
                for chunk in response.iter_bytes():
                    rows += chunk.count(b"\n")
                link = response.headers.get("Link")
            if not link:
                return rows
            cursor = httpx.URL(link.split(";")[0].strip("<> ")).params["page[after]"]


def best(repeat: int, once: Callable[[], int]) -> tuple[int, float]:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        rows = once()
        runs.append((time.perf_counter() - started, rows))
    seconds, rows = min(runs)
    return rows, seconds


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    store = prepare_store(
        args.backend,
        args.orders,
        args.seed,
        data_dir=args.data_dir,
        postgres_url=args.postgres_url,
        rebuild=False,
    )
    client_id, secret = demo_credentials(store.url)
    env, _ = service_environment()
    command = [sys.executable, "-m", "oms_export", "--database-url", store.url, "serve"]
    print(
        f"{store.backend}, {store.orders:,} orders, {store.rows:,} item rows, "
        f"every option on, best of {args.repeat}"
    )
    results: list[tuple[str, int, float]] = []
    with (
        running(command, env, args.data_dir / "logs", "pull-bench") as server,
        tempfile.TemporaryDirectory() as tmp,
    ):
        token = service_token(server.url, client_id, secret)
        ndjson = [*ALL_OPTIONS, ("format", "ndjson")]
        results.append(
            (
                "service alone, unpaged ndjson (httpx)",
                *best(args.repeat, lambda: stream_rows(server.url, token, ndjson)),
            )
        )
        paged = [*ndjson, ("page[size]", "10000")]
        results.append(
            (
                "service alone, pages of 10,000 (httpx)",
                *best(args.repeat, lambda: stream_rows(server.url, token, paged)),
            )
        )

        def sdk() -> int:
            with ExportClient(server.url, client_id, secret) as client:
                return sum(1 for _ in client.rows(options=INCLUDE_ALL))

        results.append(("SDK ExportClient.rows() -> dicts", *best(args.repeat, sdk)))
        pull_env = {**env, "OMS_EXPORT_CLIENT_ID": client_id, "OMS_EXPORT_CLIENT_SECRET": secret}
        targets = [
            (f"pull -o FILE --format {fmt}", ["--format", fmt, "-o", f"{tmp}/out.{fmt}"])
            for fmt in ("ndjson", "csv", "json", "parquet")
        ]
        targets.append(("pull --to sqlite:///FILE", ["--to", f"sqlite:///{tmp}/out.db"]))
        for label, where in targets:

            def run_pull(where: list[str] = where) -> int:
                done = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "oms_export",
                        "pull",
                        "--url",
                        server.url,
                        "--include",
                        "all",
                        "--quiet",
                        *where,
                    ],
                    env=pull_env,
                    check=True,
                    capture_output=True,
                )
                assert done.returncode == 0
                return store.rows

            results.append((label, *best(args.repeat, run_pull)))
    ceiling = results[0][1] / results[0][2]
    print(f"{'method':44} {'rows':>10} {'seconds':>8} {'rows/s':>9} {'÷ service':>9}")
    for label, rows, seconds in results:
        assert rows == store.rows, f"{label}: {rows} rows, expected {store.rows}"
        rate = rows / seconds
        print(f"{label:44} {rows:>10,} {seconds:>8.1f} {rate:>9,.0f} {rate / ceiling:>9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
