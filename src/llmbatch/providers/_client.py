"""What both provider clients share: one HTTPClient built from a provider config."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from llmbatch._exceptions import APIStatusError
from llmbatch._http import HTTPClient
from llmbatch._retry import RetryStats

__all__ = ["ProviderClient"]


class ProviderClient:
    """Base of `OpenAIClient` and `AnthropicClient`: the HTTP client, counters, closing."""

    def __init__(
        self,
        config: Any,
        *,
        error_parser: Callable[[int, httpx.Headers, bytes], APIStatusError],
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = config
        self._http = HTTPClient(
            base_url=config.base_url,
            headers=config.headers(),
            retry=config.retry,
            timeout=config.timeout,
            error_parser=error_parser,
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.config.base_url!r})"

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def stats(self) -> RetryStats:
        """Requests, retries by reason, recoveries (see :class:`llmbatch._retry.RetryStats`)."""
        return self._http.stats

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()
