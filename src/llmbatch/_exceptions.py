"""One exception hierarchy for everything llmbatch raises.

```
LLMBatchError
├── InputError              bad input, raised before anything is sent (names the culprit)
│   ├── SchemaError         a schema that is invalid or that the provider would reject
│   └── NameConflictError   name= already holds a job for other work (says what differs)
├── ConfigError             unknown provider, missing API key, bad option
├── JobFolderError          a job folder that is damaged, truncated, foreign or too new
├── ResultsIntegrityError   a download that stays damaged after fetching it again (names the shard)
├── JobNotReady             collect() before the job has ended (carries .status)
├── BatchFailedError        a remote batch failed validation (names the shard, keeps errors)
└── ProviderError           anything that came back from (or failed to reach) a provider
    ├── APIConnectionError  connection refused / dropped / timed out (after retries)
    │   └── APITimeoutError
    └── APIStatusError      an HTTP error answer: .status_code .error_type .message .request_id
        ├── BadRequestError        400
        ├── AuthenticationError    401
        ├── PermissionDeniedError  403
        ├── NotFoundError          404
        ├── ConflictError          409
        ├── RequestTooLargeError   413
        ├── UnprocessableError     422
        ├── RateLimitError         429
        └── ServerError            5xx (529 overloaded included)
```

Per-row failures are never exceptions: they are data in the `.error` / `.error_msg` columns.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BatchFailedError",
    "BudgetExceededError",
    "ConfigError",
    "ConflictError",
    "InputError",
    "JobFolderError",
    "JobNotReady",
    "LLMBatchError",
    "NameConflictError",
    "NotFoundError",
    "PermissionDeniedError",
    "ProviderError",
    "RateLimitError",
    "RequestTooLargeError",
    "ResultsIntegrityError",
    "SchemaError",
    "ServerError",
    "UnprocessableError",
    "status_error_class",
]


class LLMBatchError(Exception):
    """Root of every error llmbatch raises on purpose."""


class InputError(LLMBatchError, ValueError):
    """The user's input cannot be sent; raised before any network call."""


class SchemaError(InputError):
    """A schema is not valid JSON Schema or uses keywords the provider rejects."""


class NameConflictError(InputError):
    """`name=` is an alias: it already names a job for different work (`.differences`)."""

    def __init__(self, message: str, differences: list[str] | None = None) -> None:
        super().__init__(message)
        self.differences = differences or []


class DuplicateWorkError(InputError):
    """The same work is already a job under another name whose answers are not all in yet
    (`.path`): sending it again would pay twice. Nothing was sent."""

    def __init__(self, message: str, path: Any = None) -> None:
        super().__init__(message)
        self.path = path


class BudgetExceededError(InputError):
    """The estimated cost of what would be sent is above `max_cost=` (`.estimate` holds it);
    nothing was sent."""

    def __init__(self, message: str, estimate: Any = None) -> None:
        super().__init__(message)
        self.estimate = estimate


class ConfigError(LLMBatchError, ValueError):
    """A provider, key, model or option is missing or wrong."""


class JobFolderError(LLMBatchError):
    """A job folder is damaged, truncated, not a job folder, or from a newer format."""


class JobNotReady(LLMBatchError):
    """The job has not ended yet; `.status` holds the status at the time of the call."""

    def __init__(self, message: str, status: Any = None) -> None:
        super().__init__(message)
        self.status = status


class BatchFailedError(LLMBatchError):
    """A remote batch failed as a whole (e.g. validation); `.errors` holds the provider's list."""

    def __init__(self, message: str, shard: int | None = None, errors: Any = None) -> None:
        super().__init__(message)
        self.shard = shard
        self.errors = errors


class ResultsIntegrityError(LLMBatchError):
    """A shard's download stayed damaged after fetching it again; the job stays resumable."""

    def __init__(self, message: str, shard: int | None = None) -> None:
        super().__init__(message)
        self.shard = shard


class ProviderError(LLMBatchError):
    """Something went wrong talking to a provider."""


class APIConnectionError(ProviderError):
    """The provider could not be reached, or the connection dropped mid-answer."""


class APITimeoutError(APIConnectionError):
    """The request timed out."""


class APIStatusError(ProviderError):
    """The provider answered with an HTTP error.

    Attributes:
        status_code: HTTP status.
        error_type: the provider's error type (e.g. ``invalid_request_error``).
        message: the provider's message.
        request_id: the provider's request id header, when present.
        body: the decoded error body, when it was JSON.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        error_type: str | None = None,
        request_id: str | None = None,
        body: Any = None,
    ) -> None:
        self.status_code = status_code
        self.error_type = error_type
        self.message = message
        self.request_id = request_id
        self.body = body
        detail = f"HTTP {status_code}"
        if error_type:
            detail += f" {error_type}"
        if request_id:
            detail += f" (request id {request_id})"
        super().__init__(f"{detail}: {message}")


class BadRequestError(APIStatusError):
    """HTTP 400."""


class AuthenticationError(APIStatusError):
    """HTTP 401."""


class PermissionDeniedError(APIStatusError):
    """HTTP 403."""


class NotFoundError(APIStatusError):
    """HTTP 404."""


class ConflictError(APIStatusError):
    """HTTP 409."""


class RequestTooLargeError(APIStatusError):
    """HTTP 413."""


class UnprocessableError(APIStatusError):
    """HTTP 422."""


class RateLimitError(APIStatusError):
    """HTTP 429."""


class ServerError(APIStatusError):
    """HTTP 5xx, including Anthropic's 529 overloaded."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: RequestTooLargeError,
    422: UnprocessableError,
    429: RateLimitError,
}


def status_error_class(status_code: int) -> type[APIStatusError]:
    """The exception class for an HTTP error status."""
    if status_code >= 500:
        return ServerError
    return _BY_STATUS.get(status_code, APIStatusError)
