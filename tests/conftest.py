"""Shared fixtures: no provider keys leak in from the environment; nothing leaves loopback."""

from __future__ import annotations

import pytest

_PROVIDER_ENV = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_ORG_ID",
    "OPENAI_PROJECT_ID",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_CUSTOM_HEADERS",
    "LLMBATCH_HOME",
)


@pytest.fixture(autouse=True)
def _clean_provider_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)


# -- the emulator, shared by the client tests ------------------------------------------------
from collections.abc import Callable, Iterator  # noqa: E402
from typing import Any  # noqa: E402

import pandas as pd  # noqa: E402
import polars as pl  # noqa: E402

from llmbatch._retry import zero_wait  # noqa: E402
from llmbatch.emulator import serve  # noqa: E402


@pytest.fixture(scope="session")
def emulator() -> Iterator[Any]:
    """One loopback emulator for the session (instant timing)."""
    with serve() as emu:
        yield emu


@pytest.fixture
def emu(emulator: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[Any]:
    """The emulator, reset, with both providers' env vars pointing at it; jobs in tmp_path."""
    emulator.reset()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key")
    monkeypatch.setenv("OPENAI_BASE_URL", emulator.openai_base_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", emulator.anthropic_base_url)
    monkeypatch.setenv("LLMBATCH_HOME", str(tmp_path / "jobs"))
    with zero_wait():
        yield emulator
    emulator.reset()


@pytest.fixture(params=["pandas", "polars"])
def constructor(request: pytest.FixtureRequest) -> Callable[[dict[str, list[Any]]], Any]:
    """Build a frame of the parametrized library (the same test body runs on both)."""
    if request.param == "pandas":
        return pd.DataFrame
    return pl.DataFrame
