"""The API's OpenAPI description, built from the registries, so it says what the code does.

Every ``filter[FIELD:OP]`` comes from the field registry (``oms_export.fields``) with a pattern
for its values, every format from the formats registry, the bounds from ``oms_export.bounds``;
the security scheme is OAuth 2.0 client credentials with ``/token`` as its token URL, so
Swagger UI's Authorize button and generated clients work; every error status is listed with
its body and headers (``Retry-After``, ``WWW-Authenticate``).

Read by client generators as well as validators (openapi-python-client,
datamodel-code-generator): the bodies are named schemas under ``components/schemas`` (``Error``,
``OrderItemRow``, ``Order``), so a generator makes one class each rather than one per status,
or none; an option is a boolean; an operation's id is its route's function name.
"""

from __future__ import annotations

import re
from typing import Any, Final

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from oms_export.auth.scopes import SCOPES
from oms_export.bounds import MAX_CURSOR_LENGTH, MAX_LIST_VALUES, MAX_PAGE_SIZE
from oms_export.datetimes import FORMS as DATETIME_FORMS
from oms_export.datetimes import PATTERN as DATETIME_PATTERN
from oms_export.datetimes import RANGE as DATETIME_RANGE
from oms_export.export.formats import DEFAULT_FORMAT, FORMATS
from oms_export.export.params import SHAPES
from oms_export.fields import ALWAYS, BY_NAME, FIELDS, JSON_TYPES, OPTIONS, Field, filterable

SECURITY_SCHEME: Final = "oauth2"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


ERROR_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "error": {"type": "string", "description": "Machine-readable code, e.g. invalid_request."},
        "error_description": {"type": "string", "description": "What went wrong, for people."},
        "parameter": {"type": "string", "description": "The parameter at fault, if one is."},
    },
    "required": ["error", "error_description"],
}

_VALUE_PATTERNS: Final[dict[str, str]] = {
    "integer": "[0-9]{1,10}",
    "datetime": DATETIME_PATTERN,
    "text": "[^,]{1,255}",
}
_VALUE_HELP: Final[dict[str, str]] = {
    "integer": "a whole number from 0 to 2147483647",
    "datetime": f"a datetime {DATETIME_RANGE}, as {DATETIME_FORMS}; no offset is UTC, and an "
    "offset's `+` is written `%2B` in a URL",
    "text": "text of at most 255 characters",
}
_OPS: Final[dict[str, str]] = {
    "eq": "equals",
    "in": f"is one of (a comma list of at most {MAX_LIST_VALUES})",
    "gt": "is after / greater than",
    "gte": "is at or after / at least",
    "lt": "is before / less than",
    "lte": "is at or before / at most",
}


def error(
    description: str, *, retry_after: bool = False, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """A documented error answer: its JSON body and the headers it carries."""
    answer: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": _ref("Error")}},
    }
    documented: dict[str, Any] = {
        name: {"description": text, "schema": {"type": "string"}}
        for name, text in (headers or {}).items()
    }
    if retry_after:
        documented["Retry-After"] = {
            "description": "Seconds to wait before trying again.",
            "schema": {"type": "integer", "minimum": 1},
        }
    if documented:
        answer["headers"] = documented
    return answer


def _value_kind(field: Field) -> str:
    json_type = JSON_TYPES[field.type]
    return json_type if json_type in _VALUE_PATTERNS else "text"


def _filter_parameter(name: str, op: str, field: Field) -> dict[str, Any]:
    kind = _value_kind(field)
    one = _VALUE_PATTERNS[kind]
    pattern = f"^{one}(,{one})*$" if op == "in" else f"^{one}$"
    return {
        "name": f"filter[{name}:{op}]",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "pattern": pattern},
        "description": f"Rows whose `{name}` {_OPS[op]} {_VALUE_HELP[kind]}. {field.description}",
    }


def _format_choices() -> str:
    """The formats as a sentence lists them: ``json (default), ndjson or csv``."""
    names = [f"{n} (default)" if f is DEFAULT_FORMAT else n for n, f in FORMATS.items()]
    return f"{', '.join(names[:-1])} or {names[-1]}"


def export_parameters() -> list[dict[str, Any]]:
    """Every query parameter of the export, as the parser takes them."""
    parameters: list[dict[str, Any]] = []
    for name, ops in filterable().items():
        field = BY_NAME[name]
        for op in ops:
            parameters.append(_filter_parameter(name, op, field))
            if op == "eq":
                bare = _filter_parameter(name, op, field) | {"name": f"filter[{name}]"}
                bare["description"] = f"The same as `filter[{name}:eq]`."
                parameters.append(bare)
    parameters += [
        {
            "name": f"options[{option}]",
            "in": "query",
            "required": False,
            "schema": {"type": "boolean"},
            "description": f"true (or 1) turns it on. {text}",
        }
        for option, text in OPTIONS.items()
    ]
    parameters += [
        {
            "name": "format",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "enum": list(FORMATS)},
            "description": f"{_format_choices()}; wins over the Accept header.",
        },
        {
            "name": "shape",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "enum": list(SHAPES)},
            "description": "rows (default): one flat row per order item; orders: one nested "
            "object per order (not with csv).",
        },
        {
            "name": "page[size]",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
            "description": f"Orders per page, 1-{MAX_PAGE_SIZE}; when more remain, the "
            '`Link: rel="next"` header holds the next page\'s URL.',
        },
        {
            "name": "page[after]",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "pattern": f"^[A-Za-z0-9_-]{{1,{MAX_CURSOR_LENGTH}}}$"},
            "description": "The cursor of the `Link` header's URL; use that URL as it is.",
        },
    ]
    return parameters


