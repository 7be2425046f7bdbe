"""Request builders shared by the emulator tests."""

from __future__ import annotations

import orjson


def chat_line(custom_id: str, model: str = "gpt-4o-mini", **body: object) -> dict[str, object]:
    """One /v1/chat/completions request line."""
    payload = {"model": model, "messages": [{"role": "user", "content": f"Say {custom_id}"}]}
    payload.update(body)
    url = "/v1/chat/completions"
    return {"custom_id": custom_id, "method": "POST", "url": url, "body": payload}


def jsonl(lines: list[object]) -> bytes:
    """Lines as JSONL bytes (dicts are JSON-encoded, str/bytes kept as they are)."""
    out = []
    for line in lines:
        if isinstance(line, bytes):
            out.append(line)
        elif isinstance(line, str):
            out.append(line.encode())
        else:
            out.append(orjson.dumps(line))
    return b"\n".join(out) + b"\n"


def anthropic_request(custom_id: str, **params: object) -> dict[str, object]:
    """One Message Batches request."""
    body: dict[str, object] = {
        "model": "claude-haiku-4-5",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": f"Say {custom_id}"}],
    }
    body.update(params)
    return {"custom_id": custom_id, "params": body}
