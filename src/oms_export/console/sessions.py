"""The console's session: a signed cookie, never a server-side row.

The cookie holds ``{"uid": user id or absent, "csrf": token}``, signed with itsdangerous under
the service's key and timestamped; a cookie older than ``console_session_idle_seconds`` is
refused, and every page answered re-signs it, so only an idle session ends. It is ``HttpOnly``
(no script reads it), ``SameSite=Lax`` (other sites' forms do not carry it) and ``Secure`` when
``console_secure_cookies`` says so. Removing a user ends its sessions: each request loads the
user again.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from oms_export.settings import Settings

COOKIE = "oms_console"
SALT = "oms-export.console.session"


@dataclass
class Session:
    """What one request's cookie said; ``save`` writes it back (re-signed, so kept alive)."""

    uid: int | None = None
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    def as_dict(self) -> dict[str, Any]:
        return {"uid": self.uid, "csrf": self.csrf}


class SessionCodec:
    """Reads and writes the signed session cookie under one key."""

    def __init__(self, key: bytes, settings: Settings) -> None:
        self._serializer = URLSafeTimedSerializer(key, salt=SALT)
        self._max_age = settings.console_session_idle_seconds
        self._secure = settings.console_secure_cookies

    def load(self, request: Request) -> Session:
        """The request's session, or a fresh anonymous one when absent, forged or idle too long."""
        raw = request.cookies.get(COOKIE)
        if raw:
            try:
                data = self._serializer.loads(raw, max_age=self._max_age)
            except BadSignature:  # also SignatureExpired
                data = None
            if isinstance(data, dict) and isinstance(data.get("csrf"), str):
                uid = data.get("uid")
                return Session(uid=uid if isinstance(uid, int) else None, csrf=data["csrf"])
        return Session()

    def save(self, response: Response, session: Session) -> None:
        response.set_cookie(
            COOKIE,
            self._serializer.dumps(session.as_dict()),
            max_age=self._max_age,
            path="/console",
            httponly=True,
            samesite="lax",
            secure=self._secure,
        )

    def clear(self, response: Response) -> None:
        response.delete_cookie(
            COOKIE, path="/console", httponly=True, samesite="lax", secure=self._secure
        )
