"""The official openai SDK runs full Files + Batches cycles against the emulator."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import openai
import orjson
import pytest
from emulator_helpers import chat_line, jsonl
from openai.types import Batch, FileDeleted, FileObject

from llmbatch.emulator import Emulator


@pytest.fixture
def client(emu: Emulator) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(api_key="test", base_url=emu.openai_base_url, max_retries=0) as sdk:
        yield sdk


def _upload(client: openai.OpenAI, lines: list[object]) -> FileObject:
    return client.files.create(file=("requests.jsonl", io.BytesIO(jsonl(lines))), purpose="batch")


def _start(client: openai.OpenAI, n: int = 3, **kw: object) -> Batch:
    source = _upload(client, [chat_line(f"row-{i}") for i in range(n)])
    return client.batches.create(
        input_file_id=source.id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        **kw,  # type: ignore[arg-type]
    )


def test_upload_returns_a_complete_file_object(client: openai.OpenAI) -> None:
    source = _upload(client, [chat_line("a")])
    assert re.fullmatch(r"file-[0-9A-Za-z]{22}", source.id)
    assert source.object == "file"
    assert source.purpose == "batch"
    assert source.status == "processed"
    assert source.filename == "requests.jsonl"
    assert source.bytes == len(jsonl([chat_line("a")]))
    assert source.expires_at == source.created_at + 30 * 24 * 3600
    assert client.files.retrieve(source.id) == source


def test_full_cycle_create_retrieve_content_delete(client: openai.OpenAI) -> None:
    created = _start(client, 3, metadata={"job": "sentiment"})
    assert re.fullmatch(r"batch_[0-9a-f]{32}", created.id)
    assert created.status == "validating"
    assert created.model is None
    assert created.request_counts is not None and created.request_counts.total == 0
    assert created.metadata == {"job": "sentiment"}
    assert created.expires_at == created.created_at + 86400

    done = client.batches.retrieve(created.id)
    assert done.status == "completed"
    assert done.model == "gpt-4o-mini"
    assert done.request_counts is not None
    assert (done.request_counts.total, done.request_counts.completed) == (3, 3)
    assert done.request_counts.failed == 0
    assert done.in_progress_at is not None and done.completed_at is not None
    assert done.finalizing_at is not None
    assert done.error_file_id is None
    assert done.usage is not None and done.usage.total_tokens > 0
    assert done.usage.total_tokens == done.usage.input_tokens + done.usage.output_tokens

    assert done.output_file_id is not None
    output = client.files.retrieve(done.output_file_id)
    assert output.purpose == "batch_output"
    assert output.filename == f"{done.id}_output.jsonl"
    lines = [orjson.loads(line) for line in client.files.content(output.id).content.splitlines()]
    assert sorted(line["custom_id"] for line in lines) == ["row-0", "row-1", "row-2"]
    for line in lines:
        assert re.fullmatch(r"batch_req_[0-9a-f]{32}", line["id"])
        assert line["error"] is None
        assert line["response"]["status_code"] == 200
        assert re.fullmatch(r"[0-9a-f]{32}", line["response"]["request_id"])
        assert line["response"]["body"]["object"] == "chat.completion"

    deleted = client.files.delete(output.id)
    assert deleted == FileDeleted(id=output.id, object="file", deleted=True)
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(output.id)


def test_batch_list_auto_paging(client: openai.OpenAI) -> None:
    ids = [_start(client, 1).id for _ in range(5)]
    page = client.batches.list(limit=2)
    assert len(page.data) == 2 and page.has_more is True
    listed = [batch.id for batch in client.batches.list(limit=2)]
    assert listed == list(reversed(ids))  # newest first, every batch once
    assert all(isinstance(b, Batch) and b.status == "completed" for b in page.data)


def test_file_list_paging_and_purpose_filter(client: openai.OpenAI) -> None:
    ids = [_upload(client, [chat_line(f"{i}")]).id for i in range(3)]
    newest_first = [f.id for f in client.files.list(limit=2, purpose="batch")]
    assert newest_first == list(reversed(ids))
    oldest_first = [f.id for f in client.files.list(limit=1, order="asc")]
    assert oldest_first == ids
    assert list(client.files.list(purpose="batch_output")) == []


def test_cancel_through_the_sdk(emu: Emulator, client: openai.OpenAI) -> None:
    emu.configure(validating_seconds=60)
    created = _start(client, 2)
    cancelling = client.batches.cancel(created.id)
    assert cancelling.status == "cancelling"
    assert cancelling.cancelling_at is not None
    cancelled = client.batches.retrieve(created.id)
    assert cancelled.status == "cancelled"
    assert cancelled.cancelled_at is not None
    assert client.batches.cancel(created.id).status == "cancelled"  # allowed again (F.3)
    done = _start(client, 1)
    emu.advance(3600)
    assert client.batches.retrieve(done.id).status == "completed"
    with pytest.raises(openai.ConflictError, match="Cannot cancel a batch with status 'completed'"):
        client.batches.cancel(done.id)


def test_error_envelope_parses_into_sdk_errors(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.batches.retrieve("batch_" + "0" * 32)
    assert caught.value.status_code == 404
    assert caught.value.request_id is not None
    assert caught.value.request_id.startswith("req_")
    with pytest.raises(openai.BadRequestError) as bad:
        client.batches.create(
            input_file_id="file-x",
            endpoint="/v1/images/generations",  # type: ignore[arg-type]
            completion_window="24h",
        )
    assert bad.value.code == "invalid_value"
    assert bad.value.param == "endpoint"


def test_failed_and_expired_batches_parse(emu: Emulator, client: openai.OpenAI) -> None:
    source = _upload(client, [chat_line("a"), chat_line("a")])
    created = client.batches.create(
        input_file_id=source.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    failed = client.batches.retrieve(created.id)
    assert failed.status == "failed" and failed.failed_at is not None
    assert failed.errors is not None and failed.errors.data is not None
    [error] = failed.errors.data
    assert (error.code, error.line, error.param) == ("duplicate_custom_id", 2, "custom_id")

    emu.configure(requests_per_second=1, completion_window_seconds=1.5)
    expiring = _start(client, 3)
    emu.advance(2)
    expired = client.batches.retrieve(expiring.id)
    assert expired.status == "expired" and expired.expired_at is not None
    assert expired.request_counts is not None and expired.request_counts.failed == 2
    assert expired.output_file_id is not None and expired.error_file_id is not None


@pytest.mark.parametrize(
    ("endpoint", "body", "object_type"),
    [
        ("/v1/embeddings", {"model": "text-embedding-3-small", "input": ["a", "b"]}, "list"),
        ("/v1/responses", {"model": "gpt-4o-mini", "input": "hi"}, "response"),
        ("/v1/completions", {"model": "gpt-3.5-turbo-instruct", "prompt": "hi"}, "text_completion"),
        ("/v1/moderations", {"model": "omni-moderation-latest", "input": "hi"}, None),
    ],
)
def test_every_supported_endpoint_runs(
    client: openai.OpenAI, endpoint: str, body: dict[str, object], object_type: str | None
) -> None:
    line = {"custom_id": "a", "method": "POST", "url": endpoint, "body": body}
    source = _upload(client, [line])
    created = client.batches.create(
        input_file_id=source.id,
        endpoint=endpoint,  # type: ignore[arg-type]
        completion_window="24h",
    )
    batch = client.batches.retrieve(created.id)
    assert batch.status == "completed", batch.errors
    assert batch.output_file_id is not None
    [result] = [
        orjson.loads(x) for x in client.files.content(batch.output_file_id).content.splitlines()
    ]
    assert result["response"]["status_code"] == 200
    if object_type is not None:
        assert result["response"]["body"]["object"] == object_type
    if endpoint == "/v1/embeddings":
        assert batch.usage is not None and batch.usage.output_tokens == 0
        assert batch.usage.input_tokens > 0
