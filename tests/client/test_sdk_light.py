"""The SDK stays light: importing it loads none of the server's weight, and its public names
are the ones ``__all__`` lists."""

from __future__ import annotations

import subprocess
import sys

import oms_export.client

SERVER_SIDE = ("sqlalchemy", "fastapi", "starlette", "uvicorn", "alembic", "psycopg", "pyarrow")


def test_importing_the_client_loads_no_server_package() -> None:
    probe = (
        "import sys, oms_export.client\n"
        f"loaded = sorted({{name.split('.')[0] for name in sys.modules}} & set({SERVER_SIDE!r}))\n"
        "print(','.join(loaded))\n"
        "print('httpx' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.splitlines() == ["", "True"]  # nothing server-side; the probe did run


def test_every_public_name_of_the_client_is_in_all() -> None:
    public = {name for name in vars(oms_export.client) if not name.startswith("_")}
    modules = {"auth", "errors", "exports", "query", "retry"}
    assert public - modules == set(oms_export.client.__all__)
    assert len(oms_export.client.__all__) == len(set(oms_export.client.__all__))
