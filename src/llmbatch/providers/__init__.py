"""Provider configs (``OpenAI``, ``Anthropic``) and their HTTP clients."""

from __future__ import annotations

from ._config import Anthropic, OpenAI, provider_from_manifest, resolve_provider
from .anthropic import AnthropicClient
from .openai import OpenAIClient

__all__ = [
    "Anthropic",
    "AnthropicClient",
    "OpenAI",
    "OpenAIClient",
    "provider_from_manifest",
    "resolve_provider",
]
