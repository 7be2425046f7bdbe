"""What every provider config shares: settings read from arguments, then the environment.

A config holds where to send requests and how to authenticate, read from arguments first and
then from the same environment variables the official SDKs read. The API key is kept in a
private attribute wrapped so that it never shows in ``repr``, ``vars()``, equality, pickles or
the job manifest (:meth:`to_manifest`); a reopened job reads it from the environment again.
Each provider's own config class (``llmbatch.OpenAI``, ``llmbatch.Anthropic``) lives beside its
client, in that provider's module.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

from .._exceptions import ConfigError
from .._retry import RetryPolicy

__all__ = ["ProviderConfig"]


class _Secret:
    """A string that refuses to show itself (repr, str, pickling)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "'<secret>'"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("an API key is never pickled; it is read from the environment again")


def _clean_base_url(value: str, provider: str, env: str) -> str:
    if not isinstance(value, str):
        msg = f"{provider} base_url must be a string, got {type(value).__name__}"
        raise ConfigError(msg + f"\nHint: pass e.g. base_url='https://host/v1' or set {env}.")
    url = value.strip().rstrip("/")
    parts = urlsplit(url)
    if "@" in parts.netloc:
        msg = (
            f"{provider} base_url must not contain credentials (user:password@)\n"
            f"Hint: pass the key as api_key=..., it is then kept out of the job folder."
        )
        raise ConfigError(msg)
    # never echo a query string or fragment: it may hold a token
    shown = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        msg = (
            f"{provider} base_url {shown!r} is not an http(s) URL\n"
            f"Hint: pass e.g. base_url='https://host/path' or fix {env}."
        )
        raise ConfigError(msg)
    if "?" in url or "#" in url:
        msg = (
            f"{provider} base_url {shown!r} must not carry a query string (?...) or a fragment "
            "(#...): request paths are appended to it, and it is recorded in the job folder\n"
            "Hint: pass the base URL alone; send a key as api_key=..., never in the URL."
        )
        raise ConfigError(msg)
    return url


class ProviderConfig:
    """Shared behaviour of the provider configs (each provider subclasses it)."""

    name: ClassVar[str]
    DEFAULT_BASE_URL: ClassVar[str]
    KEY_ENV: ClassVar[str]
    BASE_URL_ENV: ClassVar[str]
    _TITLE: ClassVar[str]

    base_url: str
    retry: RetryPolicy
    timeout: float

    def _setup(
        self, api_key: str | None, base_url: str | None, retry: RetryPolicy | None, timeout: float
    ) -> None:
        if api_key is not None and not isinstance(api_key, str):
            msg = f"{self._TITLE} api_key must be a string, got {type(api_key).__name__}"
            raise ConfigError(msg + f"\nHint: pass api_key='...' or set {self.KEY_ENV}.")
        self._api_key = _Secret(api_key) if api_key else None
        raw = base_url or os.environ.get(self.BASE_URL_ENV) or self.DEFAULT_BASE_URL
        self.base_url = _clean_base_url(raw, self._TITLE, self.BASE_URL_ENV)
        self.retry = retry if retry is not None else RetryPolicy()
        if not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ConfigError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.timeout = float(timeout)

    def resolve_api_key(self) -> str:
        """The key passed in, else the one in the environment.

        Raises:
            ConfigError: no key anywhere (the message ends with a hint).
        """
        if self._api_key is not None:
            return self._api_key.get()
        key = os.environ.get(self.KEY_ENV, "").strip()
        if key:
            return key
        cls = type(self).__name__
        msg = (
            f"no {self._TITLE} API key: none was passed and {self.KEY_ENV} is not set\n"
            f"Hint: pass llmbatch.{cls}(api_key=...) or set {self.KEY_ENV}."
        )
        raise ConfigError(msg)

    def _key_source(self) -> str:
        if self._api_key is not None:
            return "<set>"
        if os.environ.get(self.KEY_ENV, "").strip():
            return f"<from {self.KEY_ENV}>"
        return "<missing>"

    def to_manifest(self) -> dict[str, Any]:
        """What a job folder records about the provider: never the key."""
        return {"name": self.name, "base_url": self.base_url}

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.to_manifest() == other.to_manifest()

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.to_manifest().items())))

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_api_key"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __copy__(self) -> ProviderConfig:
        # copies stay in this process, so unlike pickles they keep the key
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        return clone

    def __deepcopy__(self, memo: dict[int, Any]) -> ProviderConfig:
        return self.__copy__()
