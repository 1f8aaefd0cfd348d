"""The store: engine factory, schema as SQLAlchemy Core tables, Alembic migrations."""
