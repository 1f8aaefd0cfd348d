"""Every domain error has its HTTP status, refinements included (none falls through to 500)."""

from __future__ import annotations

import inspect

from oms_export import errors
from oms_export.api.errors import error_response


def test_every_domain_error_maps_to_a_status_below_500_or_to_503() -> None:
    for _, cls in inspect.getmembers(errors, inspect.isclass):
        if not issubclass(cls, errors.OmsExportError) or cls is errors.OmsExportError:
            continue
        if cls is errors.ImportRejected:
            continue  # an import's outcome, never an HTTP answer
        parameters = inspect.signature(cls).parameters
        kwargs = {"retry_after": 1} if "retry_after" in parameters else {}
        for name in ("item_id", "order_id"):
            if name in parameters:
                kwargs[name] = 1
        status = error_response(cls("x", **kwargs)).status_code  # type: ignore[arg-type]
        assert status < 500 or status == 503, (cls.__name__, status)


def test_a_refused_move_is_409_and_a_bad_item_line_is_400() -> None:
    assert error_response(errors.InvalidTransition("order 42 is …")).status_code == 409
    item = errors.InvalidItem("too many", item_id=3, parameter="items[0].quantity")
    response = error_response(item)
    assert response.status_code == 400
    assert b'"parameter":"items[0].quantity"' in response.body


def test_a_duplicate_order_is_409_naming_the_stored_orders_id() -> None:
    response = error_response(errors.DuplicateOrder("order 42 already …", order_id=42))
    assert response.status_code == 409
    assert b'"error":"duplicate_order"' in response.body
    assert b'"order_id":42' in response.body
