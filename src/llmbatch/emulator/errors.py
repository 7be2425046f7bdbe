"""The two providers' HTTP error envelopes, and the exception that carries one to the app.

OpenAI: `{"error": {"message", "type", "param", "code"}}` (B.9).
Anthropic: `{"type": "error", "error": {"type", "message"}, "request_id"}` (C.8); the app fills
`request_id` with the same value it sends in the `request-id` header.
"""

from __future__ import annotations

from typing import Any

ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    503: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


class ApiError(Exception):
    """An HTTP error answer, raised by state and handlers and serialized by the app."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str | None = None,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self, provider: str) -> dict[str, Any]:
        """The error envelope of `provider` ("openai" or "anthropic")."""
        if provider == "anthropic":
            kind = self.type or ANTHROPIC_TYPES.get(self.status, "invalid_request_error")
            return anthropic_error(kind, self.message)
        kind = self.type or ("server_error" if self.status >= 500 else "invalid_request_error")
        return openai_error(self.message, kind, self.param, self.code)


def openai_error(
    message: str, type: str, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    """OpenAI's error envelope (all four inner keys present)."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def anthropic_error(type: str, message: str, request_id: str | None = None) -> dict[str, Any]:
    """Anthropic's error envelope."""
    return {"type": "error", "error": {"type": type, "message": message}, "request_id": request_id}


def openai_not_found(kind: str, object_id: str, param: str = "id") -> ApiError:
    """404 for an unknown file or batch id."""
    return ApiError(404, f"No such {kind} object: {object_id}", param=param)


def openai_bad_value(param: str, message: str, code: str = "invalid_value") -> ApiError:
    """400 invalid_request_error naming the offending parameter."""
    return ApiError(400, message, param=param, code=code)


def anthropic_invalid(message: str) -> ApiError:
    """400 invalid_request_error in the Anthropic envelope."""
    return ApiError(400, message, type="invalid_request_error")
