"""Scale: a 50,000-request batch end to end, and a 200 MB upload without copies in memory."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import httpx
import orjson
import pytest

from llmbatch.emulator import Emulator

CREATE = {"endpoint": "/v1/chat/completions", "completion_window": "24h"}


def _line(index: int, text: str) -> bytes:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}
    line = {"custom_id": f"r{index}", "method": "POST", "url": CREATE["endpoint"], "body": body}
    return orjson.dumps(line) + b"\n"


@pytest.mark.slow
def test_50k_requests_full_cycle(emu: Emulator) -> None:
    data = b"".join(_line(i, f"Review {i}: arrived late, works fine.") for i in range(50_000))
    headers = {"Authorization": "Bearer t"}
    with httpx.Client(base_url=emu.url, headers=headers, timeout=120) as http:
        upload = http.post(
            "/v1/files", files={"file": ("big.jsonl", data)}, data={"purpose": "batch"}
        )
        created = http.post("/v1/batches", json={"input_file_id": upload.json()["id"], **CREATE})
        batch = http.get(f"/v1/batches/{created.json()['id']}").json()
        assert batch["status"] == "completed"
        assert batch["request_counts"] == {"total": 50_000, "completed": 50_000, "failed": 0}
        output = http.get(f"/v1/files/{batch['output_file_id']}/content").content
    lines = output.splitlines()
    assert len(lines) == 50_000
    assert len({orjson.loads(line)["custom_id"] for line in lines}) == 50_000


@pytest.mark.slow
def test_200mb_upload_is_streamed_to_disk(emu: Emulator, tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    text = "x" * 41_500  # ~41.5 KB per line, 5,000 lines: just under 200 MiB
    with path.open("wb") as handle:
        for i in range(5_000):
            handle.write(_line(i, f"{i} {text}"))
    size = path.stat().st_size
    assert 195 * 1024 * 1024 < size <= 200 * 1024 * 1024  # the real per-batch limit
    headers = {"Authorization": "Bearer t"}
    with httpx.Client(base_url=emu.url, headers=headers, timeout=120) as http:
        tracemalloc.start()
        try:
            with path.open("rb") as handle:
                form = {"purpose": "batch"}
                upload = http.post("/v1/files", files={"file": ("big.jsonl", handle)}, data=form)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert upload.status_code == 200, upload.text
        assert upload.json()["bytes"] == size
        assert peak < 32 * 1024 * 1024  # client and server together: no copy of the file
        created = http.post("/v1/batches", json={"input_file_id": upload.json()["id"], **CREATE})
        batch = http.get(f"/v1/batches/{created.json()['id']}").json()
        assert batch["status"] == "completed", batch["errors"]
        assert batch["request_counts"]["completed"] == 5_000
        with http.stream("GET", f"/v1/files/{upload.json()['id']}/content") as streamed:
            assert streamed.headers["content-type"] == "application/octet-stream"
            assert sum(len(chunk) for chunk in streamed.iter_bytes()) == size
