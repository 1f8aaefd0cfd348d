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

LEASE_TIMEOUTS = 2
"""An event worker's lease must cover this many attempt timeouts (see ``events/worker.py``)."""


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
    event_retry_seconds: str = _setting(
        "30,120,600,3600,7200",
        "Waits between delivery attempts of an event, in seconds, comma separated; the last is "
        "repeated until `OMS_EXPORT_EVENT_GIVE_UP_SECONDS`. Each wait is jittered by ±20%.",
    )
    event_give_up_seconds: int = _setting(
        86400,
        "An event not delivered this long after its change is marked failed after its next "
        "failed attempt (the last attempt is made at this point); `oms-export events retry` "
        "sends it again.",
    )
    event_timeout_seconds: int = _setting(
        10,
        "Longest one delivery attempt may take (connect, send, answer), in seconds; longer is "
        "a failed attempt.",
    )
    callback_allow_private: bool = _setting(
        False,
        "1: callback and push URLs may be plain `http://` and point at loopback, private, "
        "link-local and metadata addresses. For tests and private networks only: it lets "
        "whoever sets a URL make the service send requests inside your network.",
    )
    event_worker_in_serve: bool = _setting(
        True,
        "On SQLite, `serve` delivers events in a thread of its own, so the embedded store needs "
        "no second command. 0 leaves delivery to `oms-export worker`. On PostgreSQL `serve` "
        "never delivers: run `oms-export worker`.",
    )
    event_poll_seconds: float = _setting(
        0.5,
        "How often an idle worker looks for due events; it looks again at once after a full "
        "batch. Bounds the delay from a change to its first delivery attempt.",
    )
    event_lease_seconds: int = _setting(
        60,
        "How long a worker holds the events it claimed; a worker killed mid-delivery leaves "
        "them to another after this. At least twice `OMS_EXPORT_EVENT_TIMEOUT_SECONDS`.",
    )
    event_batch_size: int = _setting(
        20,
        "Events one worker claims at once (at most one per order) and sends at the same time; "
        "their outcomes are written as they come in, many in one transaction.",
    )

    console_session_idle_seconds: int = _setting(
        1800,
        "A console session unused this long ends; the next page asks to sign in again. "
        "Signed with `OMS_EXPORT_SECRET_KEY` (or the key kept in the database when it is empty).",
    )
    console_secure_cookies: bool = _setting(
        False,
        "1: the console's session cookie is marked `Secure`, so browsers send it over HTTPS "
        "only. Set it whenever the console is reached over HTTPS (behind a TLS proxy too).",
    )

    def __post_init__(self) -> None:
        # Checked together at start: an export admitted with no connection left for it would
        # wait on the pool, which is the failure the cap exists to prevent.
        if not 1 <= self.max_node_exports < self.database_pool_size:
            raise ValueError(
                f"{ENV_PREFIX}MAX_NODE_EXPORTS ({self.max_node_exports}) must be at least 1 and "
                f"below {ENV_PREFIX}DATABASE_POOL_SIZE ({self.database_pool_size})"
            )
        if self.console_session_idle_seconds < 1:
            raise ValueError(f"{ENV_PREFIX}CONSOLE_SESSION_IDLE_SECONDS must be at least 1")
        if self.database_pool_timeout_seconds < 1:
            raise ValueError(f"{ENV_PREFIX}DATABASE_POOL_TIMEOUT_SECONDS must be at least 1")
        self._check_events()

    def _check_events(self) -> None:
        retry_waits(self.event_retry_seconds)  # raises with the reason
        if self.event_timeout_seconds < 1:
            raise ValueError(f"{ENV_PREFIX}EVENT_TIMEOUT_SECONDS must be at least 1")
        # A lease shorter than an attempt would let a second worker send an event the first
        # is still sending; the worker wants room for the lookup and the write besides.
        if self.event_lease_seconds < LEASE_TIMEOUTS * self.event_timeout_seconds:
            raise ValueError(
                f"{ENV_PREFIX}EVENT_LEASE_SECONDS ({self.event_lease_seconds}) must be at least "
                f"{LEASE_TIMEOUTS} times {ENV_PREFIX}EVENT_TIMEOUT_SECONDS "
                f"({self.event_timeout_seconds})"
            )
        if self.event_batch_size < 1:
            raise ValueError(f"{ENV_PREFIX}EVENT_BATCH_SIZE must be at least 1")
        if not self.event_poll_seconds > 0:
            raise ValueError(f"{ENV_PREFIX}EVENT_POLL_SECONDS must be above 0")

    @property
    def event_retry_waits(self) -> tuple[int, ...]:
        """``event_retry_seconds`` as numbers: ``(30, 120, 600, 3600, 7200)``."""
        return retry_waits(self.event_retry_seconds)

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
            values[f.name] = _parse(name, str(f.type), raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_changes(self, **changes: Any) -> Settings:
        return replace(self, **changes)


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


def _parse(name: str, kind: str, raw: str) -> Any:
    """One variable's text as its field's type; ``serve`` hands ``str(value)`` to its workers,
    so ``True`` and ``0.5`` come back as they went."""
    if kind == "int":
        if raw.strip().isdigit():
            return int(raw)
        raise ValueError(f"{name} must be a whole number ≥ 0, not {raw!r}")
    if kind == "float":
        try:
            return float(raw)
        except ValueError:
            raise ValueError(f"{name} must be a number, not {raw!r}") from None
    if kind == "bool":
        word = raw.strip().lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        raise ValueError(f"{name} must be 1 or 0 (true or false), not {raw!r}")
    return raw


def retry_waits(text: str) -> tuple[int, ...]:
    """``"30,120,600"`` as ``(30, 120, 600)``; a ``ValueError`` naming the setting otherwise."""
    parts = [part.strip() for part in text.split(",")]
    if not all(part.isdigit() and int(part) >= 1 for part in parts):
        raise ValueError(
            f"{ENV_PREFIX}EVENT_RETRY_SECONDS must be whole numbers of seconds ≥ 1, comma "
            f"separated (like 30,120,600), not {text!r}"
        )
    return tuple(int(part) for part in parts)


def describe_settings() -> list[tuple[str, str, str]]:
    """(environment variable, default, description) for each setting, for the docs and CLI."""
    return [
        (ENV_PREFIX + f.name.upper(), _shown(f.default), f.metadata["description"])
        for f in fields(Settings)
    ]


def _shown(default: Any) -> str:
    # A flag is written 1 or 0 in the environment, so the docs show it that way.
    return str(int(default)) if isinstance(default, bool) else repr(default)


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
