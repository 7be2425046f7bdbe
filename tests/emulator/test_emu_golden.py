"""Golden answers: the fake model and whole batches give the same bytes as when they were pinned.

The emulator is promised to answer the same request the same way in every version (clients
pin expectations on it), so any speed-up must keep every answer byte-identical. Each case of
:mod:`golden_samples` is reduced to a blake2b digest of its answers' JSON bytes, stored in
``data/golden_answers.json``. Whole batches are pinned too: the OpenAI output/error files and
the Anthropic results, with the random per-line ids (``batch_req_...``, ``request_id``) and
the clock-derived ``created`` masked.

Regenerate (only when an answer change is intended):
``.venv/bin/python tests/emulator/test_emu_golden.py --write``
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from golden_samples import anthropic_cases, openai_cases

from llmbatch.emulator import Emulator, serve
from llmbatch.emulator.fake_model import anthropic_answer, openai_answer

GOLDEN = Path(__file__).parent / "data" / "golden_answers.json"
_MASKS = (
    (re.compile(rb'"id":"batch_req_[0-9a-f]{32}"'), b'"id":"batch_req_X"'),
    (re.compile(rb'"request_id":"[0-9a-f]{32}"'), b'"request_id":"X"'),
    (re.compile(rb'"(created|created_at|completed_at)":\d+'), rb'"\1":0'),
)
_BATCH_ENDPOINTS = (
    "/v1/chat/completions",
    "/v1/responses",
    "/v1/completions",
    "/v1/embeddings",
)


def _bytes(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # integers beyond 64 bits
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _digest(chunks: Iterator[bytes]) -> str:
    hasher = hashlib.blake2b(digest_size=16)
    for chunk in chunks:
        hasher.update(chunk)
        hasher.update(b"\n")
    return hasher.hexdigest()


def _openai_case(url: str, bodies: list[dict[str, Any]]) -> str:
    def answers() -> Iterator[bytes]:
        for index, body in enumerate(bodies):
            yield _bytes(openai_answer(url, body, salt=f"row-{index}"))
            yield _bytes(openai_answer(url, body, created=1_800_000_000))

    return _digest(answers())


def _anthropic_case(bodies: list[dict[str, Any]]) -> str:
    return _digest(_bytes(anthropic_answer(b, salt=f"row-{i}")) for i, b in enumerate(bodies))


def model_digests() -> dict[str, str]:
    """Case name -> digest of the fake model's answers."""
    out = {name: _openai_case(url, bodies) for name, (url, bodies) in openai_cases().items()}
    out.update({name: _anthropic_case(bodies) for name, bodies in anthropic_cases().items()})
    return out


def _mask(data: bytes) -> bytes:
    for pattern, replacement in _MASKS:
        data = pattern.sub(replacement, data)
    return data


def _openai_lines(endpoint: str) -> list[bytes]:
    """Every sample body of `endpoint` as a batch input line (one model per file)."""
    cases = openai_cases().items()
    bodies = [
        body
        for name, (url, group) in cases
        if url == endpoint and not name.endswith("_invalid")
        for body in group
    ]
    model = next(b["model"] for b in bodies if isinstance(b.get("model"), str))
    lines = []
    for index, body in enumerate(bodies):
        if body.get("model", model) == model:
            line = {"custom_id": f"c{index}", "method": "POST", "url": endpoint, "body": body}
            lines.append(_bytes(line))
    extra = {**bodies[0], "unknown_field": 1}  # a 400 line (F.4)
    lines.append(_bytes({"custom_id": "bad", "method": "POST", "url": endpoint, "body": extra}))
    return lines


def _run_openai(http: httpx.Client, endpoint: str) -> bytes:
    data = b"\n".join(_openai_lines(endpoint)) + b"\n"
    upload = http.post("/v1/files", files={"file": ("in.jsonl", data)}, data={"purpose": "batch"})
    assert upload.status_code == 200, upload.text
    body = {"input_file_id": upload.json()["id"], "endpoint": endpoint, "completion_window": "24h"}
    created = http.post("/v1/batches", json=body)
    batch = http.get(f"/v1/batches/{created.json()['id']}").json()
    assert batch["status"] == "completed", batch
    out = []
    for key in ("output_file_id", "error_file_id"):
        content = http.get(f"/v1/files/{batch[key]}/content").content if batch[key] else b""
        out.append(_mask(content))
    return b"\n--\n".join(out)


def _run_anthropic(http: httpx.Client) -> bytes:
    requests = [
        {"custom_id": f"{name}-{index}", "params": params}
        for name, group in anthropic_cases().items()
        for index, params in enumerate(group)
    ]
    requests.append({"custom_id": "unknown", "params": {"model": "claude-nope", "max_tokens": 5}})
    created = http.post("/v1/messages/batches", json={"requests": requests})
    assert created.status_code == 200, created.text
    batch_id = created.json()["id"]
    assert http.get(f"/v1/messages/batches/{batch_id}").json()["processing_status"] == "ended"
    return http.get(f"/v1/messages/batches/{batch_id}/results").content


def batch_digests(emu: Emulator) -> dict[str, str]:
    """Batch name -> digest of the masked result files (seed 3, some injected line errors)."""
    emu.reset()
    emu.configure(seed=3, request_error_rate=0.2)
    out = {}
    auth = {"Authorization": "Bearer t", "x-api-key": "t", "anthropic-version": "2023-06-01"}
    with httpx.Client(base_url=emu.url, headers=auth, timeout=60) as http:
        for endpoint in _BATCH_ENDPOINTS:
            out[f"batch {endpoint}"] = _digest(iter([_run_openai(http, endpoint)]))
        out["batch anthropic"] = _digest(iter([_run_anthropic(http)]))
    emu.reset()
    return out


@pytest.fixture(scope="module")
def golden() -> dict[str, str]:
    return dict(orjson.loads(GOLDEN.read_bytes()))


def test_fake_model_answers_are_unchanged(golden: dict[str, str]) -> None:
    digests = model_digests()
    changed = sorted(name for name, value in digests.items() if golden.get(name) != value)
    assert not changed, f"fake-model answers changed for cases: {changed}"


def test_batch_result_files_are_unchanged(golden: dict[str, str], emu: Emulator) -> None:
    digests = batch_digests(emu)
    changed = sorted(name for name, value in digests.items() if golden.get(name) != value)
    assert not changed, f"batch result files changed for: {changed}"


def _write() -> None:
    with serve() as emu:
        digests = {**model_digests(), **batch_digests(emu)}
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_bytes(orjson.dumps(digests, option=orjson.OPT_INDENT_2) + b"\n")
    print(f"wrote {len(digests)} digests to {GOLDEN}")


if __name__ == "__main__" and "--write" in sys.argv:
    _write()
