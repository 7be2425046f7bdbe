"""The providers: configs (``OpenAI``, ``Anthropic``), HTTP clients, wire formats, registry.

Names are loaded on first use (PEP 562), so importing one wire module (``tasks`` does) does not
pull in the backends that import ``tasks``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .anthropic import Anthropic, AnthropicClient
    from .openai import OpenAI, OpenAIClient
    from .registry import provider_from_manifest, resolve_provider

__all__ = [
    "Anthropic",
    "AnthropicClient",
    "OpenAI",
    "OpenAIClient",
    "provider_from_manifest",
    "resolve_provider",
]

_HOMES = {
    "Anthropic": "anthropic",
    "AnthropicClient": "anthropic",
    "OpenAI": "openai",
    "OpenAIClient": "openai",
    "provider_from_manifest": "registry",
    "resolve_provider": "registry",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
