"""Provider configs (env defaults, validation, secrets) and the two clients over MockTransport."""

from __future__ import annotations

import copy
import logging
import pickle
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from llmbatch._exceptions import (
    AuthenticationError,
    ConfigError,
    InputError,
    JobNotReady,
    NotFoundError,
    ProviderError,
)
from llmbatch._retry import RetryPolicy, zero_wait
from llmbatch.providers import (
    Anthropic,
    AnthropicClient,
    OpenAI,
    OpenAIClient,
    provider_from_manifest,
    resolve_provider,
)

KEY = "sk-SENTINEL-123"
OPENAI_BASE = "http://127.0.0.1:9/v1"
ANTHROPIC_BASE = "http://127.0.0.1:9"


@pytest.fixture(autouse=True)
def _zero_wait() -> Iterator[None]:
    with zero_wait():
        yield


class Router:
    """A MockTransport handler: replies per (method, path), records every request."""

    def __init__(self, routes: dict[tuple[str, str], Any]) -> None:
        self.routes = {k: v if isinstance(v, list) else [v] for k, v in routes.items()}
        self.requests: list[httpx.Request] = []
        self.bodies: list[bytes] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(request.read())
        self.requests.append(request)
        replies = self.routes.get((request.method, request.url.path))
        if replies is None:
            return httpx.Response(404, json={"error": {"message": "no route", "type": "x"}})
        reply = replies.pop(0) if len(replies) > 1 else replies[0]
        if callable(reply):
            reply = reply(request)
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, httpx.Response):
            return reply
        return httpx.Response(200, json=reply)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def openai_client(router: Router, **kwargs: Any) -> OpenAIClient:
    config = OpenAI(api_key=KEY, base_url=OPENAI_BASE, **kwargs)
    return config.client(transport=router.transport())


def anthropic_client(router: Router) -> AnthropicClient:
    config = Anthropic(api_key=KEY, base_url=ANTHROPIC_BASE)
    return config.client(transport=router.transport())


# -- configs: env defaults and validation ---------------------------------------------------------


def test_openai_defaults() -> None:
    config = OpenAI()
    assert config.base_url == "https://api.openai.com/v1"
    assert config.organization is None and config.project is None
    assert config.retry == RetryPolicy() and config.timeout == 600.0


def test_openai_reads_the_sdk_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1/")
    monkeypatch.setenv("OPENAI_ORG_ID", "org-1")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-1")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    config = OpenAI()
    assert config.base_url == "http://127.0.0.1:8000/v1"
    assert (config.organization, config.project) == ("org-1", "proj-1")
    assert config.resolve_api_key() == KEY


def test_arguments_beat_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    config = OpenAI(api_key=KEY, base_url="http://127.0.0.1:9/v1", organization="org-2")
    assert config.base_url == "http://127.0.0.1:9/v1" and config.organization == "org-2"
    assert config.resolve_api_key() == KEY


def test_anthropic_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Anthropic().base_url == "https://api.anthropic.com"
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:7/")
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    config = Anthropic()
    assert config.base_url == "http://127.0.0.1:7"
    assert config.resolve_api_key() == KEY


@pytest.mark.parametrize(
    "url", ["api.openai.com/v1", "ftp://host/v1", "http://", "http://user:pw@host/v1", "/v1", " "]
)
@pytest.mark.parametrize("cls", [OpenAI, Anthropic])
def test_bad_base_urls_are_refused(cls: type[OpenAI] | type[Anthropic], url: str) -> None:
    with pytest.raises(ConfigError, match="Hint:"):
        cls(base_url=url)


def test_bad_timeout_and_key_types_are_refused() -> None:
    with pytest.raises(ConfigError):
        OpenAI(timeout=0)
    with pytest.raises(ConfigError, match="api_key must be a string"):
        Anthropic(api_key=123)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("cls", "env"), [(OpenAI, "OPENAI_API_KEY"), (Anthropic, "ANTHROPIC_API_KEY")]
)
def test_missing_key_is_a_config_error_with_a_hint(cls: Any, env: str) -> None:
    config = cls()
    with pytest.raises(ConfigError) as info:
        config.resolve_api_key()
    text = str(info.value)
    assert env in text and f"llmbatch.{cls.__name__}(api_key=...)" in text
    assert text.splitlines()[-1].startswith("Hint:")
    with pytest.raises(ConfigError):
        config.client()


