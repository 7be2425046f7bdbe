"""A loopback emulator of the OpenAI Files + Batches and Anthropic Message Batches APIs.

It ships with llmbatch so that pipelines can be run, demonstrated and tested offline, with no
key and no cost; it is strict (it rejects what the real services reject) and shares no code
with llmbatch's client, so each checks the other. Answers come from a deterministic, synthetic
fake model. See docs/emulator.md.

    with llmbatch.emulator.serve() as emu:
        client = openai.OpenAI(api_key="test", base_url=emu.openai_base_url)
"""

from __future__ import annotations

from llmbatch.emulator._cli import main
from llmbatch.emulator.config import ConfigError, EmulatorConfig, FaultRule
from llmbatch.emulator.server import Emulator, NotLoopbackError, serve

__all__ = [
    "ConfigError",
    "Emulator",
    "EmulatorConfig",
    "FaultRule",
    "NotLoopbackError",
    "main",
    "serve",
]
