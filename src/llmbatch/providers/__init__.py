"""The providers: their configs (``OpenAI``, ``Anthropic``), HTTP clients and registry."""

from __future__ import annotations

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