# -- resolve_provider / manifests -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "cls"),
    [("openai", OpenAI), ("OpenAI", OpenAI), (" anthropic ", Anthropic), ("ANTHROPIC", Anthropic)],
)
def test_resolve_provider_names(value: str, cls: type) -> None:
    assert type(resolve_provider(value)) is cls


def test_resolve_provider_default_and_objects() -> None:
    assert isinstance(resolve_provider(None), OpenAI)
    assert isinstance(resolve_provider(None, default="anthropic"), Anthropic)
    config = Anthropic(api_key=KEY)
    assert resolve_provider(config) is config


def test_resolve_provider_unknown_name_lists_the_choices() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_provider("gemini")
    assert "'gemini'" in str(info.value)
    assert "'openai'" in str(info.value) and "'anthropic'" in str(info.value)


@pytest.mark.parametrize("value", [42, object(), ["openai"]])
def test_resolve_provider_wrong_type(value: Any) -> None:
    with pytest.raises(ConfigError, match="provider must be"):
        resolve_provider(value)


def test_manifest_has_no_key_and_round_trips(monkeypatch: pytest.MonkeyPatch) -> None:
    config = OpenAI(api_key=KEY, base_url="http://127.0.0.1:9/v1", organization="o", project="p")
    manifest = config.to_manifest()
    assert manifest == {
        "name": "openai",
        "base_url": "http://127.0.0.1:9/v1",
        "organization": "o",
        "project": "p",
    }
    assert KEY not in orjson.dumps(manifest).decode()
    reopened = provider_from_manifest(manifest)
    assert reopened == config
    with pytest.raises(ConfigError):
        reopened.resolve_api_key()  # the key comes from the environment again
    monkeypatch.setenv("OPENAI_API_KEY", "sk-other")
    assert reopened.resolve_api_key() == "sk-other"
    anthropic = Anthropic(api_key=KEY, base_url="http://127.0.0.1:9")
    assert anthropic.to_manifest() == {"name": "anthropic", "base_url": "http://127.0.0.1:9"}
    assert provider_from_manifest(anthropic.to_manifest()) == anthropic


def test_manifest_with_unknown_provider() -> None:
    with pytest.raises(ConfigError, match="unknown provider"):
        provider_from_manifest({"name": "mistral"})


def test_equality_ignores_the_key() -> None:
    assert OpenAI(api_key="a") == OpenAI(api_key="b")
    assert hash(OpenAI(api_key="a")) == hash(OpenAI(api_key="b"))
    assert OpenAI() != OpenAI(base_url="http://127.0.0.1:1/v1")
    assert OpenAI() != Anthropic()


# -- secrets --------------------------------------------------------------------------------------


def test_reprs_never_show_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    config = OpenAI(api_key=KEY)
    assert repr(config) == "OpenAI(base_url='https://api.openai.com/v1', api_key=<set>)"
    for text in (repr(config), str(config), repr(vars(config)), str(config.to_manifest())):
        assert KEY not in text and "SENTINEL" not in text
    assert repr(Anthropic()) == "Anthropic(base_url='https://api.anthropic.com', api_key=<missing>)"
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    assert repr(Anthropic()).endswith("api_key=<from ANTHROPIC_API_KEY>)")
    assert KEY not in repr(Anthropic())


def test_pickles_drop_the_key_copies_keep_it() -> None:
    config = Anthropic(api_key=KEY, base_url="http://127.0.0.1:9")
    data = pickle.dumps(config)
    assert KEY.encode() not in data
    restored = pickle.loads(data)
    assert restored == config
    with pytest.raises(ConfigError):
        restored.resolve_api_key()
    assert copy.copy(config).resolve_api_key() == KEY
    assert copy.deepcopy(config).resolve_api_key() == KEY


def test_clients_errors_and_logs_never_show_the_key(caplog: pytest.LogCaptureFixture) -> None:
    echo = {
        "error": {"message": f"Incorrect API key provided: {KEY}", "type": "invalid_request_error"}
    }
    router = Router(
        {("GET", "/v1/batches/b"): [httpx.Response(503), httpx.Response(401, json=echo)]}
    )
    with caplog.at_level(logging.DEBUG), openai_client(router) as client:
        assert KEY not in repr(client)
        with pytest.raises(AuthenticationError) as info:
            client.retrieve_batch("b")
    for text in (str(info.value), repr(info.value), repr(info.value.body), caplog.text):
        assert KEY not in text


# -- OpenAI client --------------------------------------------------------------------------------


