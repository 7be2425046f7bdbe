"""A pytest plugin for your own tests: the `llmbatch_emulator` fixture, an offline provider.

Installed with llmbatch (entry point `pytest11`), the way moto serves AWS tests: a test that asks
for `llmbatch_emulator` runs against a loopback emulator of both providers' Batch APIs, with
`OPENAI_BASE_URL`, `ANTHROPIC_BASE_URL`, dummy keys and `LLMBATCH_HOME` (a tmp folder) set for
that test only, instant batches and zero-wait retries. The fixture *is* the emulator, so its
control plane is at hand: `add_fault`, `configure`, `clear_faults`, `advance`, `request_log`,
`call_count`, `state`.

    def test_my_pipeline(llmbatch_emulator):
        llmbatch_emulator.add_fault(kind="500", route="POST /v1/batches", calls=[1])
        ...

    @pytest.mark.llmbatch_emulator(request_error_rate=0.5, seed=3)
    def test_half_the_rows_fail():
        ...

pytest imports this module in every session, so it stays cheap: the emulator (and its server
packages, the `emulator` extra) is imported only when a test uses it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from llmbatch._retry import zero_wait  # stdlib only: cheap

if TYPE_CHECKING:
    from llmbatch.emulator import Emulator

__all__ = ["llmbatch_emulator", "llmbatch_emulator_server"]

MARKER = "llmbatch_emulator"
DUMMY_KEY = "sk-llmbatch-emulator"
# Credentials a real environment may hold; a test must never send them anywhere.
_CLEARED_ENV = ("ANTHROPIC_AUTH_TOKEN", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID")


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker, so suites run with `--strict-markers` accept it."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**knobs): run the test against the llmbatch emulator, with these "
        "EmulatorConfig knobs (e.g. validating_seconds=60, request_error_rate=0.2, seed=1)",
    )


def _start_server() -> Emulator:
    """A loopback emulator on a free port; fails the test naming the extra when it is missing."""
    try:
        from llmbatch.emulator import serve
    except ImportError as exc:
        problem = str(exc)  # failed outside the handler: no "during handling" chain
    else:
        return serve()
    pytest.fail(f"the llmbatch_emulator fixture cannot start: {problem}", pytrace=False)


@pytest.fixture(scope="session")
def llmbatch_emulator_server() -> Iterator[Emulator]:
    """One emulator server for the session; `llmbatch_emulator` resets it around each test."""
    server = _start_server()
    try:
        yield server
    finally:
        server.stop()


def _marker_knobs(node: pytest.Item) -> dict[str, Any]:
    """The knobs of every `llmbatch_emulator` marker on the test; the closest one wins."""
    knobs: dict[str, Any] = {}
    for mark in reversed(list(node.iter_markers(MARKER))):
        if mark.args:
            msg = (
                f"@pytest.mark.{MARKER} takes knobs by name only, got {mark.args!r}\n"
                f"Hint: @pytest.mark.{MARKER}(validating_seconds=60)."
            )
            pytest.fail(msg, pytrace=False)
        knobs.update(mark.kwargs)
    return knobs


def _configure(emulator: Emulator, knobs: dict[str, Any]) -> None:
    """Apply the marker's knobs; an unknown or bad knob fails the test, naming it."""
    from llmbatch.emulator import ConfigError, EmulatorConfig

    try:
        emulator.configure(**knobs)
    except ConfigError as exc:
        problem = str(exc)
    else:
        return
    known = ", ".join(EmulatorConfig.__dataclass_fields__)
    msg = f"@pytest.mark.{MARKER}: {problem}\nHint: the knobs are EmulatorConfig's fields: {known}."
    pytest.fail(msg, pytrace=False)


def _point_env(monkeypatch: pytest.MonkeyPatch, emulator: Emulator, home: Path) -> None:
    """Both providers' variables at the emulator, keys it accepts, jobs under `home`; undone
    after. The keys are the `api_key` knob when one is set, else a dummy."""
    key = emulator.config.api_key or DUMMY_KEY
    monkeypatch.setenv("OPENAI_BASE_URL", emulator.openai_base_url)
    monkeypatch.setenv("OPENAI_API_KEY", key)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", emulator.anthropic_base_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", key)
    monkeypatch.setenv("LLMBATCH_HOME", str(home))
    monkeypatch.setenv("LLMBATCH_RETRY_ZERO_WAIT", "1")  # also in processes the test starts
    for name in _CLEARED_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def llmbatch_emulator(
    llmbatch_emulator_server: Emulator,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Emulator]:
    """The llmbatch emulator for one test, reset before and after, with the environment at it.

    Batches finish instantly and retries do not sleep; knobs come from the
    `@pytest.mark.llmbatch_emulator(**knobs)` marker or `llmbatch_emulator.configure(...)`.
    Move emulator time with `advance(seconds)` instead of sleeping.
    """
    emulator = llmbatch_emulator_server
    emulator.reset()
    _configure(emulator, _marker_knobs(request.node))
    _point_env(monkeypatch, emulator, tmp_path_factory.mktemp("llmbatch-home"))
    try:
        with zero_wait():
            yield emulator
    finally:
        emulator.reset()


@pytest.fixture(autouse=True)
def _llmbatch_emulator_from_marker(request: pytest.FixtureRequest) -> None:
    """A test marked `llmbatch_emulator` gets the emulator even if it does not ask for it."""
    if request.node.get_closest_marker(MARKER) is not None:
        request.getfixturevalue("llmbatch_emulator")
