"""Starting and stopping: serve(), loopback only, `python -m llmbatch.emulator`."""

from __future__ import annotations

import asyncio
import io
import os
import re
import signal
import subprocess
import sys

import httpx
import pytest

from llmbatch import emulator
from llmbatch.emulator import Emulator, EmulatorConfig, NotLoopbackError, serve
from llmbatch.emulator._cli import banner


def test_public_api() -> None:
    assert emulator.__all__ == [
        "ConfigError",
        "Emulator",
        "EmulatorConfig",
        "FaultRule",
        "NotLoopbackError",
        "main",
        "serve",
    ]


def test_serve_urls_and_clean_stop() -> None:
    with serve(validating_seconds=2, api_key="k") as emu:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", emu.url)
        assert emu.port > 0
        assert emu.openai_base_url == emu.url + "/v1"
        assert emu.anthropic_base_url == emu.url
        assert emu.config.validating_seconds == 2 and emu.config.api_key == "k"
        assert emu.running
        assert httpx.get(f"{emu.url}/_emulator/state").status_code == 200
        root = emu.root
    assert not emu.running
    assert not root.exists()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{emu.url}/_emulator/state")


def test_emulator_with_a_full_config() -> None:
    config = EmulatorConfig(seed=3, openai_max_requests=10)
    with Emulator(config, seed=4) as emu:
        assert emu.config.seed == 4 and emu.config.openai_max_requests == 10


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com", "::"])
def test_refuses_non_loopback_hosts(host: str) -> None:
    with pytest.raises(NotLoopbackError):
        serve(host=host)


def test_main_refuses_non_loopback(capsys: pytest.CaptureFixture[str]) -> None:
    assert emulator.main(["--host", "0.0.0.0", "--port", "0"]) == 2
    assert "loopback" in capsys.readouterr().err


def test_main_rejects_a_bad_fault(capsys: pytest.CaptureFixture[str]) -> None:
    assert emulator.main(["--port", "0", "--fault", '{"kind": "nope"}']) == 2


@pytest.mark.parametrize("port", ["99999", "-1", "http"])
def test_main_refuses_a_bad_port_as_usage(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        emulator.main(["--port", port])
    assert exit_.value.code == 2
    assert "0-65535" in capsys.readouterr().err


@pytest.mark.parametrize("fault", ["[1", "[1]", '{"kind": "429", "calls": "x"}'])
def test_main_refuses_a_malformed_fault(fault: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert emulator.main(["--port", "0", "--fault", fault]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_banner_lists_the_variables_to_export() -> None:
    text = banner("http://127.0.0.1:8787", None)
    assert "export OPENAI_BASE_URL=http://127.0.0.1:8787/v1" in text
    assert "export ANTHROPIC_BASE_URL=http://127.0.0.1:8787" in text
    assert "OPENAI_API_KEY=" in text and "ANTHROPIC_API_KEY=" in text


def test_python_m_runs_in_the_foreground() -> None:
    command = [
        sys.executable,
        "-m",
        "llmbatch.emulator",
        "--port",
        "0",
        "--validating-seconds",
        "1",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as process:
        assert process.stdout is not None
        first = process.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", first)
        assert url is not None, first
        lines = [process.stdout.readline() for _ in range(7)]
        assert any(f"export OPENAI_BASE_URL={url.group(0)}/v1" in line for line in lines)
        config = httpx.get(f"{url.group(0)}/_emulator/config").json()
        assert config["validating_seconds"] == 1
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=10)
        assert process.returncode == 0


def test_main_output_goes_to_the_given_stream() -> None:
    out = io.StringIO()
    assert emulator.main(["--host", "10.0.0.1"], out=out) == 2
    assert out.getvalue() == ""


def test_the_asgi_app_works_in_process(emu: Emulator) -> None:
    async def list_batches() -> httpx.Response:
        transport = httpx.ASGITransport(app=emu.app)
        headers = {"Authorization": "Bearer t"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://emulator", headers=headers
        ) as client:
            return await client.get("/v1/batches")

    response = asyncio.run(list_batches())
    assert response.status_code == 200
    assert response.json()["object"] == "list"
    assert emu.call_count("GET /v1/batches") == 1


def test_every_config_knob_has_a_flag() -> None:
    from llmbatch.emulator._cli import build_parser, config_from_args

    flags = "--openai-empty-file-ids --no-openai-expired-error-lines --anthropic-not-found-reads 2"
    args = build_parser().parse_args([*flags.split(), "--seed", "7"])
    config = config_from_args(args)
    assert config.openai_empty_file_ids is True
    assert config.openai_expired_error_lines is False
    assert (config.anthropic_not_found_reads, config.seed) == (2, 7)
