"""Order and item status codes and names, from the seed article (`spec/statuses.tsv`)."""

from __future__ import annotations

from typing import Final

ORDER_STATUSES: Final[dict[int, str]] = {
    0: "Unknown",
    1: "Received",
    2: "Unused",
    4: "In Production",
    8: "Dispatched",
    32: "QC Query",
    64: "Dispatched (Retailer Notified)",
    128: "Cancelled",
    256: "On Hold",
    512: "Sent to Supplier",
    513: "Received by Supplier",
    515: "Sent to Shipper",
    516: "Received by Shipper",
    520: "Consolidated",
    600: "Consolidating",
}

ITEM_STATUSES: Final[dict[int, str]] = {
    0: "Unknown",
    1: "Ready",
    2: "In Production",
    3: "Dispatched",
    7: "Cancelled",
}
