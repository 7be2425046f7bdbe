"""The providers llmbatch speaks, by name: each one's config (which makes its client) and backend.

A provider is a set of modules: ``<name>.py`` holds its config (``llmbatch.OpenAI``) and HTTP
client, ``<name>_wire.py`` its wire format (endpoints, request bodies, lines, reading an
answer), ``<name>_batch.py`` its backend (limits, batch mechanics). Adding one means adding
those, one entry in `PROVIDERS` and in `tasks.WIRES` (and its config class in `AnyConfig`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from llmbatch._exceptions import ConfigError
from llmbatch.prepare import Limits
from llmbatch.providers.anthropic import Anthropic
from llmbatch.providers.anthropic_batch import AnthropicBackend
from llmbatch.providers.backend import Backend
from llmbatch.providers.openai import OpenAI
from llmbatch.providers.openai_batch import OpenAIBackend
from llmbatch.tasks import TaskSpec
from llmbatch.wire import Wire

__all__ = [
    "PROVIDERS",
    "AnyConfig",
    "Provider",
    "make_backend",
    "provider_from_manifest",
    "resolve_provider",
]

AnyConfig = OpenAI | Anthropic  # every provider's config class


@dataclass(frozen=True)
class Provider:
    """One provider: its config class and its backend class (which knows its limits and wire)."""

    config: type[AnyConfig]
    backend: type[Backend]

    @property
    def wire(self) -> Wire:
        """Its request and answer format (the backend's)."""
        return self.backend.wire


PROVIDERS: dict[str, Provider] = {
    "openai": Provider(OpenAI, OpenAIBackend),
    "anthropic": Provider(Anthropic, AnthropicBackend),
}
_CONFIGS = tuple(entry.config for entry in PROVIDERS.values())


def resolve_provider(provider: str | AnyConfig | None, default: str = "openai") -> AnyConfig:
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
    if isinstance(provider, _CONFIGS):
        return provider
    choices = ", ".join(repr(name) for name in PROVIDERS)
    if isinstance(provider, str):
        entry = PROVIDERS.get(provider.strip().lower())
        if entry is None:
            msg = (
                f"unknown provider {provider!r}; choose one of {choices}\n"
                "Hint: for another OpenAI-compatible server pass "
                "llmbatch.OpenAI(base_url=...)."
            )
            raise ConfigError(msg)
        return entry.config()
    msg = (
        f"provider must be a name or a provider object, got {type(provider).__name__}\n"
        f"Hint: pass one of {choices}, llmbatch.OpenAI(...) or llmbatch.Anthropic(...)."
    )
    raise ConfigError(msg)


def provider_from_manifest(d: Mapping[str, Any]) -> AnyConfig:
    """Rebuild a provider config from :meth:`to_manifest` output; the key comes from the env."""
    entry = PROVIDERS.get(str(d.get("name", "")).lower())
    if entry is not None:
        return entry.config.from_manifest(d)
    choices = ", ".join(repr(n) for n in PROVIDERS)
    msg = f"unknown provider {d.get('name')!r} in the job manifest; expected one of {choices}"
    raise ConfigError(msg + "\nHint: the job was written by a newer llmbatch; upgrade it.")


def make_backend(config: AnyConfig, spec: TaskSpec, tag: str, limits: Limits | None) -> Backend:
    """The provider's backend for one job (`limits`: None for the provider's own)."""
    backend = PROVIDERS[config.name].backend
    return backend(config, tag=tag, endpoint=spec.endpoint, limits=backend.fit_limits(limits))
