from __future__ import annotations

from sqlalchemy import Engine, inspect

from oms_export.db.migrate import current_revision, head_revision, upgrade
from oms_export.db.schema import metadata


def test_migrations_reach_head_and_build_every_table(engine: Engine) -> None:
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()
    assert set(metadata.tables) <= set(inspect(engine).get_table_names())


def test_upgrade_on_a_current_database_changes_nothing(engine: Engine) -> None:
    upgrade(engine)
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()


def test_migrations_build_exactly_the_schema_the_code_declares(engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_order_ids_are_never_reused_after_a_delete(engine: Engine) -> None:
    from sqlalchemy import delete

    from oms_export.db.schema import orders
    from tests import factories as f

    company = f.company(engine, 1001)
    first = f.order(engine, company, "A")
    with engine.begin() as conn:
        conn.execute(delete(orders).where(orders.c.id == first))
    assert f.order(engine, company, "B") > first
