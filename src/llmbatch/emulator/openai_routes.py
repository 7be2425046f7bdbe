"""OpenAI Files and Batches handlers: parse the request, call the state, serialize (A, B)."""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.responses import FileResponse, Response

from llmbatch.emulator.errors import ApiError
from llmbatch.emulator.openai_files import check_list_args, check_upload, parse_expires_after
from llmbatch.emulator.wire import Call, Route, json_response, read_json

MAX_FILE_BYTES = 512 * 1024 * 1024  # any single file (A.1)


async def upload_file(call: Call) -> Response:
    """POST /v1/files (multipart: file, purpose, expires_after[anchor|seconds])."""
    try:
        form = await call.request.form(max_files=1, max_fields=16)
    except MultiPartException as exc:
        raise ApiError(400, f"Invalid multipart body: {exc}") from exc
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ApiError(
                400,
                "Missing required parameter: 'file'.",
                param="file",
                code="missing_required_parameter",
            )
        filename = upload.filename or "upload"
        purpose = check_upload(filename, _text(form.get("purpose")))
        retention = parse_expires_after(
            _text(form.get("expires_after[anchor]")), _text(form.get("expires_after[seconds]"))
        )
        backend = call.backend
        with backend.lock:
            now = backend.clock.now()
            record = backend.openai.files.add_stream(upload.file, filename, purpose, now, retention)
            if record.bytes > MAX_FILE_BYTES:
                backend.openai.files.delete(record.id, now)
                message = f"File is {record.bytes:,} bytes; the maximum is {MAX_FILE_BYTES:,}."
                raise ApiError(400, message, param="file", code="file_too_large")
            return json_response(record.to_dict())
    finally:
        await form.close()


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


async def list_files(call: Call) -> Response:
    """GET /v1/files?purpose=&limit=&order=&after=."""
    limit, order = check_list_args(call.query("limit"), call.query("order"))
    with call.backend.lock:
        now = call.backend.clock.now()
        page = call.backend.openai.files.listing(
            now, call.query("purpose"), limit, order, call.query("after")
        )
    return json_response(page)


async def get_file(call: Call) -> Response:
    """GET /v1/files/{file_id}."""
    with call.backend.lock:
        record = call.backend.openai.files.get(call.params["file_id"], call.backend.clock.now())
        return json_response(record.to_dict())


async def file_content(call: Call) -> Response:
    """GET /v1/files/{file_id}/content: the raw bytes as application/octet-stream."""
    backend = call.backend
    with backend.lock:
        record = backend.openai.files.get(call.params["file_id"], backend.clock.now())
        if record.bytes <= 8 * 1024 * 1024:
            return Response(record.path.read_bytes(), media_type="application/octet-stream")
    return FileResponse(record.path, media_type="application/octet-stream")


async def delete_file(call: Call) -> Response:
    """DELETE /v1/files/{file_id}."""
    with call.backend.lock:
        now = call.backend.clock.now()
        return json_response(call.backend.openai.files.delete(call.params["file_id"], now))


async def create_batch(call: Call) -> Response:
    """POST /v1/batches."""
    body = await read_json(call.request, "openai")
    backend = call.backend
    with backend.lock:
        batch = backend.openai.create_batch(body, backend.clock.now(), backend.config)
    return json_response(batch)


async def get_batch(call: Call) -> Response:
    """GET /v1/batches/{batch_id}."""
    with call.backend.lock:
        now = call.backend.clock.now()
        return json_response(call.backend.openai.get_batch(call.params["batch_id"], now))


async def cancel_batch(call: Call) -> Response:
    """POST /v1/batches/{batch_id}/cancel."""
    with call.backend.lock:
        now = call.backend.clock.now()
        return json_response(call.backend.openai.cancel_batch(call.params["batch_id"], now))


async def list_batches(call: Call) -> Response:
    """GET /v1/batches?after=&limit=."""
    with call.backend.lock:
        now = call.backend.clock.now()
        page = call.backend.openai.list_batches(call.query("after"), call.query("limit"), now)
    return json_response(page)


ROUTES = (
    Route("POST", "/v1/files", upload_file),
    Route("GET", "/v1/files", list_files),
    Route("GET", "/v1/files/{file_id}", get_file),
    Route("GET", "/v1/files/{file_id}/content", file_content),
    Route("DELETE", "/v1/files/{file_id}", delete_file),
    Route("POST", "/v1/batches", create_batch),
    Route("GET", "/v1/batches", list_batches),
    Route("GET", "/v1/batches/{batch_id}", get_batch),
    Route("POST", "/v1/batches/{batch_id}/cancel", cancel_batch),
)
