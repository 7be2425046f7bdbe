"""User-facing provider settings: ``llmbatch.OpenAI(...)`` and ``llmbatch.Anthropic(...)``.

A config holds where to send requests and how to authenticate, read from arguments first and
then from the same environment variables the official SDKs read. The API key is kept in a
private attribute wrapped so that it never shows in ``repr``, ``vars()``, equality, pickles or
the job manifest (:meth:`to_manifest`); a reopened job reads it from the environment again.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

from .._exceptions import ConfigError
from .._retry import RetryPolicy

if TYPE_CHECKING:
    import httpx

    from .anthropic import AnthropicClient
    from .openai import OpenAIClient

__all__ = ["Anthropic", "OpenAI", "provider_from_manifest", "resolve_provider"]


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


class _ProviderConfig:
    """Shared behaviour of the provider configs (not public)."""

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
        return self.to_manifest() == other.to_manifest()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.to_manifest().items())))

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_api_key"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __copy__(self) -> _ProviderConfig:
        # copies stay in this process, so unlike pickles they keep the key
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        return clone

    def __deepcopy__(self, memo: dict[int, Any]) -> _ProviderConfig:
        return self.__copy__()


class OpenAI(_ProviderConfig):
    """OpenAI, or any server speaking its Files + Batches API.

    Args:
        api_key: defaults to ``OPENAI_API_KEY``.
        base_url: defaults to ``OPENAI_BASE_URL``, then ``https://api.openai.com/v1``.
        organization: ``OpenAI-Organization`` header; defaults to ``OPENAI_ORG_ID``.
        project: ``OpenAI-Project`` header; defaults to ``OPENAI_PROJECT_ID``.
        retry: the retry policy (default :class:`llmbatch.RetryPolicy()`).
        timeout: seconds per HTTP attempt.

    Example:
        >>> llmbatch.OpenAI(base_url="http://127.0.0.1:8000/v1")  # doctest: +SKIP
        OpenAI(base_url='http://127.0.0.1:8000/v1', api_key=<missing>)
    """

    name: ClassVar[str] = "openai"
    DEFAULT_BASE_URL: ClassVar[str] = "https://api.openai.com/v1"
    KEY_ENV: ClassVar[str] = "OPENAI_API_KEY"
    BASE_URL_ENV: ClassVar[str] = "OPENAI_BASE_URL"
    _TITLE: ClassVar[str] = "OpenAI"

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        organization: str | None = None,
        project: str | None = None,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 600.0,
    ) -> None:
        self._setup(api_key, base_url, retry, timeout)
        self.organization = organization or os.environ.get("OPENAI_ORG_ID") or None
        self.project = project or os.environ.get("OPENAI_PROJECT_ID") or None

    def __repr__(self) -> str:
        return f"OpenAI(base_url={self.base_url!r}, api_key={self._key_source()})"

    def headers(self) -> dict[str, str]:
        """The auth headers of every request (resolves the key)."""
        headers = {"Authorization": f"Bearer {self.resolve_api_key()}"}
        if self.organization:
            headers["OpenAI-Organization"] = self.organization
        if self.project:
            headers["OpenAI-Project"] = self.project
        return headers

    def client(self, *, transport: httpx.BaseTransport | None = None) -> OpenAIClient:
        """A connected :class:`OpenAIClient` (close it, or use it as a context manager)."""
        from .openai import OpenAIClient

        return OpenAIClient(self, transport=transport)

    def to_manifest(self) -> dict[str, Any]:
        """``{"name", "base_url", "organization", "project"}``: never the key."""
        return {**super().to_manifest(), "organization": self.organization, "project": self.project}


class Anthropic(_ProviderConfig):
    """Anthropic's Message Batches API.

    Args:
        api_key: defaults to ``ANTHROPIC_API_KEY``.
        base_url: defaults to ``ANTHROPIC_BASE_URL``, then ``https://api.anthropic.com``
            (no ``/v1``: the paths carry it, as in the official SDK).
        retry: the retry policy (default :class:`llmbatch.RetryPolicy()`).
        timeout: seconds per HTTP attempt.

    Example:
        >>> llmbatch.Anthropic(api_key="sk-ant-...")  # doctest: +SKIP
        Anthropic(base_url='https://api.anthropic.com', api_key=<set>)
    """

    name: ClassVar[str] = "anthropic"
    DEFAULT_BASE_URL: ClassVar[str] = "https://api.anthropic.com"
    KEY_ENV: ClassVar[str] = "ANTHROPIC_API_KEY"
    BASE_URL_ENV: ClassVar[str] = "ANTHROPIC_BASE_URL"
    _TITLE: ClassVar[str] = "Anthropic"
    # The anthropic-version this client was built and tested for, sent on every request. Pinned
    # on purpose: a newer version changes what the API accepts (2026-10-21 refuses temperature,
    # top_p and top_k on newer models); move it only together with the request bodies.
    API_VERSION: ClassVar[str] = "2023-06-01"

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 600.0,
    ) -> None:
        self._setup(api_key, base_url, retry, timeout)

    def __repr__(self) -> str:
        return f"Anthropic(base_url={self.base_url!r}, api_key={self._key_source()})"

    def headers(self) -> dict[str, str]:
        """The auth and version headers of every request (resolves the key)."""
        return {
            "x-api-key": self.resolve_api_key(),
            "anthropic-version": self.API_VERSION,
            "content-type": "application/json",
        }

    def client(self, *, transport: httpx.BaseTransport | None = None) -> AnthropicClient:
        """A connected :class:`AnthropicClient` (close it, or use it as a context manager)."""
        from .anthropic import AnthropicClient

        return AnthropicClient(self, transport=transport)


_PROVIDERS: dict[str, type[OpenAI] | type[Anthropic]] = {"openai": OpenAI, "anthropic": Anthropic}


def resolve_provider(
    provider: str | OpenAI | Anthropic | None, default: str = "openai"
) -> OpenAI | Anthropic:
    """Turn a ``provider=`` argument into a config.

    Args:
        provider: ``"openai"`` / ``"anthropic"`` (any case; a fresh config from the environment),
            a config object (returned as is), or ``None`` for ``default``.

    Raises:
        ConfigError: an unknown name or a value of the wrong type.

    Example:
        >>> resolve_provider("Anthropic").name
        'anthropic'
    """
    if provider is None:
        provider = default
    if isinstance(provider, (OpenAI, Anthropic)):
        return provider
    choices = ", ".join(repr(name) for name in _PROVIDERS)
    if isinstance(provider, str):
        cls = _PROVIDERS.get(provider.strip().lower())
        if cls is None:
            msg = (
                f"unknown provider {provider!r}; choose one of {choices}\n"
                "Hint: for another OpenAI-compatible server pass "
                "llmbatch.OpenAI(base_url=...)."
            )
            raise ConfigError(msg)
        return cls()
    msg = (
        f"provider must be a name or a provider object, got {type(provider).__name__}\n"
        f"Hint: pass one of {choices}, llmbatch.OpenAI(...) or llmbatch.Anthropic(...)."
    )
    raise ConfigError(msg)


def provider_from_manifest(d: dict[str, Any]) -> OpenAI | Anthropic:
    """Rebuild a provider config from :meth:`to_manifest` output; the key comes from the env."""
    name = str(d.get("name", "")).lower()
    if name == "openai":
        return OpenAI(
            base_url=d.get("base_url"), organization=d.get("organization"), project=d.get("project")
        )
    if name == "anthropic":
        return Anthropic(base_url=d.get("base_url"))
    choices = ", ".join(repr(n) for n in _PROVIDERS)
    msg = f"unknown provider {d.get('name')!r} in the job manifest; expected one of {choices}"
    raise ConfigError(msg + "\nHint: the job was written by a newer llmbatch; upgrade it.")
