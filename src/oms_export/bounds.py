"""The bounds of an export request, named once for the service, its client and its docs.

Imports nothing, on purpose: the client (``oms_export.client``) reads its page size from here
without loading any of the server's weight, and the server's parser, paging and OpenAPI
description read the same names, so a bound changes in one line. ``tests/unit/test_bounds.py``
holds ``docs/api.md`` to the same figures.

The longest query string is a setting (``OMS_EXPORT_MAX_QUERY_LENGTH``), since an operator may
need to raise it; these are part of the API's contract and are the same on every node.

Example::

    from oms_export.bounds import MAX_PAGE_SIZE
    Query(page_size=MAX_PAGE_SIZE)
"""

from __future__ import annotations

from typing import Final

MAX_PAGE_SIZE: Final = 10_000
"""Most orders one page may hold: ``page[size]`` accepts 1 to this."""

MAX_LIST_VALUES: Final = 1000
"""Most values one ``filter[FIELD:in]`` comma list may hold."""

MAX_CURSOR_LENGTH: Final = 2048
"""Longest ``page[after]`` cursor accepted; the cursors the service makes always fit it."""
