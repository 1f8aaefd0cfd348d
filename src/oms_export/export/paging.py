"""Page cursors: opaque, signed, and bound to the client and the exact query.

A cursor is the last order id of the page it follows, the attribute columns of the export's
first page when it has any, and an HMAC over (client, query, id, columns). Keyset paging on the
order id means concatenated pages equal the unpaged export row for row, even while new orders
arrive, and an order's rows never straddle two pages. Carrying the columns keeps every page's
keys those of the first page (spec §3.2), even when an order with a new attribute name arrives
between two pages. A cursor from another client, for other filters or options, or altered in
any byte, fails the HMAC.

The columns travel compressed; a store with so many attribute names that they would not fit in
a URL carries their digest instead, and a later page whose columns no longer match it is
refused (the export must start again) rather than sent with other keys.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import orjson

from oms_export.errors import InvalidRequest
from oms_export.export.params import ExportQuery

_MAC_BYTES: Final = 16
_ID: Final = struct.Struct(">Q")
_INLINE: Final = b"z"  # the attribute columns follow, compressed
_DIGEST: Final = b"d"  # a digest of the attribute columns follows
_DIGEST_BYTES: Final = 16
MAX_INLINE_COLUMNS: Final = 1500
"""Bytes of compressed attribute names a cursor carries before it carries their digest: the
cursor then stays within ``bounds.MAX_CURSOR_LENGTH``, the most ``page[after]`` accepts
(``tests/unit/test_bounds.py`` checks the largest cursor against it)."""

AttributeColumns = tuple[tuple[str, ...], tuple[str, ...]]
"""The order and item attribute names of an export: its ``attributes__*`` columns."""


@dataclass(frozen=True)
class PageCursor:
    """What a cursor says about the pages before the next one."""

    last_id: int
    columns: AttributeColumns | None = None
    """The first page's attribute columns, when the cursor could carry them."""
    columns_digest: bytes | None = None
    """Else their digest, when the export has attribute columns at all."""

    def check_columns(self, columns: AttributeColumns) -> None:
        """Refuse to go on when the export's columns differ from the first page's."""
        if self.columns_digest is not None and _digest(columns) != self.columns_digest:
            raise InvalidRequest(
                "The attribute columns of this export changed after its first page (an order "
                "with a new attribute name arrived); every page must have the first page's "
                "keys, so start the export again from its first page.",
                parameter="page[after]",
            )


def cursor_key(server_key: bytes) -> bytes:
    """A key of its own for cursors, derived so it never equals the secret-hash key."""
    return hmac.new(server_key, b"oms-export page cursor v1", hashlib.sha256).digest()


def query_fingerprint(query: ExportQuery) -> bytes:
    """What a cursor is bound to: filters, options and shape (not format or page size)."""
    parts = [f"shape={query.shape}"]
    parts += sorted(f"option={name}" for name in query.options)
    for flt in sorted(query.filters, key=lambda f: (f.field, f.op)):
        values = ",".join(_canonical(v) for v in flt.values)
        parts.append(f"filter={flt.field}:{flt.op}={values}")
    return "\n".join(parts).encode()


def _canonical(value: int | str | datetime) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _digest(columns: AttributeColumns) -> bytes:
    return hashlib.sha256(orjson.dumps(columns)).digest()[:_DIGEST_BYTES]


def _pack_columns(columns: AttributeColumns | None) -> bytes:
    if columns is None:
        return b""
    packed = zlib.compress(orjson.dumps(columns), 9)
    if len(packed) <= MAX_INLINE_COLUMNS:
        return _INLINE + packed
    return _DIGEST + _digest(columns)


def _unpack_columns(last_id: int, packed: bytes) -> PageCursor:
    if not packed:
        return PageCursor(last_id)
    if packed[:1] == _DIGEST:
        return PageCursor(last_id, columns_digest=packed[1:])
    # Signed by us, so it decodes; a cursor of a key that leaked is still only our own data.
    order_names, item_names = orjson.loads(zlib.decompress(packed[1:]))
    return PageCursor(last_id, columns=(tuple(order_names), tuple(item_names)))


def _mac(key: bytes, client_id: str, query: ExportQuery, signed: bytes) -> bytes:
    message = b"\0".join([client_id.encode(), query_fingerprint(query), signed])
    return hmac.new(key, message, hashlib.sha256).digest()[:_MAC_BYTES]


def make_cursor(
    key: bytes,
    client_id: str,
    query: ExportQuery,
    last_id: int,
    columns: AttributeColumns | None = None,
) -> str:
    """The cursor of the page after ``last_id``; ``columns`` when the export has attributes."""
    signed = _ID.pack(last_id) + _pack_columns(columns)
    raw = signed + _mac(key, client_id, query, signed)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def read_cursor(key: bytes, client_id: str, query: ExportQuery, cursor: str) -> PageCursor:
    """Where the previous page ended; ``InvalidRequest`` for any cursor not made for this."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except ValueError:
        raw = b""
    if len(raw) >= _ID.size + _MAC_BYTES:
        signed, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
        if hmac.compare_digest(mac, _mac(key, client_id, query, signed)):
            (last_id,) = _ID.unpack(signed[: _ID.size])
            return _unpack_columns(int(last_id), signed[_ID.size :])
    raise InvalidRequest(
        "`page[after]` is not a cursor for this client and these filters and options; "
        'follow the `Link: rel="next"` URL of the previous page unchanged.',
        parameter="page[after]",
    )
