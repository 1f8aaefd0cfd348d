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
        30,
        "Failed token requests one source address may make per minute; past it, a wrong "
        "secret from that address gets 429 while the right one still gets its token, so "
        "nobody can lock a client out by guessing its secret. 0 turns the limit off.",
    )
    token_issue_limit_per_minute: int = _setting(
        60,
        "Tokens one client may be given per minute; past it 429 with `Retry-After`. Tokens "
        "live `OMS_EXPORT_TOKEN_TTL_SECONDS`, so this bounds the tokens a client holds (3,600 "
        "at the defaults). Only an authenticated client counts. 0 turns the limit off.",
    )
    max_concurrent_exports: int = _setting(
        2,
        "Exports one client may have streaming at once, counted across all nodes when "
        "`OMS_EXPORT_REDIS_URL` is set; one more is 429. 0 turns the cap off.",
    )
    statement_timeout_seconds: int = _setting(
        300,
        "Longest any one database query may run, in seconds, so no request can hold the "
        "database for ever; the query is cancelled with an error. 0 turns the bound off.",
    )
    redis_url: str = _setting(
        "",
        "Redis URL (`redis://127.0.0.1:6379/0`) where the rate limits and the concurrent-export "
        "cap live, so every node shares them. Empty: each process keeps its own. While Redis "
        "is unreachable, token and export requests answer 503.",
    )
    redis_key_prefix: str = _setting(
        "oms-export:",
        "Prefix of every Redis key the service writes; give each deployment sharing one Redis "
        "its own.",
    )
    stream_batch_rows: int = _setting(
        500,
        "Rows fetched from the database cursor per batch while an export streams; memory "
        "holds a few batches, so this bounds an export's working set.",
    )
    max_node_exports: int = _setting(
        8,
        "Exports one worker process streams at once, for all clients together; one more is "
        "503 `temporarily_unavailable` with `Retry-After`. Must be below "
        "`OMS_EXPORT_DATABASE_POOL_SIZE`, so an admitted export always finds a connection.",
    )
    database_pool_size: int = _setting(
        10,
        "Database connections one worker process keeps for exports (PostgreSQL). Tokens and "
        "`/health` use a small pool of their own, so they never wait behind exports.",
    )
    database_pool_timeout_seconds: int = _setting(
        2,
        "Longest a request waits for a free database connection before it answers 503 "
        "`temporarily_unavailable` with `Retry-After`.",
    )
    export_idle_seconds: int = _setting(
        60,
        "An export whose client has taken no bytes for this long is ended and its database "
        "connection and export slot freed; a slow but steady reader is never cut off.",
    )
    public_base_url: str = _setting(
        "",
        "Base URL clients reach the service at (`https://oms.example.com`), used to build the "
        "`Link: rel=next` URL of paged exports. Empty: the address the request arrived on "
        "(the request's `Host` header is never used unless proxy headers are trusted).",
    )
    trust_proxy_headers: int = _setting(
        0,
        "1: a reverse proxy in front of the service sets `X-Forwarded-For`, "
        "`X-Forwarded-Proto` and `X-Forwarded-Host`, and they are believed (client address "
        "for throttling, scheme and host for `Link` URLs). Leave 0 when clients connect "
        "directly, or they could forge them.",
    )
    max_query_length: int = _setting(
        8192, "Longest query string the export accepts, in bytes; longer is 400."
    )

    def __post_init__(self) -> None:
        # Checked together at start: an export admitted with no connection left for it would
        # wait on the pool, which is the failure the cap exists to prevent.
        if not 1 <= self.max_node_exports < self.database_pool_size:
            raise ValueError(
                f"{ENV_PREFIX}MAX_NODE_EXPORTS ({self.max_node_exports}) must be at least 1 and "
                f"below {ENV_PREFIX}DATABASE_POOL_SIZE ({self.database_pool_size})"
            )
        if self.database_pool_timeout_seconds < 1:
            raise ValueError(f"{ENV_PREFIX}DATABASE_POOL_TIMEOUT_SECONDS must be at least 1")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``OMS_EXPORT_*`` variables, then explicit overrides."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = ENV_PREFIX + f.name.upper()
            raw = env.get(name)
            if raw is None:
                continue
            if f.type not in ("int", int):
                values[f.name] = raw
            elif raw.strip().isdigit():
                values[f.name] = int(raw)
            else:
                raise ValueError(f"{name} must be a whole number ≥ 0, not {raw!r}")
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


def settings_markdown() -> str:
    """The settings reference in ``docs/settings.md``; a test keeps the file in step."""
    lines = [
        "# Settings",
        "",
        "Every setting is an environment variable; the CLI's `--database-url` overrides",
        "`OMS_EXPORT_DATABASE_URL`. Regenerate this page with `python -m oms_export.settings`.",
        "",
        "| variable | default | what it does |",
        "| --- | --- | --- |",
    ]
    lines += [f"| `{name}` | `{default}` | {text} |" for name, default, text in describe_settings()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(settings_markdown(), end="")
