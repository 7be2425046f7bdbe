"""The official SDKs' client options, checked: ``timeout``, ``max_retries``, default headers/query.

``llmbatch.OpenAI`` and ``llmbatch.Anthropic`` take them under the SDKs' names and meanings,
so a client configured for the ``openai`` / ``anthropic`` package can be configured the same
way here. ``max_retries`` is a shorthand for :class:`llmbatch.RetryPolicy` ``(max_retries=)``;
everything else about retrying stays with the policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from .._exceptions import ConfigError
from .._retry import RetryPolicy

__all__ = ["check_headers", "check_query", "check_timeout", "retry_policy"]

Timeout = float | httpx.Timeout


def retry_policy(retry: RetryPolicy | None, max_retries: int | None) -> RetryPolicy:
    """The policy from ``retry=`` and/or ``max_retries=`` (both given must agree).

    Raises:
        ConfigError: ``max_retries`` is not a count, or disagrees with ``retry.max_retries``.
    """
    if retry is not None and not isinstance(retry, RetryPolicy):
        msg = f"retry must be a llmbatch.RetryPolicy, got {type(retry).__name__}"
        raise ConfigError(msg + "\nHint: retry=llmbatch.RetryPolicy(max_retries=3).")
    if max_retries is None:
        return retry if retry is not None else RetryPolicy()
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        msg = f"max_retries must be a whole number >= 0, got {max_retries!r}"
        raise ConfigError(msg + "\nHint: max_retries=0 sends each request once.")
    if retry is None:
        return RetryPolicy(max_retries=max_retries)
    if retry.max_retries != max_retries:
        msg = (
            f"max_retries={max_retries} disagrees with retry=RetryPolicy(max_retries="
            f"{retry.max_retries})\nHint: pass one of them (max_retries= is a shorthand)."
        )
        raise ConfigError(msg)
    return retry


def check_timeout(timeout: Any) -> Timeout:
    """A positive number of seconds (as float) or an ``httpx.Timeout`` with finite parts.

    Raises:
        ConfigError: anything else, ``None`` (wait forever) included.
    """
    if isinstance(timeout, httpx.Timeout):
        parts = (timeout.connect, timeout.read, timeout.write, timeout.pool)
        if all(p is not None and p > 0 for p in parts):
            return timeout
    elif isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0:
        return float(timeout)
    msg = f"timeout must be a positive number of seconds or an httpx.Timeout, got {timeout!r}"
    raise ConfigError(
        msg + "\nHint: e.g. timeout=600 or httpx.Timeout(600, connect=5); a "
        "batch call must not wait forever, so no part may be None."
    )


def check_headers(headers: Any, title: str) -> dict[str, str]:
    """``default_headers`` as a dict of str to str (names keep their spelling).

    Raises:
        ConfigError: not a mapping of strings, or a name given twice in different cases.
    """
    pairs = _pairs(headers, "default_headers", title)
    seen: dict[str, str] = {}
    for name, value in pairs.items():
        if not isinstance(value, str):
            msg = f"{title} default_headers[{name!r}] must be a string, got {type(value).__name__}"
            raise ConfigError(msg + "\nHint: header values are strings, e.g. {'X-Team': 'a'}.")
        if name.lower() in seen:
            msg = f"{title} default_headers names {seen[name.lower()]!r} and {name!r}: one header"
            raise ConfigError(msg + "\nHint: header names ignore case; give each once.")
        seen[name.lower()] = name
    return pairs


def check_query(query: Any, title: str) -> dict[str, str]:
    """``default_query`` as a dict of str to str (numbers are written out)."""
    pairs = _pairs(query, "default_query", title)
    out: dict[str, str] = {}
    for name, value in pairs.items():
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            kind = type(value).__name__
            msg = f"{title} default_query[{name!r}] must be a string or number, got {kind}"
            raise ConfigError(msg + "\nHint: e.g. default_query={'api-version': 'preview'}.")
        out[name] = str(value)
    return out


def _pairs(value: Any, what: str, title: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and k for k in value):
        # never echo the value: it may hold a credential
        msg = f"{title} {what} must be a mapping of non-empty names to values"
        raise ConfigError(msg + f"\nHint: e.g. {what}={{'name': 'value'}}.")
    return dict(value)