def test_openai_headers() -> None:
    router = Router({("GET", "/v1/batches/b"): {"id": "b"}})
    with openai_client(router, organization="org-1", project="proj-1") as client:
        assert client.retrieve_batch("b") == {"id": "b"}
    headers = router.requests[0].headers
    assert headers["authorization"] == f"Bearer {KEY}"
    assert headers["openai-organization"] == "org-1"
    assert headers["openai-project"] == "proj-1"
    assert headers["user-agent"].startswith("llmbatch/")


def test_openai_headers_without_org_or_project() -> None:
    router = Router({("GET", "/v1/files/f"): {"id": "f"}})
    with openai_client(router) as client:
        client.retrieve_file("f")
    headers = router.requests[0].headers
    assert "openai-organization" not in headers and "openai-project" not in headers


def test_upload_file_sends_multipart_fields(tmp_path: Path) -> None:
    source = tmp_path / "0000.jsonl"
    source.write_bytes(b'{"custom_id":"a"}\n{"custom_id":"b"}\n')
    router = Router({("POST", "/v1/files"): [httpx.Response(500), {"id": "file-1"}]})
    with openai_client(router) as client:
        got = client.upload_file(source, filename="job-0000.jsonl", expires_after_seconds=7200)
    assert got == {"id": "file-1"}
    assert len(router.requests) == 2  # retried, file rewound
    request, body = router.requests[1], router.bodies[1]
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert b'name="purpose"\r\n\r\nbatch\r\n' in body
    assert b'name="expires_after[anchor]"\r\n\r\ncreated_at\r\n' in body
    assert b'name="expires_after[seconds]"\r\n\r\n7200\r\n' in body
    assert b'name="file"; filename="job-0000.jsonl"' in body
    assert b'{"custom_id":"a"}\n{"custom_id":"b"}\n' in body
    assert b'{"custom_id":"a"}' in router.bodies[0]


def test_create_batch_body_and_recover() -> None:
    router = Router({("POST", "/v1/batches"): [httpx.ReadTimeout("lost"), {"id": "dup"}]})
    found: list[str] = []

    def recover() -> dict[str, Any] | None:
        found.append("called")
        return {"id": "batch_found"}

    with openai_client(router) as client:
        batch = client.create_batch(
            "file-1", "/v1/chat/completions", metadata={"llmbatch_shard": "t-0"}, recover=recover
        )
        assert client.stats.recovered == 1
    assert batch == {"id": "batch_found"} and found == ["called"]
    assert orjson.loads(router.bodies[0]) == {
        "input_file_id": "file-1",
        "endpoint": "/v1/chat/completions",
        "completion_window": "24h",
        "metadata": {"llmbatch_shard": "t-0"},
    }


def test_create_batch_without_recover_is_not_resent_after_a_5xx() -> None:
    router = Router({("POST", "/v1/batches"): [httpx.Response(500), {"id": "dup"}]})
    with openai_client(router) as client, pytest.raises(ProviderError):
        client.create_batch("file-1", "/v1/embeddings")
    assert len(router.requests) == 1


def test_retrieve_cancel_and_file_paths(tmp_path: Path) -> None:
    router = Router(
        {
            ("GET", "/v1/batches/b1"): {"id": "b1", "status": "in_progress", "new_key": 1},
            ("POST", "/v1/batches/b1/cancel"): {"id": "b1", "status": "cancelling"},
            ("GET", "/v1/files/f1/content"): httpx.Response(200, content=b'{"x":1}\n'),
            ("DELETE", "/v1/files/f1"): {"id": "f1", "object": "file", "deleted": True},
        }
    )
    with openai_client(router) as client:
        assert client.retrieve_batch("b1")["new_key"] == 1
        assert client.cancel_batch("b1")["status"] == "cancelling"
        assert client.file_content("f1") == b'{"x":1}\n'
        assert client.download_file("f1", tmp_path / "out.jsonl") == 8
        assert client.delete_file("f1")["deleted"] is True
    assert (tmp_path / "out.jsonl").read_bytes() == b'{"x":1}\n'
    assert router.requests[2].headers["accept"] == "application/binary"


def test_delete_file_404_means_already_gone() -> None:
    router = Router({})  # every path answers 404
    with openai_client(router) as client:
        assert client.delete_file("f9") == {"id": "f9", "object": "file", "deleted": True}
        with pytest.raises(NotFoundError):
            client.delete_file("f9", missing_ok=False)