_SENT_AS: Final[dict[str, dict[str, Any]]] = {
    "integer": {"type": ["integer", "null"]},
    "number": {"type": ["number", "null"]},
    "boolean": {"type": ["boolean", "null"]},
    "datetime": {
        "type": ["string", "null"],
        "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$",
    },
    "date": {"type": ["string", "null"], "format": "date"},
    "text": {"type": ["string", "null"]},
}


def _value_schema(field: Field) -> dict[str, Any]:
    return _SENT_AS[JSON_TYPES[field.type]] | {"description": field.description}


ROW_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "description": "One order item's row; the keys of every option turned on, then "
    "`attributes__NAME` and `items__attributes__NAME` with includeAttributes.",
    "properties": {field.name: _value_schema(field) for field in FIELDS},
    "required": [field.name for field in FIELDS if field.option == ALWAYS],
    "patternProperties": {"^(items__)?attributes__": {"type": ["string", "null"]}},
}

_ATTRIBUTES: Final[dict[str, Any]] = {
    "type": "object",
    "additionalProperties": {"type": "string"},
    "description": "With includeAttributes: the attributes it has, by name.",
}


def _nested_schema(fields: list[tuple[str, Field]], description: str) -> dict[str, Any]:
    """The nested object ``export/shapes.py`` makes of these keys: ``head__rest`` and a bare
    relation key go into ``head`` (null when it has no record)."""
    properties: dict[str, Any] = {}
    groups: dict[str, dict[str, Any]] = {}
    for key, field in fields:
        head, sep, rest = key.partition("__")
        if sep or field.type == "relation":
            groups.setdefault(head, {})[rest if sep else "id"] = _value_schema(field)
        else:
            properties[key] = _value_schema(field)
    for head, members in groups.items():
        properties[head] = {"type": ["object", "null"], "properties": members}
    properties["attributes"] = _ATTRIBUTES
    return {"type": "object", "description": description, "properties": properties}


ORDER_ITEM_SCHEMA: Final[dict[str, Any]] = _nested_schema(
    [(f.name.removeprefix("items__"), f) for f in FIELDS if f.name.startswith("items__")],
    "One item of a nested order; keys as in a row, without `items__`.",
)
ORDER_SCHEMA: Final[dict[str, Any]] = _nested_schema(
    [(f.name, f) for f in FIELDS if not f.name.startswith("items__")],
    "One order with its items (`shape=orders`).",
) | {"required": ["id", "items"]}
ORDER_SCHEMA["properties"]["items"] = {"type": "array", "items": _ref("OrderItem")}

SCHEMAS: Final[dict[str, dict[str, Any]]] = {
    "Error": ERROR_SCHEMA,
    "OrderItemRow": ROW_SCHEMA,
    "Order": ORDER_SCHEMA,
    "OrderItem": ORDER_ITEM_SCHEMA,
}
"""The named bodies, in ``components/schemas``."""


def export_responses() -> dict[int | str, dict[str, Any]]:
    """Every answer the export gives, with its body and headers."""
    content: dict[str, Any] = {}
    for fmt in FORMATS.values():
        if fmt.name == "json":
            rows = {"type": "array", "items": _ref("OrderItemRow")}
            orders = {"type": "array", "items": _ref("Order")}
            content[fmt.media_type] = {"schema": {"anyOf": [rows, orders]}}
        else:
            content[fmt.media_type] = {"schema": {"type": "string"}}
    return {
        200: {
            "description": "The rows, streamed.",
            "content": content,
            "headers": {
                "Link": {
                    "description": "With `page[size]`, when more orders remain: "
                    '`<URL>; rel="next"`.',
                    "schema": {"type": "string"},
                },
                "Export-Excluded-Companies": {
                    "description": "The client's companies left out because their "
                    "subscription may not export, comma-separated.",
                    "schema": {"type": "string"},
                },
            },
        },
        400: error("`invalid_request`: a parameter is unknown, repeated or does not parse; "
                   "`parameter` names it."),
        401: error("`invalid_token`: missing, unknown or expired bearer token.",
                   headers={"WWW-Authenticate": "`Bearer` challenge."}),
        403: error("`insufficient_scope`, `subscription_required` or `company_not_allowed`."),
        406: error("`not_acceptable`: the Accept header names no format of the export."),
        429: error("`rate_limited`: the client's rate or concurrent exports are used up.",
                   retry_after=True),
        503: error("`temporarily_unavailable` (this server is busy, or the shared limit store "
                   "is down) or `query_timeout`.", retry_after=True),
    }  # fmt: skip


def _name_operations(schema: dict[str, Any]) -> None:
    """FastAPI's default id is the function's name, the path and the method
    (``health_health_get``); a generator names its functions and modules by it, so keep the
    function's name (``health``). An id a route sets itself (``issue_token``) stays."""
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue  # a path's own `parameters` or `summary`
            suffix = re.sub(r"\W", "_", path) + f"_{method}"
            name = operation.get("operationId", "")
            if name.endswith(suffix) and len(name) > len(suffix):
                operation["operationId"] = name.removesuffix(suffix)


def install_openapi(app: FastAPI) -> None:
    """Add the security scheme and the named schemas to ``app``'s document, each operation
    named by its function (``order_item_details``, not FastAPI's path-derived id); built once,
    on first request."""

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            _name_operations(schema)
            components = schema.setdefault("components", {})
            components.setdefault("schemas", {}).update(SCHEMAS)
            components["securitySchemes"] = {
                SECURITY_SCHEME: {
                    "type": "oauth2",
                    "description": "OAuth 2.0 client credentials (RFC 6749 §4.4).",
                    "flows": {
                        "clientCredentials": {
                            "tokenUrl": "/token",
                            "scopes": dict(SCOPES),
                        }
                    },
                }
            }
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]
