"""The scopes this service grants, each with the one line the OpenAPI document shows for it.

A client holds the scopes it was created with (``oms-export clients create --scope …``); a token
carries those it asked for. ``SCOPES`` is the one list: the token request, the CLI and the
OpenAPI security scheme all read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

EXPORT_SCOPE: Final = "export-api.order-item-details"
ORDERS_WRITE_SCOPE: Final = "orders.write"
ORDERS_FULFIL_SCOPE: Final = "orders.fulfil"

SCOPES: Final[Mapping[str, str]] = MappingProxyType(
    {
        EXPORT_SCOPE: "Export order item details.",
        ORDERS_WRITE_SCOPE: "Create orders for the client's companies, read them, cancel them.",
        ORDERS_FULFIL_SCOPE: "Read, move, ship, cancel the orders the client's companies fulfil.",
    }
)
"""Every scope, in the order it is documented, with its description."""

KNOWN_SCOPES: Final = frozenset(SCOPES)
DEFAULT_SCOPES: Final = (EXPORT_SCOPE,)
"""What a client is granted when its creator names no scope: the export alone (API.md §6.1)."""