def pages(prefix: str, n_pages: int, per_page: int, cursor: str) -> Callable[[httpx.Request], Any]:
    """A list endpoint serving ids prefix0..prefixN newest first, paged by ``cursor``."""
    ids = [f"{prefix}{i}" for i in range(n_pages * per_page)]

    def handler(request: httpx.Request) -> dict[str, Any]:
        after = request.url.params.get(cursor)
        start = ids.index(after) + 1 if after else 0
        chunk = ids[start : start + per_page]
        data = [{"id": i, "metadata": {"tag": f"tag-{i}"}} for i in chunk]
        return {
            "object": "list",
            "data": data,
            "first_id": chunk[0],
            "last_id": chunk[-1],
            "has_more": start + per_page < len(ids),
        }

    return handler


def test_iter_batches_follows_the_cursor() -> None:
    router = Router({("GET", "/v1/batches"): pages("batch_", 3, 2, "after")})
    with openai_client(router) as client:
        got = [b["id"] for b in client.iter_batches(limit=2)]
    assert got == [f"batch_{i}" for i in range(6)]
    assert [r.url.params.get("after") for r in router.requests] == [None, "batch_1", "batch_3"]
    assert all(r.url.params["limit"] == "2" for r in router.requests)


def test_iter_files_passes_purpose_and_pages() -> None:
    router = Router({("GET", "/v1/files"): pages("file-", 2, 3, "after")})
    with openai_client(router) as client:
        got = [f["id"] for f in client.iter_files(purpose="batch")]
    assert got == [f"file-{i}" for i in range(6)]
    assert all(r.url.params["purpose"] == "batch" for r in router.requests)
    assert router.requests[1].url.params["after"] == "file-2"


def test_list_files_sends_only_given_params() -> None:
    router = Router({("GET", "/v1/files"): {"data": [], "has_more": False}})
    with openai_client(router) as client:
        client.list_files(limit=5, order="asc")
    assert dict(router.requests[0].url.params) == {"limit": "5", "order": "asc"}


def test_find_batch_by_metadata() -> None:
    router = Router({("GET", "/v1/batches"): pages("batch_", 3, 100, "after")})
    with openai_client(router) as client:
        assert client.find_batch_by_metadata("tag", "tag-batch_150")["id"] == "batch_150"
        assert len(router.requests) == 2
        assert client.find_batch_by_metadata("tag", "nope") is None
        assert client.find_batch_by_metadata("tag", "tag-batch_150", max_pages=1) is None


def test_iteration_stops_on_a_repeated_cursor() -> None:
    page = {"data": [{"id": "b1"}], "has_more": True, "last_id": "b1"}
    router = Router({("GET", "/v1/batches"): page})
    with openai_client(router) as client:
        assert [b["id"] for b in client.iter_batches()] == ["b1", "b1"]


# -- Anthropic client -----------------------------------------------------------------------------

REQUESTS = [
    {"custom_id": "r-1", "params": {"model": "claude-haiku-4-5", "max_tokens": 8, "messages": []}},
    {"custom_id": "r_2", "params": {"model": "claude-haiku-4-5", "system": "é ✓", "max_tokens": 8}},
]


def test_anthropic_headers_and_create_from_a_list() -> None:
    router = Router({("POST", "/v1/messages/batches"): {"id": "msgbatch_1"}})
    with anthropic_client(router) as client:
        assert client.create_batch(REQUESTS) == {"id": "msgbatch_1"}
    request = router.requests[0]
    assert str(request.url) == "http://127.0.0.1:9/v1/messages/batches"
    assert request.headers["x-api-key"] == KEY
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert request.headers["content-type"] == "application/json"
    assert "authorization" not in request.headers
    assert orjson.loads(router.bodies[0]) == {"requests": REQUESTS}


def test_anthropic_create_streams_a_jsonl_file(tmp_path: Path) -> None:
    source = tmp_path / "0000.jsonl"
    lines = [orjson.dumps(r) for r in REQUESTS]
    source.write_bytes(lines[0] + b"\r\n\n" + lines[1] + b"\n\n")
    router = Router({("POST", "/v1/messages/batches"): [httpx.Response(529), {"id": "msgbatch_1"}]})
    found: list[int] = []
    with anthropic_client(router) as client:
        got = client.create_batch(source, recover=lambda: found.append(1))
    assert got == {"id": "msgbatch_1"}
    assert found == [1]  # asked (and found nothing) before the re-send
    assert len(router.requests) == 2
    assert router.bodies[0] == router.bodies[1]
    assert orjson.loads(router.bodies[1]) == {"requests": REQUESTS}
    assert int(router.requests[1].headers["content-length"]) == len(router.bodies[1])
    assert "transfer-encoding" not in router.requests[1].headers


