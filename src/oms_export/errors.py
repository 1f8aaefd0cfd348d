"""Domain errors, raised deep and turned into HTTP answers in one place (``api/errors.py``).

Each carries the machine-readable ``error`` code users script against, a human description and,
for bad parameters, the ``parameter`` it is about.
"""

from __future__ import annotations


class OmsExportError(Exception):
    error: str = "server_error"

    def __init__(self, description: str, *, parameter: str | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.parameter = parameter


class InvalidRequest(OmsExportError):
    """A parameter is missing, repeated, unknown or does not parse."""

    error = "invalid_request"


class UnsupportedGrantType(OmsExportError):
    error = "unsupported_grant_type"


class InvalidScope(OmsExportError):
    error = "invalid_scope"


class InvalidClient(OmsExportError):
    """Unknown client, wrong secret or revoked client: one answer for all three."""

    error = "invalid_client"

    def __init__(self, description: str = "Client authentication failed.", *, basic: bool = False):
        super().__init__(description)
        self.basic = basic


class InvalidToken(OmsExportError):
    """Missing, unknown, expired or revoked bearer token."""

    error = "invalid_token"

    def __init__(self, description: str, *, missing: bool = False) -> None:
        super().__init__(description)
        self.missing = missing


class InsufficientScope(OmsExportError):
    error = "insufficient_scope"


class SubscriptionRequired(OmsExportError):
    error = "subscription_required"


class CompanyNotAllowed(OmsExportError):
    error = "company_not_allowed"


class NotFound(OmsExportError):
    """No such resource, or one the caller may not act on: the two answer alike, so an
    attacker learns nothing of other companies' orders by probing ids (API.md §6.1)."""

    error = "not_found"


class DuplicateOrder(OmsExportError):
    """A create names the external ref of a stored order of its company with other content."""

    error = "duplicate_order"

    def __init__(self, description: str, *, order_id: int) -> None:
        super().__init__(description)
        self.order_id = order_id


class UnsupportedMediaType(OmsExportError):
    """A request body that is not ``application/json``."""

    error = "unsupported_media_type"


class PayloadTooLarge(OmsExportError):
    """A request body past the service's bound (1 MiB)."""

    error = "payload_too_large"


class NotAcceptable(OmsExportError):
    """The Accept header names no format the export can send."""

    error = "not_acceptable"


class RateLimited(OmsExportError):
    error = "rate_limited"

    def __init__(self, description: str, *, retry_after: int) -> None:
        super().__init__(description)
        self.retry_after = retry_after


class TemporarilyUnavailable(OmsExportError):
    """A shared service the request needs (Redis) cannot be reached; retrying later may work."""

    error = "temporarily_unavailable"

    def __init__(self, description: str, *, retry_after: int) -> None:
        super().__init__(description)
        self.retry_after = retry_after


class ImportRejected(OmsExportError):
    """One import record cannot be stored; the import goes on with the next."""

    error = "rejected"


class InvalidTransition(OmsExportError):
    """The order's status forbids the change asked for (a move back, leaving a final status,
    cancelling once dispatched). A 409, not a 400: the same request may have been right a moment
    earlier, so the answer names the order's status as it is now and the one asked for."""

    error = "invalid_transition"


class InvalidItem(InvalidRequest):
    """One line of a shipment or cancellation cannot apply to its item: the item is not the
    order's, is named twice, or the quantity would take shipped plus cancelled past the item's
    quantity. A 400 like any bad parameter, and it names the item (``item_id``) so the caller can
    point at the JSON path as well."""

    def __init__(self, description: str, *, item_id: int, parameter: str | None = None) -> None:
        super().__init__(description, parameter=parameter)
        self.item_id = item_id
