"""Anthropic Message Batches handlers: parse the request, call the state, serialize (C).

The legacy beta client appends `?beta=true`; query strings do not take part in routing, so
those calls land on the same handlers.
"""

from __future__ import annotations

from starlette.responses import Response

from llmbatch.emulator.wire import Call, Route, json_response, read_json

RESULTS_MEDIA_TYPE = "application/binary"  # [EMULATOR CHOICE] the SDK asks for this type


async def create_batch(call: Call) -> Response:
    """POST /v1/messages/batches (413 above `anthropic_max_bytes`)."""
    backend = call.backend
    body = await read_json(call.request, "anthropic", backend.config.anthropic_max_bytes)
    with backend.lock:
        batch = backend.anthropic.create(body, backend.clock.now(), backend.config, call.base_url)
    return json_response(batch)


async def get_batch(call: Call) -> Response:
    """GET /v1/messages/batches/{batch_id}."""
    with call.backend.lock:
        now = call.backend.clock.now()
        batch = call.backend.anthropic.get(call.params["batch_id"], now, call.base_url)
    return json_response(batch)


async def list_batches(call: Call) -> Response:
    """GET /v1/messages/batches?before_id=&after_id=&limit=."""
    query = dict(call.request.query_params)
    with call.backend.lock:
        now = call.backend.clock.now()
        page = call.backend.anthropic.listing(query, now, call.base_url)
    return json_response(page)


async def cancel_batch(call: Call) -> Response:
    """POST /v1/messages/batches/{batch_id}/cancel."""
    with call.backend.lock:
        now = call.backend.clock.now()
        batch = call.backend.anthropic.cancel(call.params["batch_id"], now, call.base_url)
    return json_response(batch)


async def delete_batch(call: Call) -> Response:
    """DELETE /v1/messages/batches/{batch_id}."""
    with call.backend.lock:
        now = call.backend.clock.now()
        return json_response(call.backend.anthropic.delete(call.params["batch_id"], now))


async def batch_results(call: Call) -> Response:
    """GET /v1/messages/batches/{batch_id}/results: the JSONL results."""
    with call.backend.lock:
        now = call.backend.clock.now()
        body = call.backend.anthropic.results(call.params["batch_id"], now)
    return Response(body, media_type=RESULTS_MEDIA_TYPE)


ROUTES = (
    Route("POST", "/v1/messages/batches", create_batch),
    Route("GET", "/v1/messages/batches", list_batches),
    Route("GET", "/v1/messages/batches/{batch_id}", get_batch),
    Route("POST", "/v1/messages/batches/{batch_id}/cancel", cancel_batch),
    Route("DELETE", "/v1/messages/batches/{batch_id}", delete_batch),
    Route("GET", "/v1/messages/batches/{batch_id}/results", batch_results),
)
