"""The official anthropic SDK runs full Message Batches cycles against the emulator."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import anthropic
import pytest
from anthropic.types.messages import MessageBatch
from emulator_helpers import anthropic_request

from llmbatch.emulator import Emulator


@pytest.fixture
def client(emu: Emulator) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(api_key="test", base_url=emu.anthropic_base_url, max_retries=0) as sdk:
        yield sdk


def _create(client: anthropic.Anthropic, n: int = 3) -> MessageBatch:
    requests = [anthropic_request(f"row-{i}") for i in range(n)]
    return client.messages.batches.create(requests=requests)  # type: ignore[arg-type]


def test_full_cycle_create_retrieve_results_delete(
    emu: Emulator, client: anthropic.Anthropic
) -> None:
    created = _create(client, 3)
    assert re.fullmatch(r"msgbatch_01[0-9A-Za-z]{22}", created.id)
    assert created.processing_status == "in_progress"
    assert created.request_counts.processing == 3
    assert created.request_counts.succeeded == 0
    assert created.results_url is None and created.ended_at is None
    assert created.expires_at - created.created_at == timedelta(hours=24)

    ended = client.messages.batches.retrieve(created.id)
    assert ended.processing_status == "ended"
    assert ended.request_counts.processing == 0
    assert ended.request_counts.succeeded == 3
    assert ended.ended_at is not None
    assert ended.results_url == f"{emu.url}/v1/messages/batches/{created.id}/results"

    results = list(client.messages.batches.results(created.id))
    assert sorted(r.custom_id for r in results) == ["row-0", "row-1", "row-2"]
    for item in results:
        assert item.result.type == "succeeded"
        assert item.result.message.role == "assistant"  # type: ignore[union-attr]
        assert item.result.message.usage.input_tokens > 0  # type: ignore[union-attr]

    deleted = client.messages.batches.delete(created.id)
    assert deleted.id == created.id and deleted.type == "message_batch_deleted"
    with pytest.raises(anthropic.NotFoundError):
        client.messages.batches.retrieve(created.id)


def test_list_auto_paging_newest_first(client: anthropic.Anthropic) -> None:
    ids = [_create(client, 1).id for _ in range(5)]
    page = client.messages.batches.list(limit=2)
    assert len(page.data) == 2 and page.has_more is True
    assert page.first_id == ids[-1] and page.last_id == ids[-2]
    assert [b.id for b in client.messages.batches.list(limit=2)] == list(reversed(ids))


def test_list_before_id_pages_backwards(client: anthropic.Anthropic) -> None:
    ids = [_create(client, 1).id for _ in range(5)]
    page = client.messages.batches.list(before_id=ids[0], limit=2)
    assert [b.id for b in page.data] == [ids[2], ids[1]]
    assert page.has_more is True


def test_cancel_then_delete(emu: Emulator, client: anthropic.Anthropic) -> None:
    emu.configure(validating_seconds=60)
    created = _create(client, 2)
    with pytest.raises(anthropic.BadRequestError):
        client.messages.batches.delete(created.id)
    canceling = client.messages.batches.cancel(created.id)
    assert canceling.processing_status == "canceling"
    assert canceling.cancel_initiated_at is not None
    ended = client.messages.batches.retrieve(created.id)
    assert ended.processing_status == "ended"
    assert ended.request_counts.canceled == 2
    results = list(client.messages.batches.results(created.id))
    assert {r.result.type for r in results} == {"canceled"}
    assert client.messages.batches.delete(created.id).id == created.id


def test_beta_query_is_accepted(client: anthropic.Anthropic) -> None:
    created = _create(client, 1)
    batch = client.messages.batches.retrieve(created.id, extra_query={"beta": "true"})
    assert batch.id == created.id


def test_error_envelope_parses_into_sdk_errors(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.batches.create(requests=[anthropic_request("bad id!")])  # type: ignore[list-item]
    assert caught.value.status_code == 400
    assert caught.value.request_id is not None
    assert caught.value.request_id.startswith("req_011C")
    body = caught.value.body
    assert isinstance(body, dict)
    assert body["error"]["type"] == "invalid_request_error"
    assert body["request_id"] == caught.value.request_id


def test_errored_and_expired_results_parse(emu: Emulator, client: anthropic.Anthropic) -> None:
    emu.configure(request_error_rate=1.0)
    errored = _create(client, 2)
    for item in client.messages.batches.results(errored.id):
        assert item.result.type == "errored"
        assert item.result.error.error.type == "api_error"  # type: ignore[union-attr]
    emu.configure(request_error_rate=0.0, requests_per_second=1, completion_window_seconds=1.5)
    expiring = _create(client, 3)
    emu.advance(2)
    ended = client.messages.batches.retrieve(expiring.id)
    assert (ended.request_counts.succeeded, ended.request_counts.expired) == (1, 2)
    kinds = sorted(item.result.type for item in client.messages.batches.results(expiring.id))
    assert kinds == ["expired", "expired", "succeeded"]
