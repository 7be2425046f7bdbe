"""An API key never reaches the job folder, logs, exceptions or reprs; job files are user-only."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import llmbatch

SENTINEL = "sk-SENTINEL-0123456789abcdef"


def _everything_on_disk(root: Path) -> bytes:
    return b"\n".join(p.read_bytes() for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_sentinel_key_never_leaks(
    emu: Any, provider: str, monkeypatch: pytest.MonkeyPatch, caplog: Any, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    emu.configure(api_key=SENTINEL, request_error_rate=0.3)
    monkeypatch.setenv(f"{provider.upper()}_API_KEY", SENTINEL)
    route = "POST /v1/batches" if provider == "openai" else "POST /v1/messages/batches"
    emu.add_fault(kind="429", route="GET *", calls=(1,))
    emu.add_fault(kind="drop_after", route=route, calls=(1,))
    df = pd.DataFrame({"body": [f"t{i}" for i in range(8)]})
    job = df.llmbatch.complete(text="body", provider=provider)
    out = job.wait(poll_interval=0, progress=False)
    job.retry_failed()
    job.wait(poll_interval=0, progress=False)
    assert job.cleanup()
    assert job.http_stats["retries"] >= 2
    texts = [repr(job), str(job.status()), job.status()._repr_html_(), repr(job.provider)]
    texts += [str(job.provider), repr(llmbatch.load(job.path)), out.to_string()]
    # a wrong key: the error must not carry the key that was sent
    monkeypatch.setenv(f"{provider.upper()}_API_KEY", SENTINEL + "-wrong")
    with pytest.raises(llmbatch.AuthenticationError) as info:
        pd.DataFrame({"body": ["x"]}).llmbatch.complete(text="body", provider=provider)
    err = info.value
    texts += [str(err), repr(err), *getattr(err, "__notes__", []), str(err.body)]
    texts += [caplog.text, *(r.getMessage() for r in caplog.records)]
    for text in texts:
        assert SENTINEL not in text
    assert SENTINEL.encode() not in _everything_on_disk(job.path.parent)
    config = pickle.loads(pickle.dumps(llmbatch.OpenAI(api_key=SENTINEL)))
    assert SENTINEL not in repr(config) and SENTINEL not in str(vars(config))


def test_job_files_are_user_only_and_data_only(emu: Any) -> None:
    job = pd.DataFrame({"body": ["a", "b"]}).llmbatch.complete(text="body")
    job.wait(poll_interval=0, progress=False)
    for p in [job.path, *job.path.rglob("*")]:
        mode = p.stat().st_mode & 0o777
        assert mode == (0o700 if p.is_dir() else 0o600), (p, oct(mode))
        if p.is_file():
            assert p.suffix in {".json", ".jsonl", ".parquet", ".lock", ".bin"}, p  # .bin: keys


def test_loading_a_folder_runs_no_code(emu: Any, tmp_path: Path) -> None:
    job = pd.DataFrame({"body": ["a"]}).llmbatch.complete(text="body", submit=False)
    marker = tmp_path / "pwned"
    payload = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    (job.path / "job.py").write_text(payload)
    (job.path / "frame.pkl").write_bytes(pickle.dumps(payload))
    manifest = (job.path / "job.json").read_text()
    (job.path / "job.json").write_text(
        manifest.replace('"name"', '"__reduce__": "os.system", "name"', 1)
    )
    handle = llmbatch.load(job.path)
    handle.status(refresh=False)
    assert not marker.exists()


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_header_query_and_token_values_never_leak(
    emu: Any, provider: str, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    header, query, token = SENTINEL + "-header", SENTINEL + "-query", SENTINEL + "-token"
    options: dict[str, Any] = {
        "default_headers": {"X-Proxy-Token": header},
        "default_query": {"key": query},
    }
    if provider == "anthropic":
        emu.configure(api_key=token)  # the bearer token is checked against the emulator's key
        options["auth_token"] = token
    config = llmbatch.OpenAI(**options) if provider == "openai" else llmbatch.Anthropic(**options)
    route = "POST /v1/batches" if provider == "openai" else "POST /v1/messages/batches"
    emu.add_fault(kind="429", route="GET *", calls=(1,))
    emu.add_fault(kind="drop_after", route=route, calls=(1,))
    job = pd.DataFrame({"body": ["a", "b"]}).llmbatch.complete(text="body", provider=config)
    job.wait(poll_interval=0, progress=False)
    texts = [repr(job), str(job.status()), repr(config), str(vars(config)), repr(job.provider)]
    with pytest.raises(llmbatch.ConfigError) as info:
        llmbatch.load(job.path).cleanup()  # the values are not on disk
    # httpx's own INFO line shows each URL, query string included: only it may show the query
    ours = [r.getMessage() for r in caplog.records if r.name != "httpx"]
    texts += [str(info.value), *ours, caplog.text.replace(query, "")]
    for text in texts:
        assert SENTINEL not in text
    assert SENTINEL.encode() not in _everything_on_disk(job.path.parent)
    assert SENTINEL.encode() not in pickle.dumps(config)
