"""The scopes this service grants."""

from __future__ import annotations

from typing import Final

EXPORT_SCOPE: Final = "export-api.order-item-details"
KNOWN_SCOPES: Final = frozenset({EXPORT_SCOPE})
