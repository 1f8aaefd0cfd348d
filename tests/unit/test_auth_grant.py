"""RFC 6749 §4.4 token request parsing: every way a request can be wrong, and the ways it is right."""

from __future__ import annotations

import base64

import pytest

from oms_export.auth.grant import TokenRequest, parse_token_request
from oms_export.auth.scopes import (
    EXPORT_SCOPE,
    KNOWN_SCOPES,
    ORDERS_FULFIL_SCOPE,
    ORDERS_WRITE_SCOPE,
)
from oms_export.errors import (
    InvalidClient,
    InvalidRequest,
    InvalidScope,
    OmsExportError,
    UnsupportedGrantType,
)

FORM = "application/x-www-form-urlencoded"
ARTICLE_BODY = (
    b"client_id=abc123&client_secret=s3cr3t&grant_type=client_credentials"
    b"&scope=export-api.order-item-details"
)
GRANT = b"grant_type=client_credentials"


def basic(client_id: str, client_secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()


def test_the_articles_request_parses() -> None:
    assert parse_token_request(FORM, ARTICLE_BODY, None) == TokenRequest(
        "abc123", "s3cr3t", (EXPORT_SCOPE,), used_basic=False
    )


@pytest.mark.parametrize(
    ("content_type", "body", "authorization", "expected"),
    [
        pytest.param(
            "Application/X-WWW-Form-Urlencoded; charset=UTF-8",
            b"grant_type=client_credentials&client_id=a&client_secret=b",
            None,
            TokenRequest("a", "b", None, used_basic=False),
            id="content-type-params-and-case",
        ),
        pytest.param(
            FORM,
            GRANT,
            basic("abc", "s3cr3t"),
            TokenRequest("abc", "s3cr3t", None, used_basic=True),
            id="basic",
        ),
        pytest.param(
            FORM,
            GRANT,
            basic("a%3Ab+c", "x%2By%25z+w"),
            TokenRequest("a:b c", "x+y%z w", None, used_basic=True),
            id="basic-credentials-are-form-urldecoded",
        ),
        pytest.param(
            FORM,
            GRANT + b"&client_id=abc",
            basic("abc", "s3cr3t"),
            TokenRequest("abc", "s3cr3t", None, used_basic=True),
            id="basic-with-the-same-client-id-in-body",
        ),
        pytest.param(
            FORM,
            b"client_id=a%2Bb&client_secret=c+d&grant_type=client_credentials",
            None,
            TokenRequest("a+b", "c d", None, used_basic=False),
            id="body-credentials-are-urldecoded",
        ),
        pytest.param(
            FORM,
            b"client_id=a&client_secret=b&grant_type=client_credentials"
            b"&scope=%20export-api.order-item-details++export-api.order-item-details",
            None,
            TokenRequest("a", "b", (EXPORT_SCOPE,), used_basic=False),
            id="scope-extra-spaces-and-repeats-collapse",
        ),
        pytest.param(
            FORM,
            b"client_id=a&client_secret=b&grant_type=client_credentials&scope=orders.write",
            None,
            TokenRequest("a", "b", (ORDERS_WRITE_SCOPE,), used_basic=False),
            id="scope-orders-write",
        ),
        pytest.param(
            FORM,
            b"client_id=a&client_secret=b&grant_type=client_credentials"
            b"&scope=orders.fulfil%20orders.write+export-api.order-item-details",
            None,
            TokenRequest(
                "a",
                "b",
                (ORDERS_FULFIL_SCOPE, ORDERS_WRITE_SCOPE, EXPORT_SCOPE),
                used_basic=False,
            ),
            id="several-scopes-space-separated",
        ),
        pytest.param(
            FORM,
            b"client_id=a&client_secret=b&grant_type=client_credentials&audience=x&foo=",
            None,
            TokenRequest("a", "b", None, used_basic=False),
            id="unknown-parameters-are-ignored",
        ),
    ],
)
def test_good_requests_parse(
    content_type: str, body: bytes, authorization: str | None, expected: TokenRequest
) -> None:
    assert parse_token_request(content_type, body, authorization) == expected


BODY_CREDS = b"&client_id=a&client_secret=b"

BAD_REQUESTS = [
    # (id, content type, body, authorization, error class, parameter, basic)
    ("no-content-type", None, ARTICLE_BODY, None, InvalidRequest, None, None),
    ("json-body", "application/json", b'{"grant_type": "client_credentials"}', None,
     InvalidRequest, None, None),
    ("multipart-body", "multipart/form-data; boundary=x", ARTICLE_BODY, None,
     InvalidRequest, None, None),
    ("text-plain", "text/plain", ARTICLE_BODY, None, InvalidRequest, None, None),
    ("body-not-utf8", FORM, b"grant_type=client_credentials&client_id=\xff", None,
     InvalidRequest, None, None),
    ("escape-not-utf8", FORM, GRANT + b"&client_id=%ff&client_secret=b", None,
     InvalidRequest, None, None),
    ("field-without-equals", FORM, GRANT + b"&client_id" + BODY_CREDS, None,
     InvalidRequest, None, None),
    ("empty-field", FORM, GRANT + b"&&client_id=a&client_secret=b", None,
     InvalidRequest, None, None),
    ("too-many-fields", FORM, GRANT + BODY_CREDS + b"".join(b"&x%d=1" % n for n in range(30)),
     None, InvalidRequest, None, None),
    ("grant-type-repeated", FORM, GRANT + b"&" + GRANT + BODY_CREDS, None,
     InvalidRequest, "grant_type", None),
    ("scope-repeated", FORM, GRANT + BODY_CREDS + b"&scope=export-api.order-item-details" * 2,
     None, InvalidRequest, "scope", None),
    ("client-secret-repeated", FORM, GRANT + BODY_CREDS + b"&client_secret=b", None,
     InvalidRequest, "client_secret", None),
    ("client-id-repeated", FORM, GRANT + BODY_CREDS + b"&client_id=a", None,
     InvalidRequest, "client_id", None),
    ("unknown-parameter-repeated", FORM, GRANT + BODY_CREDS + b"&x=1&x=2", None,
     InvalidRequest, "x", None),
    ("grant-type-missing", FORM, b"client_id=a&client_secret=b", None,
     InvalidRequest, "grant_type", None),
    ("empty-body", FORM, b"", None, InvalidRequest, "grant_type", None),
    ("grant-type-empty", FORM, b"grant_type=" + BODY_CREDS, None,
     InvalidRequest, "grant_type", None),
    ("grant-type-password", FORM, b"grant_type=password" + BODY_CREDS, None,
     UnsupportedGrantType, "grant_type", None),
    ("grant-type-authorization-code", FORM, b"grant_type=authorization_code" + BODY_CREDS, None,
     UnsupportedGrantType, "grant_type", None),
    ("grant-type-wrong-case", FORM, b"grant_type=Client_Credentials" + BODY_CREDS, None,
     UnsupportedGrantType, "grant_type", None),
    ("body-secret-and-basic", FORM, GRANT + b"&client_secret=b", basic("a", "b"),
     InvalidRequest, None, None),
    ("body-credentials-and-basic", FORM, GRANT + BODY_CREDS, basic("a", "b"),
     InvalidRequest, None, None),
    ("body-client-id-differs-from-basic", FORM, GRANT + b"&client_id=z", basic("a", "b"),
     InvalidRequest, None, None),
    ("no-credentials", FORM, GRANT, None, InvalidClient, None, False),
    ("client-id-only", FORM, GRANT + b"&client_id=a", None, InvalidClient, None, False),
    ("client-secret-only", FORM, GRANT + b"&client_secret=b", None, InvalidClient, None, False),
    ("client-id-empty", FORM, GRANT + b"&client_id=&client_secret=b", None,
     InvalidClient, None, False),
    ("client-secret-empty", FORM, GRANT + b"&client_id=a&client_secret=", None,
     InvalidClient, None, False),
    ("basic-not-base64", FORM, GRANT, "Basic !!!notbase64", InvalidClient, None, True),
    ("basic-without-colon", FORM, GRANT,
     "Basic " + base64.b64encode(b"abc").decode(), InvalidClient, None, True),
    ("basic-empty-secret", FORM, GRANT, basic("abc", ""), InvalidClient, None, True),
    ("basic-empty-id", FORM, GRANT, basic("", "s3cr3t"), InvalidClient, None, True),
    ("basic-empty", FORM, GRANT, "Basic", InvalidClient, None, True),
    ("basic-not-utf8", FORM, GRANT,
     "Basic " + base64.b64encode(b"\xff:\xfe").decode(), InvalidClient, None, True),
    ("basic-escape-not-utf8", FORM, GRANT, basic("%ff", "b"), InvalidClient, None, True),
    ("bearer-instead-of-basic", FORM, GRANT, "Bearer abc", InvalidClient, None, True),
    ("client-id-with-nul", FORM, GRANT + b"&client_id=a%00&client_secret=b", None,
     InvalidClient, None, False),
    ("client-secret-with-nul", FORM, GRANT + b"&client_id=a&client_secret=%00", None,
     InvalidClient, None, False),
    ("basic-id-with-nul", FORM, GRANT, basic("a\x00", "b"), InvalidClient, None, True),
    ("scope-empty", FORM, GRANT + BODY_CREDS + b"&scope=", None, InvalidRequest, "scope", None),
    ("scope-only-spaces", FORM, GRANT + BODY_CREDS + b"&scope=+++", None,
     InvalidRequest, "scope", None),
    ("scope-unknown", FORM, GRANT + BODY_CREDS + b"&scope=admin", None,
     InvalidScope, "scope", None),
    ("scope-one-unknown", FORM,
     GRANT + BODY_CREDS + b"&scope=export-api.order-item-details+admin", None,
     InvalidScope, "scope", None),
    ("scope-unknown-beside-orders-write", FORM,
     GRANT + BODY_CREDS + b"&scope=orders.write+orders.read", None, InvalidScope, "scope", None),
    ("scope-wrong-case", FORM, GRANT + BODY_CREDS + b"&scope=Orders.Write", None,
     InvalidScope, "scope", None),
    ("scopes-comma-separated", FORM, GRANT + BODY_CREDS + b"&scope=orders.write,orders.fulfil",
     None, InvalidScope, "scope", None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("content_type", "body", "authorization", "error", "parameter", "basic_flag"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_REQUESTS],
)
def test_bad_requests_raise_the_rfc_error(
    content_type: str | None,
    body: bytes,
    authorization: str | None,
    error: type[OmsExportError],
    parameter: str | None,
    basic_flag: bool | None,
) -> None:
    with pytest.raises(error) as raised:
        parse_token_request(content_type, body, authorization)
    assert type(raised.value) is error
    assert raised.value.description
    assert raised.value.parameter == parameter
    if basic_flag is not None:
        assert isinstance(raised.value, InvalidClient)
        assert raised.value.basic is basic_flag


def test_an_unknown_scope_is_named_with_every_known_one() -> None:
    with pytest.raises(InvalidScope) as raised:
        parse_token_request(FORM, GRANT + BODY_CREDS + b"&scope=orders.read", None)
    assert "`orders.read`" in raised.value.description
    assert all(scope in raised.value.description for scope in KNOWN_SCOPES)


def test_a_repeated_parameter_is_named_in_the_description() -> None:
    with pytest.raises(InvalidRequest, match="`scope`"):
        parse_token_request(FORM, GRANT + BODY_CREDS + b"&scope=a&scope=b", None)


def test_errors_never_quote_the_secret() -> None:
    secret = "Sup3rS3cr3tValue"
    bodies = [
        f"grant_type=client_credentials&client_id=a&client_secret={secret}&client_secret=x",
        f"grant_type=client_credentials&client_secret={secret}",
        f"grant_type=client_credentials&client_id=a&client_secret={secret}%ff",
    ]
    for body in bodies:
        with pytest.raises(OmsExportError) as raised:
            parse_token_request(FORM, body.encode(), None)
        assert secret not in raised.value.description


def test_the_secret_stays_out_of_the_requests_repr() -> None:
    request = parse_token_request(FORM, ARTICLE_BODY, None)
    assert "s3cr3t" not in repr(request)
    assert "abc123" in repr(request)
