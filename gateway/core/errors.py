"""Domain errors, and the one place they become HTTP responses."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("gateway.core.errors")


class GatewayError(Exception):
    """An error a client caused or must know of: `code` is machine-readable, `detail` human."""

    status_code = 400
    code = "bad_request"

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code


class MalformedJson(GatewayError):
    status_code = 400
    code = "malformed_json"


class InvalidPayload(GatewayError):
    status_code = 422
    code = "invalid_payload"


class BadQuery(GatewayError):
    """A query parameter that is not of its kind (`?page=abc`): the detail names it and what it must be."""

    status_code = 400
    code = "invalid_query"


class Unauthorized(GatewayError):
    status_code = 401
    code = "unauthorized"


class NotFound(GatewayError):
    status_code = 404
    code = "not_found"


class Conflict(GatewayError):
    status_code = 409
    code = "conflict"


class ForbiddenTransition(Conflict):
    code = "forbidden_transition"


class ForbiddenRole(GatewayError):
    """The move is allowed, but not to this person: the lifecycle names who may take it."""

    status_code = 403
    code = "forbidden_transition"


class PayloadTooLarge(GatewayError):
    status_code = 413
    code = "payload_too_large"


class ClientGone(GatewayError):
    """The client hung up before its body arrived: nothing was recorded, and nobody reads the answer."""

    status_code = 400
    code = "client_gone"


class TooManyEvents(PayloadTooLarge):
    code = "too_many_events"


class Unavailable(GatewayError):
    status_code = 503
    code = "unavailable"


class ConfigError(Exception):
    """A mapping that cannot load; the message names file, flow and field."""

    def __init__(self, file: str, where: str, problem: str) -> None:
        super().__init__(f"{file}: {where}: {problem}")
        self.file = file
        self.where = where
        self.problem = problem


def error_body(code: str, detail: str) -> dict[str, Any]:
    return {"error": code, "detail": detail}
