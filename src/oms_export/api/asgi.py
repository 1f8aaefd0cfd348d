"""Entry point for ASGI servers: ``uvicorn --factory oms_export.api.asgi:app_from_env``.

Each worker process builds its own app (and engine) from ``OMS_EXPORT_*`` variables.
"""

from __future__ import annotations

from fastapi import FastAPI

from oms_export.api.app import create_app
from oms_export.settings import Settings


def app_from_env() -> FastAPI:
    return create_app(Settings.from_env())
