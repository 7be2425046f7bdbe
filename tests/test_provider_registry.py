"""The provider registry: one entry per provider, from which configs and backends are built."""

from __future__ import annotations

import orjson
import pytest

from llmbatch.prepare import Limits
from llmbatch.providers import provider_from_manifest, resolve_provider
from llmbatch.providers.anthropic_batch import ANTHROPIC_LIMITS
from llmbatch.providers.registry import PROVIDERS, make_backend
from llmbatch.tasks import WIRES, TaskSpec

NAMES = sorted(PROVIDERS)


@pytest.mark.parametrize("name", NAMES)
def test_an_entry_names_its_config_and_backend_alike(name: str) -> None:
    entry = PROVIDERS[name]
    assert entry.config.name == entry.backend.name == name
    config = resolve_provider(name.upper())
    assert type(config) is entry.config
    assert provider_from_manifest(config.to_manifest()) == config


def spec(provider: str, endpoint: str) -> TaskSpec:
    return TaskSpec(kind="complete", provider=provider, model="m", endpoint=endpoint)


@pytest.mark.parametrize("name", NAMES)
def test_make_backend_uses_the_providers_own_limits_by_default(name: str) -> None:
    config = resolve_provider(name)
    backend = make_backend(config, spec(name, "/v1/chat/completions"), "tag1", None)
    assert type(backend) is PROVIDERS[name].backend
    assert backend.limits == PROVIDERS[name].backend.LIMITS


def test_given_limits_keep_the_providers_envelope() -> None:
    given = Limits(max_requests=3, max_bytes=4096, max_embedding_inputs=7)
    openai = make_backend(resolve_provider("openai"), spec("openai", "/v1/embeddings"), "t", given)
    assert openai.limits == given
    anthropic = make_backend(
        resolve_provider("anthropic"), spec("anthropic", "/v1/messages"), "t", given
    )
    assert anthropic.limits == Limits(3, 4096, None, ANTHROPIC_LIMITS.shard_overhead)


def test_an_openai_backend_writes_its_endpoint_into_each_line() -> None:
    backend = make_backend(resolve_provider("openai"), spec("openai", "/v1/embeddings"), "t", None)
    line = backend.line("t-0", b'{"input":"x"}')
    assert (
        line == b'{"custom_id":"t-0","method":"POST","url":"/v1/embeddings","body":{"input":"x"}}'
    )


def test_every_provider_has_a_wire_format_under_its_name() -> None:
    assert set(WIRES) == set(PROVIDERS)
    for name, entry in PROVIDERS.items():
        assert entry.wire is WIRES[name]
        assert entry.wire.name == name


@pytest.mark.parametrize("name", NAMES)
def test_a_line_escapes_any_custom_id(name: str) -> None:
    endpoint = "/v1/embeddings" if name == "openai" else "/v1/messages"
    backend = make_backend(resolve_provider(name), spec(name, endpoint), "t", None)
    odd = 'a"b\\c\u00e9\n'
    line = orjson.loads(backend.line(odd, b'{"input":"x"}'))
    assert line["custom_id"] == odd
