"""Fixtures shared by the whole suite.

Every database test runs twice: on SQLite and on the PostgreSQL named by
``OMS_EXPORT_TEST_POSTGRES_URL`` (default: the local server, user postgres). Where no PostgreSQL
answers, those runs skip with a message saying how to get them; with
``OMS_EXPORT_TEST_REQUIRE_POSTGRES=1`` (CI sets it) that skip is a failure instead.

Schemas are built by running the migrations once per session (a template file for SQLite, one
database per xdist worker for PostgreSQL); each test then starts from empty tables.

Redis (``OMS_EXPORT_TEST_REDIS_URL``, default the local server) is handled the same way: tests
that need it skip when it is down, or fail under ``OMS_EXPORT_TEST_REQUIRE_POSTGRES=1``. Each
test gets a key prefix of its own and only its own keys are deleted afterwards.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from oms_export.db.engine import make_engine, normalize_url
from oms_export.db.migrate import upgrade
from oms_export.db.schema import metadata
from oms_export.settings import Settings
from tests.live import LiveServer

POSTGRES_URL = os.environ.get(
    "OMS_EXPORT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_POSTGRES = os.environ.get("OMS_EXPORT_TEST_REQUIRE_POSTGRES") == "1"
REDIS_URL = os.environ.get("OMS_EXPORT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TEST_SECRET_KEY = "test-secret-key-not-for-production"

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run ``postgres_only`` tests on PostgreSQL alone: deselected on SQLite, never skipped."""
    dropped = [
        item
        for item in items
        if item.get_closest_marker("postgres_only") and "[sqlite" in item.nodeid
    ]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]


def _worker_id() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(Settings(database_url=f"sqlite:///{path}"))
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A migrated database of this worker's own on the test PostgreSQL server."""
    admin_url = normalize_url(POSTGRES_URL)
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        message = (
            f"PostgreSQL not reachable at {POSTGRES_URL} ({exc.__class__.__name__}); start one "
            "or set OMS_EXPORT_TEST_POSTGRES_URL to run the PostgreSQL half of the suite"
        )
        if REQUIRE_POSTGRES:
            pytest.fail(message + " (OMS_EXPORT_TEST_REQUIRE_POSTGRES=1 forbids skipping)")
        pytest.skip(message)
    name = f"oms_export_test_{_worker_id()}_{os.getpid()}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(Settings(database_url=url))
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_all(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty, migrated database; one test's alone."""
    if request.param == "sqlite":
        path = tmp_path / "oms-export.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_database")
    _truncate_all(url)
    return url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, secret_key=TEST_SECRET_KEY)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings)
    yield engine
    engine.dispose()


@dataclass
class RedisSpace:
    """A Redis server and a key prefix no other test uses."""

    url: str
    prefix: str
    client: redis.Redis

    def keys(self) -> list[str]:
        return sorted(k.decode() for k in self.client.scan_iter(match=self.prefix + "*"))


@pytest.fixture
def redis_space() -> Iterator[RedisSpace]:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        message = (
            f"Redis not reachable at {REDIS_URL} ({exc.__class__.__name__}); start one or set "
            "OMS_EXPORT_TEST_REDIS_URL to run the tests of limits shared through Redis"
        )
        if REQUIRE_POSTGRES:
            pytest.fail(message + " (OMS_EXPORT_TEST_REQUIRE_POSTGRES=1 forbids skipping)")
        pytest.skip(message)
    space = RedisSpace(REDIS_URL, f"oms-export:test-{uuid.uuid4().hex[:12]}:", client)
    yield space
    for key in client.scan_iter(match=space.prefix + "*"):
        client.delete(key)
    client.close()


@pytest.fixture
def live_server(settings: Settings, engine: Engine) -> Iterator[LiveServer]:
    """The service over real HTTP on a loopback port, on this test's database."""
    with LiveServer(settings, engine) as server:
        yield server
