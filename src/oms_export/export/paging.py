"""Page cursors: opaque, signed, and bound to the client and the exact query.

A cursor is the last order id of the page it follows plus an HMAC over (client, query, id).
Keyset paging on the order id means concatenated pages equal the unpaged export row for row,
even while new orders arrive, and an order's rows never straddle two pages. A cursor from
another client, for other filters or options, or altered in any byte, fails the HMAC.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from datetime import datetime
from typing import Final

from oms_export.errors import InvalidRequest
from oms_export.export.params import ExportQuery

_MAC_BYTES: Final = 16
_ID: Final = struct.Struct(">Q")


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


def _mac(key: bytes, client_id: str, query: ExportQuery, last_id: int) -> bytes:
    message = b"\0".join([client_id.encode(), query_fingerprint(query), _ID.pack(last_id)])
    return hmac.new(key, message, hashlib.sha256).digest()[:_MAC_BYTES]


def make_cursor(key: bytes, client_id: str, query: ExportQuery, last_id: int) -> str:
    raw = _ID.pack(last_id) + _mac(key, client_id, query, last_id)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def read_cursor(key: bytes, client_id: str, query: ExportQuery, cursor: str) -> int:
    """The last order id of the previous page; ``InvalidRequest`` for any other cursor."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except ValueError:
        raw = b""
    if len(raw) == _ID.size + _MAC_BYTES:
        (last_id,) = _ID.unpack(raw[: _ID.size])
        if hmac.compare_digest(raw[_ID.size :], _mac(key, client_id, query, last_id)):
            return int(last_id)
    raise InvalidRequest(
        "`page[after]` is not a cursor for this client and these filters and options; "
        'follow the `Link: rel="next"` URL of the previous page unchanged.',
        parameter="page[after]",
    )
