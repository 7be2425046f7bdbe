"""`collect(cleanup=True)` / `wait(cleanup=True)` and the provider's `cleanup=` default: the
provider's copies are deleted once the answers are checked on disk, and only then."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import llmbatch
from llmbatch import Limits
from llmbatch.cli import main

PROVIDERS = ["openai", "anthropic"]
DELETE = {"openai": "DELETE /v1/files/*", "anthropic": "DELETE /v1/messages/batches/*"}
DOWNLOAD = {
    "openai": "GET /v1/files/*/content",
    "anthropic": "GET /v1/messages/batches/*/results",
}
CONFIGS = {"openai": llmbatch.OpenAI, "anthropic": llmbatch.Anthropic}


def _frame(n: int = 4) -> pd.DataFrame:
    return pd.DataFrame({"doc_id": list(range(n)), "body": [f"text {i}" for i in range(n)]})


def _job(provider: Any, **kw: Any) -> llmbatch.BatchHandle:
    return _frame(kw.pop("n", 4)).llmbatch.complete(text="body", provider=provider, **kw)


def _wait(job: llmbatch.BatchHandle, **kw: Any) -> pd.DataFrame:
    return job.wait(poll_interval=0, progress=False, **kw)


def _remote(emu: Any, provider: str) -> list[dict[str, Any]]:
    """What the provider still holds: OpenAI's files, Anthropic's batches."""
    return list(emu.state()[provider]["files" if provider == "openai" else "batches"])


def _states(job: llmbatch.BatchHandle) -> list[str]:
    return [s["state"] for s in llmbatch.load(job.path).shards]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_wait_cleanup_deletes_the_copies_and_collect_still_reads_the_folder(
    emu: Any, provider: str
) -> None:
    job = _job(provider)
    assert _remote(emu, provider)
    out = _wait(job, cleanup=True)
    assert not out[".error"].any()
    assert _remote(emu, provider) == []
    assert _states(job) == ["cleaned"]
    pd.testing.assert_frame_equal(job.collect(), out)
    pd.testing.assert_frame_equal(llmbatch.load(job.path).collect(), out)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_provider_default_cleans_and_false_overrides_it(emu: Any, provider: str) -> None:
    config = CONFIGS[provider](cleanup=True)
    assert "cleanup=True" in repr(config)
    job = _job(config)
    kept = _wait(job, cleanup=False)
    assert _remote(emu, provider) and emu.call_count(DELETE[provider]) == 0
    pd.testing.assert_frame_equal(job.collect(), kept)  # None: the provider's default
    assert _remote(emu, provider) == []


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_reopened_job_keeps_the_providers_default(emu: Any, provider: str) -> None:
    job = _job(CONFIGS[provider](cleanup=True))
    assert job.manifest.provider["cleanup"] is True
    again = llmbatch.load(job.path)
    assert again.provider.cleanup is True
    _wait(again)
    assert _remote(emu, provider) == []


def test_the_default_is_off_and_not_recorded(emu: Any) -> None:
    job = _job("openai")
    assert "cleanup" not in job.manifest.provider
    assert llmbatch.OpenAI().cleanup is False
    _wait(job)
    assert _remote(emu, "openai") and emu.call_count(DELETE["openai"]) == 0


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_partial_collect_before_the_end_keeps_the_copies(emu: Any, provider: str) -> None:
    emu.configure(validating_seconds=30)
    job = _job(provider)
    out = job.collect(partial=True, cleanup=True)
    assert out[".error"].all() and len(out) == 4
    assert emu.call_count(DELETE[provider]) == 0 and _remote(emu, provider)
    emu.advance(3600)
    assert not _wait(job, cleanup=True)[".error"].any()
    assert _remote(emu, provider) == []


def test_a_partial_collect_after_the_end_cleans(emu: Any) -> None:
    job = _job("openai")
    _wait(job, cleanup=False)
    assert not job.collect(partial=True, cleanup=True)[".error"].any()
    assert _remote(emu, "openai") == []


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_download_that_fails_its_check_is_never_cleaned(emu: Any, provider: str) -> None:
    emu.add_fault(kind="html", route=DOWNLOAD[provider], every=1)
    job = _job(provider)
    with pytest.raises(llmbatch.ResultsIntegrityError):
        _wait(job, cleanup=True)
    assert emu.call_count(DELETE[provider]) == 0 and _remote(emu, provider)
    assert _states(job) == ["ended"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_failed_delete_returns_the_frame_and_warns(
    emu: Any, provider: str, caplog: pytest.LogCaptureFixture
) -> None:
    emu.add_fault(kind="500", route=DELETE[provider], every=1)
    job = _job(provider)
    with caplog.at_level(logging.WARNING, logger="llmbatch"):
        out = _wait(job, cleanup=True)
    assert not out[".error"].any() and len(out) == 4
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "job.cleanup()" in warned[0] and str(job.path) in warned[0]
    assert _states(job) == ["downloaded"]  # nothing is marked cleaned that was not
    emu.clear_faults()
    assert job.cleanup()
    assert _remote(emu, provider) == []


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_delete_failing_midway_marks_only_the_shards_really_cleaned(
    emu: Any, provider: str, caplog: pytest.LogCaptureFixture
) -> None:
    first_shard = 2 if provider == "openai" else 1  # OpenAI: its input and output files
    emu.add_fault(kind="500", route=DELETE[provider], calls=tuple(range(first_shard + 1, 60)))
    job = _job(provider, limits=Limits(2, 10**9))
    with caplog.at_level(logging.WARNING, logger="llmbatch"):
        out = _wait(job, cleanup=True)
    assert not out[".error"].any() and len(out) == 4
    assert _states(job) == ["cleaned", "downloaded"]
    assert "job.cleanup()" in caplog.text
    emu.clear_faults()
    job.cleanup()
    assert _states(job) == ["cleaned", "cleaned"] and _remote(emu, provider) == []


def test_collect_to_parquet_cleans_after_writing(emu: Any, tmp_path: Path) -> None:
    job = _job("openai")
    _wait(job, cleanup=False)
    path = job.collect(to=tmp_path / "out.parquet", cleanup=True)
    assert len(pd.read_parquet(path)) == 4
    assert _remote(emu, "openai") == []


def test_a_sync_job_has_nothing_remote_to_clean(emu: Any) -> None:
    job = _job(llmbatch.OpenAI(cleanup=True), mode="sync")
    out = _wait(job, cleanup=True)
    assert not out[".error"].any()
    assert _states(job) == ["downloaded"]  # untouched: there is nothing to delete
    assert emu.call_count(DELETE["openai"]) == 0


def test_a_bad_cleanup_value_is_refused_before_anything(emu: Any) -> None:
    with pytest.raises(llmbatch.ConfigError, match="cleanup must be True or False"):
        llmbatch.OpenAI(cleanup="no")  # type: ignore[arg-type]
    job = _job("openai")
    calls = emu.call_count()
    with pytest.raises(llmbatch.InputError, match="cleanup must be True, False or None"):
        job.wait(poll_interval=0, progress=False, cleanup="yes")  # type: ignore[arg-type]
    assert emu.call_count() == calls


def test_a_tampered_folder_value_is_not_taken_as_true() -> None:
    recorded = {"name": "openai", "base_url": "http://127.0.0.1:9/v1", "cleanup": "yes"}
    assert llmbatch.OpenAI.from_manifest(recorded).cleanup is False


# -- the command line ---------------------------------------------------------------------
def _cli(capsys: pytest.CaptureFixture[str], *argv: Any) -> int:
    code = main([str(a) for a in argv])
    capsys.readouterr()
    return code


def test_cli_wait_and_collect_take_cleanup(
    emu: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    job = _job(llmbatch.OpenAI(cleanup=True))
    assert _cli(capsys, "wait", job.path, "--poll-interval", 0, "--no-cleanup") == 0
    assert _remote(emu, "openai")
    assert _cli(capsys, "collect", job.path, "-o", tmp_path / "out.parquet", "--cleanup") == 0
    assert _remote(emu, "openai") == []
    other = _job("anthropic")
    assert _cli(capsys, "wait", other.path, "--poll-interval", 0, "--cleanup") == 0
    assert _remote(emu, "anthropic") == []


def test_a_cleaned_job_still_retries_its_failed_rows(emu: Any) -> None:
    emu.configure(request_error_rate=0.5)
    job = _job("openai", n=12)
    first = _wait(job, cleanup=True)
    assert first[".error"].any() and _remote(emu, "openai") == []
    emu.configure(request_error_rate=0.0)
    again = job.retry_failed().wait(poll_interval=0, progress=False, cleanup=True)
    assert not again[".error"].any()
    assert set(_states(job)) == {"cleaned"} and _remote(emu, "openai") == []
