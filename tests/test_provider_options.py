"""The official SDKs' client options on llmbatch.OpenAI / llmbatch.Anthropic, seen by the emulator.

default_headers / default_query reach every call (Files, Batches, downloads, realtime calls);
the job folder keeps their names only; max_retries maps onto the RetryPolicy; timeout takes a
float or an httpx.Timeout; Anthropic takes a bearer auth_token like its SDK.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import httpx
import orjson
import pandas as pd
import pytest

import llmbatch
from llmbatch import ConfigError, RetryPolicy

TOKEN = "tok-HEADER-SECRET-0123456789"
QUERY = "q-QUERY-SECRET-0123456789"
BEARER = "tok-BEARER-SECRET-0123456789"
HEADERS = {"X-Team": "team-7", "X-Proxy-Token": TOKEN}
QUERY_PARAMS = {"api-version": "2099-01-01", "sig": QUERY}
# the calls a batch job makes, per provider: create, upload, retrieve, download
BATCH_ROUTES = {
    "openai": {
        "POST /v1/files",
        "POST /v1/batches",
        "GET /v1/batches/{batch_id}",
        "GET /v1/files/{file_id}/content",
    },
    "anthropic": {
        "POST /v1/messages/batches",
        "GET /v1/messages/batches/{batch_id}",
        "GET /v1/messages/batches/{batch_id}/results",
    },
}
REALTIME_ROUTES = {"openai": "POST /v1/chat/completions", "anthropic": "POST /v1/messages"}


def make(provider: str, **options: Any) -> llmbatch.OpenAI | llmbatch.Anthropic:
    cls = llmbatch.OpenAI if provider == "openai" else llmbatch.Anthropic
    return cls(**options)


def with_options(provider: str) -> llmbatch.OpenAI | llmbatch.Anthropic:
    return make(provider, default_headers=HEADERS, default_query=QUERY_PARAMS)


def frame(n: int = 4) -> pd.DataFrame:
    return pd.DataFrame({"body": [f"text {i}" for i in range(n)]})


def everything_on_disk(root: Path) -> bytes:
    return b"\n".join(p.read_bytes() for p in root.rglob("*") if p.is_file())


def assert_options_reached(entries: list[dict[str, Any]]) -> None:
    assert entries
    for entry in entries:
        assert entry["headers"]["x-team"] == "team-7", entry["route"]
        assert entry["headers"]["x-proxy-token"] == TOKEN, entry["route"]
        assert entry["query"] == QUERY_PARAMS, entry["route"]


# -- headers and query reach every call -----------------------------------------------------------


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_headers_and_query_reach_every_batch_call(emu: Any, provider: str) -> None:
    job = frame().llmbatch.complete(text="body", provider=with_options(provider))
    out = job.wait(poll_interval=0, progress=False)
    assert not out[".error"].any()
    assert BATCH_ROUTES[provider] <= {entry["route"] for entry in emu.request_log}
    assert_options_reached(emu.request_log)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_headers_and_query_reach_realtime_calls(emu: Any, provider: str) -> None:
    job = frame().llmbatch.complete(text="body", provider=with_options(provider), mode="sync")
    assert not job.wait(poll_interval=0, progress=False)[".error"].any()
    realtime = [e for e in emu.request_log if e["route"] == REALTIME_ROUTES[provider]]
    assert len(realtime) == 4
    assert_options_reached(emu.request_log)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_default_header_replaces_ours_without_case(emu: Any, provider: str) -> None:
    options = {"default_headers": {"user-agent": "my-app/1", "X-Team": "a"}}
    with make(provider, **options).client() as client:
        list(client.iter_batches())
    [entry] = emu.request_log
    assert entry["headers"]["user-agent"] == "my-app/1"


@pytest.mark.parametrize(
    ("provider", "header", "sent"),
    [
        ("openai", "Authorization", "Bearer proxy-credential"),
        ("openai", "api-key", "azure-style-key"),
        ("anthropic", "X-Api-Key", "proxy-credential"),
        ("anthropic", "authorization", "Bearer proxy-credential"),
    ],
)
def test_an_auth_default_header_replaces_the_key(
    emu: Any, monkeypatch: pytest.MonkeyPatch, provider: str, header: str, sent: str
) -> None:
    monkeypatch.delenv(f"{provider.upper()}_API_KEY")
    config = make(provider, default_headers={header: sent})
    assert config.resolve_api_key() == sent  # a stand-in for the key: creating a job works
    with config.client() as client:
        if header == "api-key":  # Azure reads it; the emulator, like OpenAI, answers 401
            with pytest.raises(llmbatch.AuthenticationError):
                client.list_batches()
        else:
            client.list_batches()
    [entry] = emu.request_log
    assert entry["headers"][header.lower()] == sent
    others = {"authorization", "x-api-key", "api-key"} - {header.lower()}
    assert not others & set(entry["headers"]), "the key must not be sent beside it"


def test_anthropic_custom_headers_env(emu: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_CUSTOM_HEADERS", "X-Team: from-env\nX-Env-Only: yes\nnonsense")
    config = llmbatch.Anthropic(default_headers={"x-team": "argument"})
    with config.client() as client:
        list(client.iter_batches())
    headers = emu.request_log[-1]["headers"]
    assert (headers["x-team"], headers["x-env-only"]) == ("argument", "yes")
    assert config.to_manifest()["default_headers"] == ["X-Env-Only", "x-team"]


# -- the job folder keeps names, never values -----------------------------------------------------


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_the_job_folder_holds_names_never_values(emu: Any, provider: str) -> None:
    job = frame().llmbatch.complete(text="body", provider=with_options(provider))
    job.wait(poll_interval=0, progress=False)
    on_disk = everything_on_disk(job.path.parent)
    for secret in (TOKEN, QUERY, "team-7", "2099-01-01"):
        assert secret.encode() not in on_disk
    recorded = orjson.loads((job.path / "job.json").read_bytes())["provider"]
    assert recorded["default_headers"] == ["X-Proxy-Token", "X-Team"]
    assert recorded["default_query"] == ["api-version", "sig"]


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_reopened_job_asks_for_the_values_before_any_call(emu: Any, provider: str) -> None:
    config = with_options(provider)
    job = frame().llmbatch.complete(text="body", provider=config)
    reopened = llmbatch.load(job.path)
    assert reopened.status(refresh=False).n_rows == 4  # what is on disk needs no values
    calls = emu.call_count()
    with pytest.raises(ConfigError) as info:
        reopened.wait(poll_interval=0, progress=False)
    text = str(info.value)
    assert "['X-Proxy-Token', 'X-Team']" in text and "provider=" in text
    assert text.splitlines()[-1].startswith("Hint:") and TOKEN not in text
    assert emu.call_count() == calls
    again = llmbatch.load(job.path, provider=config)
    assert not again.wait(poll_interval=0, progress=False)[".error"].any()
    assert_options_reached(emu.request_log)


def test_a_reopened_anthropic_job_takes_headers_from_the_env(
    emu: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = llmbatch.Anthropic(default_headers={"X-Proxy-Token": TOKEN})
    job = frame().llmbatch.complete(text="body", provider=config)
    monkeypatch.setenv("ANTHROPIC_CUSTOM_HEADERS", f"x-proxy-token: {TOKEN}")  # any case
    assert not llmbatch.load(job.path).wait(poll_interval=0, progress=False)[".error"].any()
    assert all(e["headers"]["x-proxy-token"] == TOKEN for e in emu.request_log)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_reprs_and_pickles_hide_values(provider: str) -> None:
    config = make(provider, default_headers=HEADERS, default_query=QUERY_PARAMS, api_key=TOKEN)
    texts = [repr(config), str(config), repr(vars(config)), str(config.to_manifest())]
    for text in texts:
        assert TOKEN not in text and QUERY not in text and "team-7" not in text
    assert "default_headers=['X-Proxy-Token', 'X-Team']" in repr(config)
    data = pickle.dumps(config)
    assert TOKEN.encode() not in data and QUERY.encode() not in data
    restored = pickle.loads(data)
    assert restored == config
    with pytest.raises(ConfigError, match="default_headers"):
        restored.headers()


# -- max_retries and timeout ----------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize(("max_retries", "calls"), [(0, 1), (1, 2), (2, 3)])
def test_max_retries_counts_retries(emu: Any, provider: str, max_retries: int, calls: int) -> None:
    route = "GET /v1/batches" if provider == "openai" else "GET /v1/messages/batches"
    emu.add_fault(kind="500", route=route, calls=(1, 2))
    config = make(provider, max_retries=max_retries)
    assert config.retry == RetryPolicy(max_retries=max_retries)
    with config.client() as client:
        if max_retries < 2:
            with pytest.raises(llmbatch.ServerError):
                client.list_batches()
        else:
            client.list_batches()
    assert emu.call_count(route) == calls


def test_retry_and_max_retries_must_agree(emu: Any) -> None:
    with pytest.raises(ConfigError, match="disagrees"):
        frame().llmbatch.complete(
            text="body", provider=llmbatch.OpenAI(retry=RetryPolicy(max_retries=3), max_retries=2)
        )
    assert emu.call_count() == 0
    policy = RetryPolicy(max_retries=3, deadline=60.0)
    assert llmbatch.Anthropic(retry=policy, max_retries=3).retry is policy
    assert llmbatch.Anthropic(max_retries=4).max_retries == 4


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize(
    ("short", "long"),
    [(0.2, 30), (httpx.Timeout(0.2, connect=5.0), httpx.Timeout(30.0, connect=5.0))],
)
def test_timeout_float_or_httpx_timeout(emu: Any, provider: str, short: Any, long: Any) -> None:
    route = "GET /v1/batches" if provider == "openai" else "GET /v1/messages/batches"
    emu.add_fault(kind="slow", route=route, calls=(1,), delay=3.0)
    emu.add_fault(kind="slow", route=route, calls=(2,), delay=0.5)
    config = make(provider, timeout=short, max_retries=0)
    assert config.timeout == short
    with config.client() as client, pytest.raises(llmbatch.APITimeoutError):
        client.list_batches()
    with make(provider, timeout=long, max_retries=0).client() as client:
        client.list_batches()  # a slow answer within the timeout is read
    assert emu.call_count(route) == 2


def test_a_retry_deadline_clips_an_httpx_timeout(emu: Any) -> None:
    emu.add_fault(kind="slow", route="GET /v1/batches", calls=(1,), delay=3.0)
    policy = RetryPolicy(deadline=0.3)
    config = llmbatch.OpenAI(timeout=httpx.Timeout(60.0, connect=5.0), retry=policy)
    with config.client() as client, pytest.raises(llmbatch.APITimeoutError):
        client.list_batches()


@pytest.mark.parametrize(
    "options",
    [
        {"max_retries": -1},
        {"max_retries": True},
        {"max_retries": 1.5},
        {"retry": 3},
        {"timeout": None},
        {"timeout": httpx.Timeout(None)},
        {"timeout": 0},
        {"default_headers": {"X-A": 1}},
        {"default_headers": {"X-A": "1", "x-a": "2"}},
        {"default_headers": ["X-A"]},
        {"default_query": {"flag": True}},
        {"default_query": {"": "x"}},
    ],
)
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_bad_options_are_refused_with_a_hint(provider: str, options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as info:
        make(provider, **options)
    assert str(info.value).splitlines()[-1].startswith("Hint:")


# -- Anthropic's bearer auth_token ----------------------------------------------------------------


def test_auth_token_argument_is_sent_as_bearer(emu: Any) -> None:
    emu.configure(api_key=BEARER)  # the emulator checks the bearer token against its key
    config = llmbatch.Anthropic(auth_token=BEARER)  # ANTHROPIC_API_KEY is set: not read
    assert repr(config).endswith("auth_token=<set>)") and BEARER not in repr(config)
    job = frame().llmbatch.complete(text="body", provider=config)
    assert not job.wait(poll_interval=0, progress=False)[".error"].any()
    for entry in emu.request_log:
        assert entry["headers"]["authorization"] == f"Bearer {BEARER}"
        assert "x-api-key" not in entry["headers"]
    assert BEARER.encode() not in everything_on_disk(job.path.parent)


def test_auth_token_from_the_environment(emu: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", BEARER)
    config = llmbatch.Anthropic()
    assert repr(config).endswith("auth_token=<from ANTHROPIC_AUTH_TOKEN>)")
    assert config.resolve_api_key() == BEARER
    job = frame().llmbatch.complete(text="body", provider="anthropic")
    job.wait(poll_interval=0, progress=False)
    assert llmbatch.load(job.path).status().state == "ended"  # a reopened job reads it too
    assert {e["headers"]["authorization"] for e in emu.request_log} == {f"Bearer {BEARER}"}


def test_api_key_and_auth_token_as_the_sdk_does(emu: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="at most one"):
        llmbatch.Anthropic(api_key="a", auth_token="b")
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", BEARER)  # beside ANTHROPIC_API_KEY: the key wins
    with llmbatch.Anthropic().client() as client:  # and a warning is logged, once a process
        list(client.iter_batches())
    headers = emu.request_log[-1]["headers"]
    assert headers["x-api-key"] == "sk-ant-test-key" and "authorization" not in headers
    with llmbatch.Anthropic(api_key="sk-ant-test-key").client() as client:
        list(client.iter_batches())  # an explicit key: the token's variable is not read
    assert "authorization" not in emu.request_log[-1]["headers"]


def test_missing_credential_names_both_ways() -> None:
    with pytest.raises(ConfigError) as info:
        llmbatch.Anthropic().client()
    text = str(info.value)
    assert "ANTHROPIC_API_KEY" in text and "ANTHROPIC_AUTH_TOKEN" in text
