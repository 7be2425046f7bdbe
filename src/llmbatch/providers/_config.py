"""What every provider config shares: settings read from arguments, then the environment.

A config holds where to send requests and how to authenticate, read from arguments first and
then from the same environment variables the official SDKs read. The API key is kept in a
private attribute wrapped so that it never shows in ``repr``, ``vars()``, equality, pickles or
the job manifest (:meth:`to_manifest`); a reopened job reads it from the environment again.

``default_headers`` and ``default_query`` (the official SDKs' options) may carry credentials
too, so they get the same care: a job folder records their names only. A job reopened from its
folder knows it needs them and refuses to send a request until it gets them again
(``llmbatch.load(path, provider=...)``), rather than send requests a proxy or a deployment
would route or bill differently.

``cleanup=True`` makes deleting the provider's copies of a job's data (OpenAI files, Anthropic
ended batches) the default once its results are on disk (``collect()`` / ``wait()``); it is
recorded in the job folder, so a reopened job keeps it.

Each provider's own config class (``llmbatch.OpenAI``, ``llmbatch.Anthropic``) lives beside its
client, in that provider's module.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

from .._exceptions import ConfigError
from .._retry import RetryPolicy
from ._options import Timeout, check_headers, check_query, check_timeout, retry_policy
from ._secrets import Secret, SecretMap

__all__ = ["ProviderConfig"]


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


def _recorded(value: Any) -> list[str]:
    """The names a job folder recorded (anything else there is ignored)."""
    return [name for name in value if isinstance(name, str)] if isinstance(value, list) else []


class ProviderConfig:
    """Shared behaviour of the provider configs (each provider subclasses it)."""

    name: ClassVar[str]
    DEFAULT_BASE_URL: ClassVar[str]
    KEY_ENV: ClassVar[str]
    BASE_URL_ENV: ClassVar[str]
    # lowercase names of the headers that carry the credential: one in default_headers
    # replaces it, and the key is then not sent at all
    AUTH_HEADERS: ClassVar[tuple[str, ...]]
    _TITLE: ClassVar[str]
    _KEY_ALSO: ClassVar[str] = ""  # other ways to give a credential, for the "no key" hint

    base_url: str
    retry: RetryPolicy
    timeout: Timeout
    cleanup: bool

    def _setup(
        self,
        api_key: str | None,
        base_url: str | None,
        *,
        retry: RetryPolicy | None,
        timeout: Any,
        max_retries: int | None = None,
        default_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, object] | None = None,
        cleanup: bool = False,
    ) -> None:
        self._api_key = self._secret("api_key", api_key)
        raw = base_url or os.environ.get(self.BASE_URL_ENV) or self.DEFAULT_BASE_URL
        self.base_url = _clean_base_url(raw, self._TITLE, self.BASE_URL_ENV)
        self.retry = retry_policy(retry, max_retries)
        self.timeout = check_timeout(timeout)
        self._default_headers = SecretMap(check_headers(default_headers, self._TITLE))
        self._default_query = SecretMap(check_query(default_query, self._TITLE))
        self.cleanup = self._check_cleanup(cleanup)

    def _check_cleanup(self, value: Any) -> bool:
        """A bool, refused otherwise: a string like "no" would read as True."""
        if not isinstance(value, bool):
            msg = (
                f"{self._TITLE} cleanup must be True or False, got {value!r}\nHint: "
                "cleanup=True deletes the provider's copies once a job's results are on disk."
            )
            raise ConfigError(msg)
        return value

    def _secret(self, what: str, value: str | None) -> Secret | None:
        if value is not None and not isinstance(value, str):
            msg = f"{self._TITLE} {what} must be a string, got {type(value).__name__}"
            raise ConfigError(msg + f"\nHint: pass {what}='...' or set {self.KEY_ENV}.")
        return Secret(value) if value else None

    def _expect(self, d: Mapping[str, Any]) -> None:
        """Expect the header and query names a job folder recorded (values come again)."""
        known = {name.lower() for name in self._default_headers.values()}  # names ignore case
        headers = [n for n in _recorded(d.get("default_headers")) if n.lower() not in known]
        query = _recorded(d.get("default_query"))
        self._default_headers = SecretMap(self._default_headers.values(), headers)
        self._default_query = SecretMap(self._default_query.values(), query)

    @property
    def max_retries(self) -> int:
        """Retries after a request's first attempt (``retry.max_retries``), as in the SDKs."""
        return self.retry.max_retries

    # -- what every request carries ------------------------------------------------------------

    def headers(self) -> dict[str, str]:
        """Every request's headers (resolves the credential).

        ``default_headers`` come last and win over ours, names compared without case, as in
        the official SDKs; one naming an auth header (:attr:`AUTH_HEADERS`) replaces the key.

        Raises:
            ConfigError: no credential, or header values a reopened job does not know.
        """
        self._check_known()
        given = self._default_headers.values()
        overridden = {name.lower() for name in given}
        auth = {} if self._auth_override() is not None else self._auth_header()
        own = {**auth, **self._own_headers()}
        return {**{k: v for k, v in own.items() if k.lower() not in overridden}, **given}

    def query(self) -> dict[str, str]:
        """Query parameters added to every request's URL (``default_query``)."""
        self._check_known()
        return self._default_query.values()

    def _auth_header(self) -> dict[str, str]:
        raise NotImplementedError

    def _own_headers(self) -> dict[str, str]:
        return {}

    def _check_known(self) -> None:
        given = (("default_headers", self._default_headers), ("default_query", self._default_query))
        for what, names in given:
            missing = names.missing()
            if missing:
                cls = type(self).__name__
                msg = (
                    f"this {self._TITLE} provider needs {what} {missing}, whose values are never "
                    "written to a job folder (they may hold credentials)\nHint: pass the "
                    f"provider again, e.g. llmbatch.load(path, provider=llmbatch.{cls}("
                    f"{what}={{...}}))."
                )
                raise ConfigError(msg)

    # -- the credential ------------------------------------------------------------------------

    def resolve_api_key(self) -> str:
        """The credential requests will carry: the key passed in, else the one in the env.

        A ``default_headers`` auth header (:attr:`AUTH_HEADERS`) stands in for a missing key.

        Raises:
            ConfigError: no credential anywhere (the message ends with a hint).
        """
        return self._credential()[1]

    def _credential(self) -> tuple[str, str]:
        """``(kind, value)``: kind ``"key"``, ``"token"`` (Anthropic) or ``"header"``."""
        if self._api_key is not None:
            return "key", self._api_key.get()
        key = os.environ.get(self.KEY_ENV, "").strip()
        if key:
            return "key", key
        stand_in = self._auth_override()
        if stand_in is not None:
            return "header", stand_in
        cls = type(self).__name__
        msg = (
            f"no {self._TITLE} API key: none was passed and {self.KEY_ENV} is not set"
            f"{self._KEY_ALSO}\nHint: pass llmbatch.{cls}(api_key=...) or set {self.KEY_ENV}."
        )
        raise ConfigError(msg)

    def _auth_override(self) -> str | None:
        """The value of a ``default_headers`` auth header, if one is given."""
        found = (self._default_headers.get(name) for name in self.AUTH_HEADERS)
        return next((value for value in found if value), None)

    def _key_source(self) -> str:
        if self._api_key is not None:
            return "<set>"
        if os.environ.get(self.KEY_ENV, "").strip():
            return f"<from {self.KEY_ENV}>"
        return "<missing>"

    def _shown_options(self) -> str:
        """``, default_headers=[names]`` etc. for a repr: names only, never a value."""
        shown = [("default_headers", self._default_headers), ("default_query", self._default_query)]
        named = "".join(f", {what}={names.names}" for what, names in shown if names)
        return named + (", cleanup=True" if self.cleanup else "")

    # -- the job folder, equality, copies ------------------------------------------------------

    def to_manifest(self) -> dict[str, Any]:
        """What a job folder records about the provider: never the key, never a header or
        query value (only their names, so a reopened job knows it needs them); ``cleanup``
        when it is on."""
        recorded: dict[str, Any] = {"name": self.name, "base_url": self.base_url}
        if self.cleanup:
            recorded["cleanup"] = True
        if self._default_headers:
            recorded["default_headers"] = self._default_headers.names
        if self._default_query:
            recorded["default_query"] = self._default_query.names
        return recorded

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.to_manifest() == other.to_manifest()

    def __hash__(self) -> int:
        return hash(repr(sorted(self.to_manifest().items())))

    def __getstate__(self) -> dict[str, Any]:
        # header and query values drop themselves (SecretMap pickles names only)
        state = dict(self.__dict__)
        state.update({name: None for name in state if isinstance(state[name], Secret)})
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
