"""The RFC 6749 §4.4 client-credentials token request, parsed without any web framework.

All the RFC's request rules live here, so they are tested as plain functions and the HTTP route
only hands over the raw header values and body::

    parse_token_request(
        "application/x-www-form-urlencoded",
        b"client_id=abc&client_secret=s3cr3t&grant_type=client_credentials",
        None,
    )  # -> TokenRequest(client_id="abc", client_secret="s3cr3t", scopes=None, used_basic=False)
"""

from __future__ import annotations

import base64
import binascii
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote_plus

from oms_export.auth.scopes import KNOWN_SCOPES
from oms_export.errors import InvalidClient, InvalidRequest, InvalidScope, UnsupportedGrantType

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
GRANT_TYPE = "client_credentials"
MAX_FIELDS = 20
"""More parameters than this is not a token request; refuse before parsing further."""


@dataclass(frozen=True)
class TokenRequest:
    """A well-formed token request; ``scopes`` is None when the request named none."""

    client_id: str
    client_secret: str = field(repr=False)
    scopes: tuple[str, ...] | None
    used_basic: bool


def parse_token_request(
    content_type: str | None, body: bytes, authorization: str | None
) -> TokenRequest:
    """Check a token request against RFC 6749 §4.4 and §2.3.1; raise the RFC's error if it fails.

    Client credentials come from the body (``client_id``, ``client_secret``) or from HTTP Basic,
    never both; a ``client_id`` in the body alongside Basic is allowed when it names the same
    client (RFC 6749 §3.2.1). Unknown parameters are ignored, as §3.2 requires.
    """
    params = _form_params(content_type, body)
    grant_type = params.get("grant_type")
    if not grant_type:
        raise InvalidRequest(
            "The parameter `grant_type` is required; use `client_credentials`.",
            parameter="grant_type",
        )
    if grant_type != GRANT_TYPE:
        raise UnsupportedGrantType(
            f"Only the `{GRANT_TYPE}` grant is supported.", parameter="grant_type"
        )
    client_id, client_secret, used_basic = _client_credentials(params, authorization)
    if "\x00" in client_id or "\x00" in client_secret:
        # No client has one (ids and secrets are URL-safe base64), and PostgreSQL cannot even
        # look one up: it is an unknown client, answered as every unknown client is.
        raise InvalidClient(basic=used_basic)
    return TokenRequest(client_id, client_secret, _scopes(params.get("scope")), used_basic)


def _form_params(content_type: str | None, body: bytes) -> dict[str, str]:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != FORM_CONTENT_TYPE:
        raise InvalidRequest(f"The request body must be `{FORM_CONTENT_TYPE}`.")
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=bool(body),
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        # UnicodeDecodeError is a ValueError; named for the reader. Neither message is echoed:
        # it could quote part of a secret.
        raise InvalidRequest("The request body is not a valid form-urlencoded body.") from None
    repeated = sorted(
        name for name, count in Counter(name for name, _ in pairs).items() if count > 1
    )
    if repeated:
        raise InvalidRequest(
            f"The parameter `{repeated[0]}` is given more than once.", parameter=repeated[0]
        )
    return dict(pairs)


def _client_credentials(params: dict[str, str], authorization: str | None) -> tuple[str, str, bool]:
    if authorization is not None:
        client_id, client_secret = _basic_credentials(authorization)
        if "client_secret" in params or params.get("client_id", client_id) != client_id:
            raise InvalidRequest(
                "Send client credentials either in the body or with HTTP Basic, not both."
            )
        return client_id, client_secret, True
    client_id = params.get("client_id", "")
    client_secret = params.get("client_secret", "")
    if not client_id or not client_secret:
        raise InvalidClient(
            "Client authentication is required: send `client_id` and `client_secret` in the body "
            "or use HTTP Basic."
        )
    return client_id, client_secret, False


def _basic_credentials(authorization: str) -> tuple[str, str]:
    """``Basic base64(urlencode(id) ":" urlencode(secret))``, as RFC 6749 §2.3.1 specifies."""
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        raise InvalidClient("Only HTTP Basic client authentication is supported.", basic=True)
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        raw_id, colon, raw_secret = decoded.partition(":")
        client_id = unquote_plus(raw_id, errors="strict")
        client_secret = unquote_plus(raw_secret, errors="strict")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidClient("The HTTP Basic credentials do not decode.", basic=True) from None
    if not colon or not client_id or not client_secret:
        raise InvalidClient(
            "The HTTP Basic credentials must be `client_id:client_secret`.", basic=True
        )
    return client_id, client_secret


def _scopes(scope: str | None) -> tuple[str, ...] | None:
    if scope is None:
        return None
    requested = tuple(dict.fromkeys(token for token in scope.split(" ") if token))
    if not requested:
        raise InvalidRequest(
            "The parameter `scope` is empty; omit it to ask for every scope of the client.",
            parameter="scope",
        )
    unknown = [token for token in requested if token not in KNOWN_SCOPES]
    if unknown:
        raise InvalidScope(
            f"Unknown scope `{unknown[0]}`; known: {', '.join(sorted(KNOWN_SCOPES))}.",
            parameter="scope",
        )
    return requested
