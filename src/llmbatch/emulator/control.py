"""The control plane, `/_emulator/*`: reset, read and patch config, faults, state, time.

No auth, no faults, not counted: tests use it to steer the emulator and to check what the
client did. Every endpoint mirrors a `Backend` method.

| endpoint | body | answer |
|---|---|---|
| `POST /_emulator/reset` | - | `{"ok": true}` |
| `GET /_emulator/config` | - | the config (EmulatorConfig fields; faults as dicts) |
| `POST /_emulator/config` | `{knob: value, ...}` (`faults` replaces the rules) | the new config |
| `POST /_emulator/faults` | one fault rule | `{"ok": true, "rule": {...}}` |
| `DELETE /_emulator/faults` | - | `{"ok": true}` |
| `GET /_emulator/state` | - | see `Backend.state()` |
| `GET /_emulator/requests` | - | `{"requests": [{method, path, route, status, fault}, ...]}` |
| `POST /_emulator/advance` | `{"seconds": 3600}` | `{"ok": true, "clock_offset": ...}` |
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from llmbatch.emulator.config import ConfigError
from llmbatch.emulator.errors import ApiError
from llmbatch.emulator.wire import Call, Route, json_response, read_json


async def _object(call: Call) -> dict[str, Any]:
    body = await read_json(call.request, "openai")
    if not isinstance(body, dict):
        raise ApiError(400, "The control-plane body must be a JSON object.")
    return body


async def reset(call: Call) -> Response:
    """POST /_emulator/reset."""
    call.backend.reset()
    return json_response({"ok": True})


async def get_config(call: Call) -> Response:
    """GET /_emulator/config."""
    return json_response(call.backend.config.to_dict())


async def patch_config(call: Call) -> Response:
    """POST /_emulator/config: change some knobs."""
    changes = await _object(call)
    try:
        config = call.backend.configure(**changes)
    except (ConfigError, TypeError) as exc:
        raise ApiError(400, str(exc)) from exc
    return json_response(config.to_dict())


async def add_fault(call: Call) -> Response:
    """POST /_emulator/faults: append one rule."""
    rule = await _object(call)
    try:
        made = call.backend.add_fault(rule)
    except (ConfigError, TypeError) as exc:
        raise ApiError(400, str(exc)) from exc
    return json_response({"ok": True, "rule": made.to_dict()})


async def clear_faults(call: Call) -> Response:
    """DELETE /_emulator/faults."""
    call.backend.clear_faults()
    return json_response({"ok": True})


async def get_state(call: Call) -> Response:
    """GET /_emulator/state."""
    return json_response(call.backend.state())


async def get_requests(call: Call) -> Response:
    """GET /_emulator/requests: the call log."""
    with call.backend.lock:
        log = [dict(entry) for entry in call.backend.request_log]
    return json_response({"requests": log})


async def advance(call: Call) -> Response:
    """POST /_emulator/advance: move emulator time forward."""
    body = await _object(call)
    seconds = body.get("seconds")
    if not isinstance(seconds, (int, float)) or seconds < 0:
        raise ApiError(400, "advance needs {'seconds': a number >= 0}.")
    call.backend.advance(float(seconds))
    return json_response({"ok": True, "clock_offset": call.backend.clock.offset})


ROUTES = (
    Route("POST", "/_emulator/reset", reset),
    Route("GET", "/_emulator/config", get_config),
    Route("POST", "/_emulator/config", patch_config),
    Route("POST", "/_emulator/faults", add_fault),
    Route("DELETE", "/_emulator/faults", clear_faults),
    Route("GET", "/_emulator/state", get_state),
    Route("GET", "/_emulator/requests", get_requests),
    Route("POST", "/_emulator/advance", advance),
)
