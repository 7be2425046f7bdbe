"""Fixtures for the emulator tests: one server per module, reset before every test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest
from emulator_helpers import jsonl

from llmbatch.emulator import Emulator, serve


@pytest.fixture(scope="module")
def server() -> Iterator[Emulator]:
    with serve() as emu:
        yield emu


@pytest.fixture
def emu(server: Emulator) -> Iterator[Emulator]:
    """A running emulator with no files, batches, calls or faults."""
    server.reset()
    yield server
    server.reset()


@pytest.fixture
def http(emu: Emulator) -> Iterator[httpx.Client]:
    """A plain httpx client on the emulator, with OpenAI auth."""
    with httpx.Client(base_url=emu.url, headers={"Authorization": "Bearer test"}) as client:
        yield client


@pytest.fixture
def ahttp(emu: Emulator) -> Iterator[httpx.Client]:
    """A plain httpx client on the emulator, with Anthropic auth."""
    headers = {"x-api-key": "test", "anthropic-version": "2023-06-01"}
    with httpx.Client(base_url=emu.url, headers=headers) as client:
        yield client


@pytest.fixture
def upload(http: httpx.Client) -> Callable[..., str]:
    """Upload JSONL lines (or raw bytes) as a batch input file; returns the file id."""

    def _upload(
        lines: list[object] | bytes, filename: str = "in.jsonl", purpose: str = "batch"
    ) -> str:
        data = lines if isinstance(lines, bytes) else jsonl(lines)
        form = {"purpose": purpose}
        response = http.post("/v1/files", files={"file": (filename, data)}, data=form)
        assert response.status_code == 200, response.text
        return str(response.json()["id"])

    return _upload


@pytest.fixture
def run_batch(http: httpx.Client, upload: Callable[..., str]) -> Callable[..., dict[str, Any]]:
    """Upload lines, create a batch, and return the batch as the next GET sees it."""

    def _run(lines: list[object] | bytes, endpoint: str = "/v1/chat/completions") -> dict[str, Any]:
        file_id = upload(lines)
        body = {"input_file_id": file_id, "endpoint": endpoint, "completion_window": "24h"}
        created = http.post("/v1/batches", json=body)
        assert created.status_code == 200, created.text
        assert created.json()["status"] == "validating"
        return dict(http.get(f"/v1/batches/{created.json()['id']}").json())

    return _run


@pytest.fixture
def file_lines(http: httpx.Client) -> Callable[[str | None], list[dict[str, Any]]]:
    """The parsed JSONL lines of an OpenAI file ([] for None)."""

    def _lines(file_id: str | None) -> list[dict[str, Any]]:
        if file_id is None:
            return []
        response = http.get(f"/v1/files/{file_id}/content")
        assert response.status_code == 200, response.text
        return [orjson.loads(line) for line in response.content.splitlines()]

    return _lines
