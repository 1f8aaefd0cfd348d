"""Every setting of the service in one typed place.

Settings are read once, by the CLI, from ``OMS_EXPORT_*`` environment variables and passed down
explicitly: nothing below this module reads the environment, so a test can run several services
with different settings in one process.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

ENV_PREFIX = "OMS_EXPORT_"


def _setting(default: Any, description: str) -> Any:
    return field(default=default, metadata={"description": description})


@dataclass(frozen=True)
class Settings:
    """The service's configuration; each field maps to ``OMS_EXPORT_<FIELD>``."""

    database_url: str = _setting(
        "sqlite:///oms-export.db",
        "SQLAlchemy or plain PostgreSQL URL of the store "
        "(`postgresql://user@host:5432/db` works as written; psycopg 3 is the driver).",
    )
    secret_key: str = _setting(
        "",
        "Key for the keyed hash of client secrets. Empty: a random key is made once and kept "
        "in the database, which suits one-machine use; set it in production so a copy of the "
        "database alone cannot check guesses.",
    )
    token_ttl_seconds: int = _setting(3600, "Lifetime of an access token, in seconds.")
    rate_limit_per_minute: int = _setting(
        120, "Export requests one client may make per minute; 0 turns the limit off."
    )
    token_rate_limit_per_minute: int = _setting(
        30, "Failed token requests one client id may make per minute before it gets 429."
    )
    stream_batch_rows: int = _setting(
        2000, "Rows fetched from the database cursor per batch while an export streams."
    )
    max_query_length: int = _setting(
        8192, "Longest query string the export accepts, in bytes; longer is 400."
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``OMS_EXPORT_*`` variables, then explicit overrides."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is None:
                continue
            values[f.name] = int(raw) if f.type in ("int", int) else raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_changes(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def describe_settings() -> list[tuple[str, str, str]]:
    """(environment variable, default, description) for each setting, for the docs and CLI."""
    return [
        (ENV_PREFIX + f.name.upper(), repr(f.default), f.metadata["description"])
        for f in fields(Settings)
    ]
