"""CSRF: every console form carries the session's token; every POST must send it back.

The token lives in the signed session cookie, so a page on another site can neither read it
nor make one that matches; ``SameSite=Lax`` is the second wall.
"""

from __future__ import annotations

import hmac

from oms_export.console.sessions import Session

FIELD = "csrf_token"


class CsrfRefused(Exception):
    """The form's token is missing or is not this session's: answered 403 with a page."""


def check(session: Session, form: dict[str, list[str]]) -> None:
    sent = form.get(FIELD, [])
    if len(sent) != 1 or not hmac.compare_digest(sent[0].encode(), session.csrf.encode()):
        raise CsrfRefused