def test_anthropic_streamed_body_spans_many_chunks(tmp_path: Path) -> None:
    source = tmp_path / "big.jsonl"
    big = [{"custom_id": f"r{i}", "params": {"text": "x" * 5000}} for i in range(500)]
    source.write_bytes(b"\n".join(orjson.dumps(r) for r in big) + b"\n")
    router = Router({("POST", "/v1/messages/batches"): {"id": "msgbatch_big"}})
    with anthropic_client(router) as client:
        client.create_batch(source)
    assert orjson.loads(router.bodies[0]) == {"requests": big}


def test_anthropic_create_refuses_a_broken_file_before_sending(tmp_path: Path) -> None:
    source = tmp_path / "bad.jsonl"
    source.write_bytes(orjson.dumps(REQUESTS[0]) + b"\nnot json\n")
    router = Router({("POST", "/v1/messages/batches"): {"id": "x"}})
    with anthropic_client(router) as client, pytest.raises(InputError, match="line 2"):
        client.create_batch(source)
    assert router.requests == []


def test_anthropic_paths_and_pagination() -> None:
    router = Router(
        {
            ("GET", "/v1/messages/batches"): pages("msgbatch_", 2, 2, "after_id"),
            ("GET", "/v1/messages/batches/m1"): {"id": "m1", "processing_status": "ended"},
            ("POST", "/v1/messages/batches/m1/cancel"): {"processing_status": "canceling"},
            ("DELETE", "/v1/messages/batches/m1"): {"id": "m1", "type": "message_batch_deleted"},
        }
    )
    with anthropic_client(router) as client:
        listed = [b["id"] for b in client.iter_batches(limit=2)]
        assert listed == [f"msgbatch_{i}" for i in range(4)]
        assert client.list_batches(before_id="msgbatch_2", limit=1)["data"]
        assert client.retrieve_batch("m1")["processing_status"] == "ended"
        assert client.cancel_batch("m1")["processing_status"] == "canceling"
        assert client.delete_batch("m1")["type"] == "message_batch_deleted"
        assert client.delete_batch("gone") == {"id": "gone", "type": "message_batch_deleted"}
        with pytest.raises(NotFoundError):
            client.delete_batch("gone", missing_ok=False)
    assert router.requests[1].url.params["after_id"] == "msgbatch_1"
    assert dict(router.requests[2].url.params) == {"before_id": "msgbatch_2", "limit": "1"}


def ended(url: str | None) -> dict[str, Any]:
    return {"id": "m1", "processing_status": "ended", "results_url": url}


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9/v1/messages/batches/m1/results", "/v1/messages/batches/m1/results"],
)
def test_download_results_from_the_same_host(tmp_path: Path, url: str) -> None:
    router = Router(
        {
            ("GET", "/v1/messages/batches/m1"): ended(url),
            ("GET", "/v1/messages/batches/m1/results"): httpx.Response(200, content=b'{"a":1}\n'),
        }
    )
    with anthropic_client(router) as client:
        assert client.download_results("m1", tmp_path / "r.jsonl") == 8
        assert client.results("m1") == b'{"a":1}\n'
    fetch = router.requests[1]
    assert fetch.headers["x-api-key"] == KEY
    assert fetch.headers["accept"] == "application/binary"


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:9/v1/messages/batches/m1/results",
        "http://127.0.0.1:10/v1/messages/batches/m1/results",
        "http://files.example/v1/messages/batches/m1/results",
    ],
)
def test_download_results_refuses_another_host(tmp_path: Path, url: str) -> None:
    router = Router({("GET", "/v1/messages/batches/m1"): ended(url)})
    with anthropic_client(router) as client, pytest.raises(ProviderError) as info:
        client.download_results("m1", tmp_path / "r.jsonl")
    assert len(router.requests) == 1  # only the retrieve; the key never went to the other host
    assert KEY not in str(info.value)
    assert not (tmp_path / "r.jsonl").exists()


def test_results_before_the_batch_ended() -> None:
    pending = {"id": "m1", "processing_status": "in_progress", "results_url": None}
    router = Router({("GET", "/v1/messages/batches/m1"): pending})
    with anthropic_client(router) as client, pytest.raises(JobNotReady) as info:
        client.results("m1")
    assert info.value.status == "in_progress"
    router = Router({("GET", "/v1/messages/batches/m1"): ended(None)})
    with anthropic_client(router) as client, pytest.raises(ProviderError, match="29 days"):
        client.results("m1")
