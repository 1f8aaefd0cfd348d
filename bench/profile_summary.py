"""Summarise a py-spy raw profile (``py-spy record --format raw``): where a process spent its time.

Each stack is put in one category by its innermost frame that belongs to a known part (the
driver, SQLAlchemy's result handling, the export's row building or encoding, the HTTP stack,
the event loop and thread hand-off), and the innermost frames are ranked by their own samples.
C functions (orjson's ``dumps``, psycopg's row decoding) have no frame of their own: their time
shows on the Python line that calls them.

    python bench/profile_summary.py bench/.data/profile-postgresql-200000.txt
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    # Markers are matched against "file::function" of each frame.
    (
        "psycopg: waiting for PostgreSQL",
        ("psycopg/connection.py::Connection.wait", "psycopg/waiting.py"),
    ),
    ("psycopg: fetch and decode rows", ("psycopg/", "psycopg_binary/")),
    ("SQLAlchemy: result rows and type processors", ("sqlalchemy/",)),
    ("export: row building (rows.py)", ("oms_export/export/rows.py",)),
    ("export: encoding, orjson (encoders.py)", ("oms_export/export/encoders.py",)),
    ("export: other export code", ("oms_export/export/",)),
    (
        "HTTP: uvicorn, starlette, middleware, send",
        ("uvicorn/", "starlette/", "fastapi/", "h11/", "httptools/", "oms_export/api/"),
    ),
    (
        "event loop and threadpool hand-off",
        ("anyio/", "asyncio/", "concurrent/futures/", "threading.py", "selectors.py"),
    ),
)
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


@dataclass(frozen=True)
class Profile:
    total: int
    categories: list[tuple[str, int]]
    leaves: list[tuple[str, int]]


def _frames(stack: str) -> list[tuple[str, str]]:
    frames = []
    for raw in stack.split(";"):
        match = _FRAME.match(raw.strip())
        if match:
            frames.append((match["function"], match["file"]))
        else:
            frames.append((raw.strip(), ""))
    return frames


def _category(frames: list[tuple[str, str]]) -> str:
    for function, file in reversed(frames):
        where = f"{file}::{function}"
        for name, markers in CATEGORIES:
            if any(marker in where for marker in markers):
                return name
    return "other"


def summarise(path: Path) -> Profile:
    categories: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = _frames(stack)
        total += count
        categories[_category(frames)] += count
        function, file = frames[-1]
        leaves[f"{function} ({file})"] += count
    return Profile(total, categories.most_common(), leaves.most_common(15))


def render(profile: Profile) -> str:
    """The summary as Markdown tables: categories, then the innermost frames."""
    if not profile.total:
        return "No samples.\n"
    lines = ["| where | share of samples |", "| --- | ---: |"]
    lines += [f"| {name} | {n / profile.total:.0%} |" for name, n in profile.categories]
    lines += ["", "| innermost Python frame (own samples) | share |", "| --- | ---: |"]
    lines += [f"| `{name}` | {n / profile.total:.1%} |" for name, n in profile.leaves]
    lines += ["", f"{profile.total} samples."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path, help="a py-spy raw profile")
    print(render(summarise(parser.parse_args().profile)), end="")


if __name__ == "__main__":
    main()
