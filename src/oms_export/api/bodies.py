"""Reading a JSON request body with bounds: its media type, its size, its encoding, its syntax.

What the body means is for ``orders/requests.py``; this only turns bytes into values, or into
the right refusal: 415 for another media type, 413 past ``MAX_BODY`` (counted as the bytes
arrive, so a client cannot make the service hold more whatever ``Content-Length`` says), 400
for bytes that are not UTF-8 or not JSON. The values come from the import's reader
(``admin.reader.loads``): exact decimals, no NaN, a key named twice kept visible.
"""

from __future__ import annotations

from typing import Any, Final

from starlette.requests import Request

from oms_export.admin.reader import Unreadable, loads
from oms_export.errors import InvalidRequest, PayloadTooLarge, UnsupportedMediaType

MAX_BODY: Final = 1 << 20
"""1 MiB (API.md §6.2): a 1,000-item order is a tenth of it."""
JSON_MEDIA_TYPE: Final = "application/json"


def _check_media_type(header: str | None) -> None:
    media_type, *params = (part.strip().lower() for part in (header or "").split(";"))
    charsets = [p.partition("=")[2].strip('"') for p in params if p.startswith("charset=")]
    if media_type != JSON_MEDIA_TYPE or any(c not in ("utf-8", "utf8") for c in charsets):
        shown = f"`{header}`" if header else "none"
        raise UnsupportedMediaType(
            f"The body must be JSON sent as `Content-Type: {JSON_MEDIA_TYPE}` (UTF-8); "
            f"the request says {shown}."
        )


def _too_large() -> PayloadTooLarge:
    return PayloadTooLarge(f"The body is larger than {MAX_BODY} bytes (1 MiB), the most accepted.")


async def read_json(request: Request) -> Any:
    """The request's JSON body as values, or the refusal that says what is wrong with it."""
    _check_media_type(request.headers.get("content-type"))
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise _too_large()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise _too_large()
    if not body.strip():
        raise InvalidRequest("The body is empty; a JSON object is expected.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"The body is not UTF-8 (byte {exc.start} is not).") from None
    try:
        return loads(text)
    except Unreadable as exc:
        raise InvalidRequest(f"The body is not readable JSON: {exc}") from None
    except ValueError as exc:
        where = getattr(exc, "msg", None)
        line, column = getattr(exc, "lineno", None), getattr(exc, "colno", None)
        detail = f"{where} at line {line} column {column}" if where else str(exc)
        raise InvalidRequest(f"The body is not valid JSON: {detail}.") from None
