"""Log output of the service: one JSON object per line (or plain text), on stderr.

Structured fields travel as ``extra=`` on the stdlib logger and become keys of the JSON line,
so a log pipeline can filter on ``status`` or ``request_id`` without parsing text::

    log.info("GET /health 200", extra={"request_id": "…", "status": 200})
    {"time":"2024-05-01T08:00:00.000Z","level":"info","logger":"oms_export.access",
     "message":"GET /health 200","request_id":"…","status":200}
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

LogFormat = Literal["json", "text"]

_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's copy of the message with terminal colours
    "taskName",
}


class JsonFormatter(logging.Formatter):
    """A record as one JSON line: time (UTC), level, logger, message, then its extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def log_config(log_format: LogFormat = "json", level: str = "INFO") -> dict[str, Any]:
    """``logging.config.dictConfig`` settings for ``serve``: ours and uvicorn's loggers to stderr
    in one format. uvicorn's access log stays off; ``oms_export.access`` replaces it."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {"()": JsonFormatter},
            "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": "WARNING"},
        "loggers": {
            "uvicorn": {"level": level},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"level": "WARNING"},
            "oms_export": {"level": level},
        },
    }
