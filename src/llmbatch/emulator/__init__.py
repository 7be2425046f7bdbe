"""A loopback emulator of the OpenAI Files + Batches and Anthropic Message Batches APIs.

It ships with llmbatch so that pipelines can be run, demonstrated and tested offline, with no
key and no cost; it is strict (it rejects what the real services reject) and shares no code
with llmbatch's client, so each checks the other. Answers come from a deterministic, synthetic
fake model. See docs/emulator.md.

    with llmbatch.emulator.serve() as emu:
        client = openai.OpenAI(api_key="test", base_url=emu.openai_base_url)

The HTTP server needs the `emulator` extra (`pip install 'llmbatch[emulator]'`): without it,
`serve`, `Emulator` and the command refuse with an ImportError that names the extra.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmbatch.emulator._cli import main, require_server
from llmbatch.emulator.config import ConfigError, EmulatorConfig, FaultRule

if TYPE_CHECKING:
    from llmbatch.emulator.server import Emulator, NotLoopbackError, serve

_SERVER_NAMES = ("Emulator", "NotLoopbackError", "serve")

__all__ = [
    "ConfigError",
    "Emulator",
    "EmulatorConfig",
    "FaultRule",
    "NotLoopbackError",
    "main",
    "serve",
]


def __getattr__(name: str) -> Any:
    """The server's names, imported on first use once the extra is known to be there."""
    if name not in _SERVER_NAMES:
        msg = f"module 'llmbatch.emulator' has no attribute {name!r}"
        raise AttributeError(msg)
    require_server()
    from llmbatch.emulator import server

    return getattr(server, name)
