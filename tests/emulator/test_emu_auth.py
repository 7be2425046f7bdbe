"""Auth: each provider's header, its 401 envelope, and the optional fixed key."""

from __future__ import annotations

import anthropic
import httpx
import openai
import pytest

from llmbatch.emulator import Emulator

ANTHROPIC_VERSION = {"anthropic-version": "2023-06-01"}


def test_openai_needs_a_bearer_key(emu: Emulator) -> None:
    with httpx.Client(base_url=emu.url) as client:
        for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer"}):
            response = client.get("/v1/batches", headers=headers)
            assert response.status_code == 401
            error = response.json()["error"]
            assert (error["type"], error["code"]) == ("invalid_request_error", "invalid_api_key")
            assert response.headers["x-request-id"].startswith("req_")
        assert client.get("/v1/batches", headers={"Authorization": "Bearer anything"}).is_success
    assert emu.state()["openai"]["batch_count"] == 0


def test_anthropic_needs_a_key_and_a_version(emu: Emulator) -> None:
    with httpx.Client(base_url=emu.url) as client:
        missing_key = client.get("/v1/messages/batches", headers=ANTHROPIC_VERSION)
        assert missing_key.status_code == 401
        assert missing_key.json()["error"]["type"] == "authentication_error"
        missing_version = client.get("/v1/messages/batches", headers={"x-api-key": "k"})
        assert missing_version.status_code == 400
        assert "anthropic-version" in missing_version.json()["error"]["message"]
        for auth in ({"x-api-key": "k"}, {"Authorization": "Bearer k"}):
            response = client.get("/v1/messages/batches", headers={**auth, **ANTHROPIC_VERSION})
            assert response.status_code == 200
            assert response.headers["request-id"].startswith("req_011C")


def test_a_configured_key_is_the_only_one_accepted(emu: Emulator) -> None:
    emu.configure(api_key="sk-right")
    with openai.OpenAI(api_key="sk-wrong", base_url=emu.openai_base_url, max_retries=0) as bad:
        with pytest.raises(openai.AuthenticationError) as caught:
            bad.batches.list()
        assert caught.value.code == "invalid_api_key"
    with openai.OpenAI(api_key="sk-right", base_url=emu.openai_base_url, max_retries=0) as good:
        assert list(good.batches.list()) == []
    wrong = anthropic.Anthropic(api_key="sk-wrong", base_url=emu.url, max_retries=0)
    right = anthropic.Anthropic(api_key="sk-right", base_url=emu.url, max_retries=0)
    with wrong, right:
        with pytest.raises(anthropic.AuthenticationError):
            wrong.messages.batches.list()
        assert list(right.messages.batches.list()) == []


def test_control_plane_needs_no_auth(emu: Emulator) -> None:
    with httpx.Client(base_url=emu.url) as client:
        assert client.get("/_emulator/state").status_code == 200
