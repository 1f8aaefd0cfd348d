"""The API's description: a valid OpenAPI document, and its pages served with no CDN."""

from __future__ import annotations

import re
from typing import Any

import httpx
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

from oms_export.auth.scopes import EXPORT_SCOPE
from oms_export.bounds import MAX_PAGE_SIZE
from oms_export.export.formats import FORMATS
from oms_export.fields import OPTIONS, filterable
from tests.live import bearer

EXPORT_PATH = "/export-api/order-item-details"


def test_the_served_document_is_valid_openapi(http: httpx.Client) -> None:
    document = http.get("/openapi.json").json()
    validate(document)  # raises on any violation of the OpenAPI 3.1 schema
    assert document["openapi"].startswith("3.1")


def test_swagger_ui_and_redoc_load_every_asset_from_the_service(http: httpx.Client) -> None:
    for page in ("/docs", "/redoc"):
        response = http.get(page)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        sources = re.findall(r'(?:src|href)="([^"]+)"', response.text)
        assert sources, page
        assert all(src.startswith("/docs-assets/") for src in sources), (page, sources)
        assert "openapi.json" in response.text
        for src in sources:
            asset = http.get(src)
            assert asset.status_code == 200, src
            assert len(asset.content) > 1000, src


def test_every_filter_option_and_answer_of_the_export_is_described(http: httpx.Client) -> None:
    document = http.get("/openapi.json").json()
    export = document["paths"]["/export-api/order-item-details"]["get"]
    parameters = {p["name"]: p for p in export["parameters"]}
    for name, ops in filterable().items():
        for op in ops:
            assert f"filter[{name}:{op}]" in parameters
            assert parameters[f"filter[{name}:{op}]"]["schema"]["pattern"]
    assert {f"options[{option}]" for option in OPTIONS} <= set(parameters)
    assert parameters["page[size]"]["schema"]["maximum"] == MAX_PAGE_SIZE
    assert parameters["format"]["schema"]["enum"] == list(FORMATS)
    answers = export["responses"]
    assert set(answers) == {"200", "400", "401", "403", "406", "429", "503"}
    assert {"Link", "Export-Excluded-Companies"} <= set(answers["200"]["headers"])
    assert set(answers["200"]["content"]) == {fmt.media_type for fmt in FORMATS.values()}
    for status in ("429", "503"):
        assert "Retry-After" in answers[status]["headers"]
    assert "WWW-Authenticate" in answers["401"]["headers"]
    assert export["security"] == [{"oauth2": [EXPORT_SCOPE]}]


def test_the_security_scheme_is_oauth2_client_credentials_at_the_token_url(
    http: httpx.Client,
) -> None:
    document = http.get("/openapi.json").json()
    flows = document["components"]["securitySchemes"]["oauth2"]["flows"]
    assert flows["clientCredentials"]["tokenUrl"] == "/token"
    assert EXPORT_SCOPE in flows["clientCredentials"]["scopes"]
    token = document["paths"]["/token"]["post"]
    assert "application/x-www-form-urlencoded" in token["requestBody"]["content"]
    assert {"200", "400", "401", "429", "503"} <= set(token["responses"])


def test_the_filters_patterns_take_what_the_parser_takes(http: httpx.Client) -> None:
    """A generator's client validates values by these patterns: they must let through the
    article's own examples and refuse what the parser refuses outright."""
    parameters = {
        p["name"]: p["schema"]
        for p in http.get("/openapi.json").json()["paths"]["/export-api/order-item-details"]["get"][
            "parameters"
        ]
    }
    taken = {
        "filter[status:in]": ["8,516", "8"],
        "filter[completion_datetime:gt]": [
            "2020-03-06 12:00:00",
            "2020-03-06",
            "2020-03-06T12:00:00Z",
            "2020-03-06T12:00:00+02:00",
        ],
        "filter[id:lt]": ["2147483647"],
        "filter[ref:in]": ["O1,O2"],
    }
    refused = {"filter[status:in]": ["8;516", ""], "filter[id:lt]": ["-1", "1e3"]}
    for name, values in taken.items():
        for value in values:
            assert re.fullmatch(parameters[name]["pattern"].strip("^$"), value), (name, value)
    for name, values in refused.items():
        for value in values:
            assert not re.fullmatch(parameters[name]["pattern"].strip("^$"), value), (name, value)


def test_a_generator_gets_one_class_per_body_plain_flags_and_short_names(
    http: httpx.Client,
) -> None:
    """What openapi-python-client and datamodel-code-generator build from: bodies named in
    ``components/schemas`` (inline, they made one error class per status, and
    datamodel-code-generator found no models at all); options as booleans (a string enum
    of 1/0/true/false became ``VALUE_0 = "1"``); ids without FastAPI's path suffix."""
    document = http.get("/openapi.json").json()
    assert {"Error", "OrderItemRow", "Order", "OrderItem"} <= set(document["components"]["schemas"])
    error = {"$ref": "#/components/schemas/Error"}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert not operation["operationId"].endswith(f"_{method}"), (path, method)
            for status, answer in operation["responses"].items():
                if status.startswith(("4", "5")) and "content" in answer:
                    assert answer["content"]["application/json"]["schema"] == error, (path, status)
    export = document["paths"][EXPORT_PATH]["get"]
    assert export["operationId"] == "order_item_details"
    assert document["paths"]["/token"]["post"]["operationId"] == "issue_token"
    parameters = {p["name"]: p for p in export["parameters"]}
    for option in OPTIONS:
        assert parameters[f"options[{option}]"]["schema"] == {"type": "boolean"}
    body = export["responses"]["200"]["content"]["application/json"]["schema"]
    assert body == {
        "anyOf": [
            {"type": "array", "items": {"$ref": "#/components/schemas/OrderItemRow"}},
            {"type": "array", "items": {"$ref": "#/components/schemas/Order"}},
        ]
    }


def test_the_rows_and_orders_sent_fit_their_schemas_and_only_their_own(
    http: httpx.Client, reporting_client: dict[str, Any]
) -> None:
    """A generated client picks ``OrderItemRow`` or ``Order`` by which one fits; each body
    must fit its own schema and not the other's, with every option turned on."""
    document = http.get("/openapi.json").json()
    token = bearer(http, reporting_client)
    options = {f"options[{option}]": "true" for option in OPTIONS}
    schemas = document["components"]["schemas"]

    def validator(name: str) -> OAS31Validator:
        ref = {"$ref": f"#/components/schemas/{name}"}
        return OAS31Validator({"type": "array", "items": ref, "components": {"schemas": schemas}})

    for shape, fits, other in (
        ("rows", "OrderItemRow", "Order"),
        ("orders", "Order", "OrderItemRow"),
    ):
        response = http.get(
            EXPORT_PATH,
            params={**options, "shape": shape},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body, shape
        validator(fits).validate(body)
        assert not validator(other).is_valid(body), shape
