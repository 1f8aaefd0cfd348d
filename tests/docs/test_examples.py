"""Every shell example of the README and docs/*.md runs, as a reader pastes it, against
``oms-export serve --demo``, on a fresh SQLite store and on PostgreSQL.

The reader's shell is bash with ``set -euo pipefail``, the activated venv on ``PATH``, and the
environment the docs tell them to set up: ``CLIENT_ID`` and ``CLIENT_SECRET`` (the demo client's,
which ``serve --demo`` prints), and the store in ``OMS_EXPORT_DATABASE_URL``; ``RETAILER_ID=…``
and the like, the orders API's demo clients, are filled in from the same printout. Each document starts
from that environment in a directory of its own; variables a block sets (``TOKEN=…``) are kept for
the blocks after it, as a shell keeps them between pastes. The service listens on a free port, so
``http://127.0.0.1:8000`` in an example is read as its URL, and a credential left for the reader
to fill in (``OMS_EXPORT_CLIENT_ID=…``) is filled in with the demo client's.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.nodes import EXPORT_PATH, Node
from tests.conftest import REQUIRE_POSTGRES
from tests.docs.examples import (
    Example,
    differences,
    documents,
    examples,
    expected_value,
    saved_files,
)

DOCUMENTED_URL = "http://127.0.0.1:8000"
SECRET_KEY = "docs-examples-key"
CREDENTIALS: dict[str, tuple[str, ...]] = {
    "CLIENT_ID": ("client_id",),
    "CLIENT_SECRET": ("client_secret",),
    "OMS_EXPORT_CLIENT_ID": ("client_id",),
    "OMS_EXPORT_CLIENT_SECRET": ("client_secret",),
    "RETAILER_ID": ("retailer", "client_id"),
    "RETAILER_SECRET": ("retailer", "client_secret"),
    "FULFILLER_ID": ("fulfiller", "client_id"),
    "FULFILLER_SECRET": ("fulfiller", "client_secret"),
}
"""Variables the docs leave for the reader to fill in, and where each one's value is in the demo's
printout (the export client's at the top, the orders API's clients under their role)."""

BLOCK_TIMEOUT_SECONDS = 60


def all_examples() -> list[Example]:
    return [example for path in documents() for example in examples(path)]


def test_every_shell_example_is_run_or_says_why_not() -> None:
    found = all_examples()
    assert len(found) > 20, "the docs' shell examples were not found"
    unexplained = [e.where for e in found if e.not_run is not None and not e.not_run]
    assert not unexplained, f"`<!-- not-run: WHY -->` without a why: {unexplained}"
    assert sum(e.not_run is None for e in found) > len(found) // 2, "most examples should run"


class DemoService(Node):
    """``oms-export serve --demo``, started as the README starts it, on a free port."""

    def __init__(self, database_url: str, workdir: Path) -> None:
        super().__init__(database_url, workdir, {"OMS_EXPORT_SECRET_KEY": SECRET_KEY}, "--demo")
        self.credentials = self._banner()
        self.wait_healthy()

    def credential(self, name: str) -> str:
        """The printed value a variable of ``CREDENTIALS`` takes."""
        value: Any = self.credentials
        for key in CREDENTIALS[name]:
            value = value[key]
        return str(value)

    def _banner(self) -> dict[str, Any]:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.process.poll() is None:
            text = self.stdout.read_text()
            if "\n}\n" in text:
                banner: dict[str, Any] = json.loads(text[: text.index("\n}\n") + 2])
                return banner
            time.sleep(0.05)
        raise RuntimeError(f"serve --demo printed no credentials: {self.stderr.read_text()}")


@pytest.fixture
def demo(database_url: str, tmp_path: Path) -> Iterator[tuple[DemoService, str]]:
    for tool in ("curl", "jq"):
        if shutil.which(tool) is None:
            message = f"the docs' examples need {tool} on PATH (.ci/run installs it)"
            if REQUIRE_POSTGRES:
                pytest.fail(message)
            pytest.skip(message)
    if database_url.startswith("sqlite"):  # a fresh file, not the migrated template
        database_url = f"sqlite:///{tmp_path / 'oms-export.db'}"
    service = DemoService(database_url, tmp_path)
    try:
        yield service, database_url
    finally:
        service.kill()


class Reader:
    """A shell a reader pastes one document's examples into."""

    def __init__(self, service: DemoService, database_url: str, workdir: Path) -> None:
        self.service = service
        self.workdir = workdir
        self.state = workdir / ".shell-state"
        self.state.write_text("")
        venv_bin = str(Path(sys.executable).parent)
        self.env = {
            **os.environ,
            "PATH": venv_bin + os.pathsep + os.environ.get("PATH", ""),
            "OMS_EXPORT_DATABASE_URL": database_url,
            "OMS_EXPORT_SECRET_KEY": SECRET_KEY,
            "CLIENT_ID": service.credentials["client_id"],
            "CLIENT_SECRET": service.credentials["client_secret"],
        }
        for name in ("TOKEN", "OMS_EXPORT_URL", "OMS_EXPORT_CLIENT_ID", "OMS_EXPORT_CLIENT_SECRET"):
            self.env.pop(name, None)

    def script(self, example: Example) -> str:
        text = example.text.replace(DOCUMENTED_URL, self.service.url)
        for name in CREDENTIALS:
            text = text.replace(f"{name}=…", f"{name}={self.service.credential(name)}")
        keep = "".join(
            f"printf 'export {name}=%q\\n' \"${{{name}-}}\" >> {shlex.quote(str(self.state))}\n"
            for name in example.assigned_names()
        )
        return f"set -euo pipefail\n. {shlex.quote(str(self.state))}\n{text}{keep}"

    def run(self, example: Example) -> list[str]:
        """Run one example; what is wrong with it, if anything."""
        try:
            done = subprocess.run(
                ["bash", "-c", self.script(example)],
                cwd=self.workdir,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=BLOCK_TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return [f"{example.where}: still running after {BLOCK_TIMEOUT_SECONDS} s"]
        if done.returncode != 0:
            return [f"{example.where}: exit status {done.returncode}\n{done.stderr[-2000:]}"]
        if example.output is None:
            return []
        try:
            actual = json.loads(done.stdout)
        except json.JSONDecodeError:
            return [f"{example.where}: printed {done.stdout[:500]!r}, not the JSON the docs show"]
        return [
            f"{example.where}: {p}" for p in differences(expected_value(example.output), actual)
        ]


def _export_ndjson(service: DemoService) -> list[dict[str, object]]:
    token = service.token(service.credentials).json()["access_token"]
    response = httpx.get(
        service.url + EXPORT_PATH,
        params={"format": "ndjson"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    response.raise_for_status()
    return [json.loads(line) for line in response.text.splitlines()]


def test_the_docs_examples_run_against_a_demo_service(
    demo: tuple[DemoService, str], tmp_path: Path
) -> None:
    service, database_url = demo
    problems: list[str] = []
    ran = 0
    unpaged: list[dict[str, object]] = []
    for path in documents():
        workdir = tmp_path / path.stem
        workdir.mkdir()
        for name, content in saved_files(path).items():
            (workdir / name).write_text(content)
        reader = Reader(service, database_url, workdir)
        for example in examples(path):
            if example.not_run is None:
                problems += reader.run(example)
                ran += 1
        if path.name == "api.md":  # before later documents import more orders
            unpaged = _export_ndjson(service)
    assert not problems, "\n\n".join(problems)
    assert ran >= 20

    # docs/api.md's paging loop followed every page to the whole export, each row once.
    paged = (tmp_path / "api" / "orders.ndjson").read_text().splitlines()
    assert [json.loads(line) for line in paged] == unpaged
    assert len({row["id"] for row in unpaged}) > 100, "the loop should have crossed pages of 100"
