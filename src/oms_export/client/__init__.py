"""The Python client of the export API: ``ExportClient`` (sync) and ``AsyncExportClient``.

Installed with the base package and light to import: it needs httpx and orjson, never the
server's SQLAlchemy or FastAPI.

    with ExportClient("http://127.0.0.1:8000", client_id, client_secret) as client:
        for row in client.rows(filters={"status:in": [8, 516]}, options=["includeProductPrice"]):
            ...
"""

from oms_export.client.auth import SCOPE, ClientCredentials
from oms_export.client.errors import (
    ApiError,
    BadRequest,
    ConnectionFailed,
    ExportError,
    Forbidden,
    IncompleteBody,
    RateLimited,
    ServerError,
    Unauthorized,
)
from oms_export.client.exports import AsyncExportClient, AsyncRows, ExportClient, Rows
from oms_export.client.query import Query, Row
from oms_export.client.retry import Retry, Retrying

__all__ = [
    "SCOPE",
    "ApiError",
    "AsyncExportClient",
    "AsyncRows",
    "BadRequest",
    "ClientCredentials",
    "ConnectionFailed",
    "ExportClient",
    "ExportError",
    "Forbidden",
    "IncompleteBody",
    "Query",
    "RateLimited",
    "Retry",
    "Retrying",
    "Row",
    "Rows",
    "ServerError",
    "Unauthorized",
]
