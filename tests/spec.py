"""The shared contract's tables (``shared/spec/*.tsv``), for tests that hold the code to them."""

from __future__ import annotations

from pathlib import Path

import pytest

SPEC = Path(__file__).resolve().parents[2] / "shared" / "spec"


def spec_rows(name: str) -> list[list[str]]:
    """The rows of one spec table, header and comments left out; skips when it is not beside
    this checkout."""
    path = SPEC / name
    if not path.exists():
        pytest.skip(f"{path} is not beside this checkout")
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return [line.split("\t") for line in lines[1:]]
