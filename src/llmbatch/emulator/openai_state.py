"""OpenAI Files + Batches state: create, read, list, cancel, and moving batches through time.

Every public method first calls `advance(now)`, which brings every unfinished batch up to the
present in the order in which they validate (so the enqueued-token quota sees the queue as it
was at each validation).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmbatch.emulator import ids
from llmbatch.emulator.config import EmulatorConfig
from llmbatch.emulator.errors import ApiError, openai_bad_value, openai_not_found
from llmbatch.emulator.openai_batch import TERMINAL, OpenAIBatch
from llmbatch.emulator.openai_files import MAX_EXPIRY, MIN_EXPIRY, FileStore
from llmbatch.emulator.openai_validate import validate_file
from llmbatch.emulator.timeline import Timeline

ENDPOINTS = (
    "/v1/chat/completions",
    "/v1/embeddings",
    "/v1/responses",
    "/v1/completions",
    "/v1/moderations",
)
CREATE_KEYS = {"input_file_id", "endpoint", "completion_window", "metadata", "output_expires_after"}
OUTPUT_RETENTION = 30 * 24 * 3600


class OpenAIState:
    """All OpenAI files and batches of one emulator."""

    def __init__(self, root: Path) -> None:
        self.files = FileStore(root)
        self.batches: dict[str, OpenAIBatch] = {}
        self.seq = 0

    def clear(self) -> None:
        """Forget everything (files on disk included)."""
        self.files.clear()
        self.batches.clear()
        self.seq = 0

    # ---- requests -----------------------------------------------------------------------

    def create_batch(self, body: Any, now: float, cfg: EmulatorConfig) -> dict[str, Any]:
        """POST /v1/batches: check the request synchronously; the file is checked later."""
        self.advance(now)
        params = _check_create(body)
        source = self.files.files.get(params["input_file_id"])
        if source is not None and source.expires_at is not None and source.expires_at <= now:
            source = None  # an unknown file fails the batch at validation (F.1), no 404 here
        if source is not None and source.purpose != "batch":
            message = (
                f"File {source.id} has purpose {source.purpose!r}; a batch input file must be "
                "uploaded with purpose 'batch'."
            )
            raise openai_bad_value("input_file_id", message)
        self.seq += 1
        batch = OpenAIBatch(
            id=ids.batch_id(),
            seq=self.seq,
            endpoint=params["endpoint"],
            input_file_id=params["input_file_id"],
            input_path=None if source is None else source.path,
            input_bytes=0 if source is None else source.bytes,
            completion_window=params["completion_window"],
            metadata=params.get("metadata"),
            output_retention=params.get("output_retention"),
            created_at=now,
            cfg=cfg,
        )
        if source is not None:
            self.files.pin(source.path)
        self.batches[batch.id] = batch
        return batch.to_dict()

    def get_batch(self, batch_id: str, now: float) -> dict[str, Any]:
        """GET /v1/batches/{id}."""
        self.advance(now)
        return self._batch(batch_id).to_dict()

    def cancel_batch(self, batch_id: str, now: float) -> dict[str, Any]:
        """POST /v1/batches/{id}/cancel: -> cancelling (idempotent while cancelling)."""
        self.advance(now)
        batch = self._batch(batch_id)
        if batch.status in ("cancelling", "cancelled"):
            return batch.to_dict()  # a repeated cancel is allowed (reference F.3)
        if batch.status in TERMINAL:
            # reference F.3: 409 "Cannot cancel a batch with status 'completed'." (code null);
            # [EMULATOR CHOICE] the same for failed and expired batches
            message = f"Cannot cancel a batch with status '{batch.status}'."
            raise ApiError(409, message, param=None, code=None)
        if batch.timeline is not None:
            batch.timeline.cancel_at = now
        batch.stamps["cancelling_at"] = now
        batch.status = "cancelling"
        return batch.to_dict()

    def list_batches(self, after: str | None, limit: str | None, now: float) -> dict[str, Any]:
        """GET /v1/batches: newest first ([UNVERIFIED] order), cursor `after`."""
        self.advance(now)
        size = _list_limit(limit)
        ordered = sorted(self.batches.values(), key=lambda b: (b.created_at, b.seq), reverse=True)
        if after is not None:
            position = next((i for i, b in enumerate(ordered) if b.id == after), None)
            if position is None:
                raise openai_not_found("Batch", after, "after")
            ordered = ordered[position + 1 :]
        page = ordered[:size]
        return {
            "object": "list",
            "data": [b.to_dict() for b in page],
            "first_id": page[0].id if page else None,
            "last_id": page[-1].id if page else None,
            "has_more": len(ordered) > size,
        }

    def _batch(self, batch_id: str) -> OpenAIBatch:
        batch = self.batches.get(batch_id)
        if batch is None:
            raise openai_not_found("Batch", batch_id, "batch_id")
        return batch

    # ---- time -----------------------------------------------------------------------------

    def advance(self, now: float) -> None:
        """Bring every unfinished batch up to `now`."""
        pending = [b for b in self.batches.values() if b.status not in TERMINAL]
        for batch in sorted(pending, key=lambda b: (b.validates_at, b.seq)):
            self._advance_one(batch, now)

    def _advance_one(self, batch: OpenAIBatch, now: float) -> None:
        if batch.timeline is None:
            cancel_at = batch.stamps["cancelling_at"]
            if cancel_at is not None:
                if now >= cancel_at + batch.cfg.cancel_seconds:
                    self._finish(batch, "cancelled", cancel_at + batch.cfg.cancel_seconds)
                return
            if now < batch.validates_at:
                return
            self._validate(batch)
            if batch.timeline is None:
                return
        timeline = batch.timeline
        batch.run_requests(timeline.processed_by(now))
        outcome, end = timeline.outcome()
        if now >= end:
            self._finish(batch, outcome, end)
        elif outcome == "completed" and now >= timeline.all_done_at:
            batch.status = "finalizing"
            batch.stamps["finalizing_at"] = timeline.all_done_at

    def _validate(self, batch: OpenAIBatch) -> None:
        cfg, at = batch.cfg, batch.validates_at
        if batch.input_path is None:
            self._fail(batch, [_missing_file(batch.input_file_id)], at)
            return
        result = validate_file(
            batch.input_path,
            batch.input_bytes,
            batch.endpoint,
            cfg.openai_max_requests,
            cfg.openai_max_bytes,
            cfg.openai_max_embedding_inputs,
        )
        if not result.errors and result.model is not None:
            self._check_quota(batch, result.model, result.tokens, at, result.errors)
        if result.errors:
            self._fail(batch, result.errors, at)
            return
        batch.refs, batch.model, batch.tokens = result.refs, result.model, result.tokens
        batch.timeline = Timeline(
            start=at,
            n=len(result.refs),
            rps=cfg.requests_per_second,
            finalizing_seconds=cfg.finalizing_seconds,
            cancel_seconds=cfg.cancel_seconds,
            expires_at=batch.expires_at,
        )
        batch.status = "in_progress"
        batch.stamps["in_progress_at"] = at

    def _check_quota(
        self, batch: OpenAIBatch, model: str, tokens: int, at: float, errors: list[dict[str, Any]]
    ) -> None:
        limit = batch.cfg.token_limit_for(model)
        if limit is None:
            return
        queued = sum(
            other.tokens
            for other in self.batches.values()
            if other is not batch and other.model == model and other.holds_queue_at(at)
        )
        if queued + tokens > limit:
            message = (
                f"Enqueued token limit reached for {model} in organization org-emulator. "
                f"Limit: {limit:,} enqueued tokens. Please try again once some in_progress "
                "batches have been completed."
            )
            errors.append(
                {"code": "token_limit_exceeded", "message": message, "param": None, "line": None}
            )

    def _fail(self, batch: OpenAIBatch, errors: list[dict[str, Any]], at: float) -> None:
        batch.errors = errors
        batch.status = "failed"
        batch.stamps["failed_at"] = at
        if batch.input_path is not None:
            self.files.unpin(batch.input_path)

    def _finish(self, batch: OpenAIBatch, outcome: str, at: float) -> None:
        if outcome == "completed" and batch.timeline is not None:
            batch.stamps["finalizing_at"] = batch.timeline.all_done_at
        elif outcome == "cancelled" or batch.cfg.openai_expired_error_lines:
            batch.stop_remaining(outcome)
        # else: expired without batch_expired lines; counts do not add up (F.5)
        batch.output_file_id = self._result_file(batch, batch.ok_lines, "output", at)
        batch.error_file_id = self._result_file(batch, batch.error_lines, "error", at)
        batch.release_lines()
        batch.status = outcome
        batch.stamps[f"{outcome}_at"] = at
        if batch.input_path is not None:
            self.files.unpin(batch.input_path)

    def _result_file(
        self, batch: OpenAIBatch, lines: list[bytes], kind: str, at: float
    ) -> str | None:
        """Write `<batch_id>_<kind>.jsonl` (purpose batch_output); None when there are no lines."""
        if not lines:
            return "" if batch.cfg.openai_empty_file_ids else None  # "": seen for real (F.5)
        data = batch.shuffled(lines, kind)
        retention = batch.output_retention or OUTPUT_RETENTION
        name = f"{batch.id}_{kind}.jsonl"
        return self.files.add_bytes(data, name, "batch_output", at, retention).id

    # ---- inspection -------------------------------------------------------------------------

    def summary(self, now: float) -> dict[str, Any]:
        """Files and batches with ids and statuses (GET /_emulator/state)."""
        self.advance(now)
        live = [f for f in self.files.files.values() if f.expires_at is None or f.expires_at > now]
        return {
            "files": [{"id": f.id, "purpose": f.purpose, "filename": f.filename} for f in live],
            "batches": [{"id": b.id, "status": b.status} for b in self.batches.values()],
        }


def _missing_file(file_id: str) -> dict[str, Any]:
    """The BatchError of a batch whose input file does not exist (F.1)."""
    message = (
        f"Cannot find file {file_id}, or organization org-emulator does not have access to it."
    )
    return {"code": "invalid_request", "message": message, "param": "file_id", "line": None}


def _check_create(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    unknown = sorted(set(body) - CREATE_KEYS)
    if unknown:
        message = f"Unrecognized request argument supplied: {unknown[0]}"
        raise ApiError(400, message, param=unknown[0], code="unknown_parameter")
    for name in ("input_file_id", "endpoint", "completion_window"):
        if not isinstance(body.get(name), str):
            raise ApiError(
                400,
                f"Missing required parameter: '{name}'.",
                param=name,
                code="missing_required_parameter",
            )
    if body["endpoint"] not in ENDPOINTS:
        allowed = ", ".join(f"'{e}'" for e in ENDPOINTS[:-1]) + f", and '{ENDPOINTS[-1]}'"
        message = f"Invalid value: '{body['endpoint']}'. Supported values are: {allowed}."
        raise openai_bad_value("endpoint", message)
    if body["completion_window"] != "24h":
        message = f"Invalid value: {body['completion_window']!r}. Supported values are: '24h'."
        raise openai_bad_value("completion_window", message)
    params = dict(body)
    params["metadata"] = _check_metadata(body.get("metadata"))
    params["output_retention"] = _check_output_expiry(body.get("output_expires_after"))
    return params


def _check_metadata(metadata: Any) -> dict[str, str] | None:
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise _invalid_type("metadata", "an object", metadata)
    if len(metadata) > 16:
        message = f"metadata has {len(metadata)} keys; at most 16 are allowed."
        raise openai_bad_value("metadata", message)
    for key, value in metadata.items():
        if len(key) > 64:
            message = f"metadata key {key[:20]!r}... is {len(key)} characters; the limit is 64."
            raise openai_bad_value("metadata", message)
        if not isinstance(value, str):
            raise _invalid_type(f"metadata.{key}", "a string", value)
        if len(value) > 512:
            message = f"metadata value for {key!r} must be a string of at most 512 characters."
            raise openai_bad_value("metadata", message)
    return dict(metadata)


def _invalid_type(param: str, expected: str, value: Any) -> ApiError:
    """400 `invalid_type` as the API words it (F.2)."""
    kinds = {bool: "a boolean", int: "an integer", float: "a decimal", list: "an array"}
    got = kinds.get(type(value), "an object" if isinstance(value, dict) else "null")
    message = f"Invalid type for '{param}': expected {expected}, but got {got} instead."
    return openai_bad_value(param, message, "invalid_type")


def _check_output_expiry(value: Any) -> int | None:
    if value is None:
        return None
    seconds = value.get("seconds") if isinstance(value, dict) else None
    anchor_ok = isinstance(value, dict) and value.get("anchor") == "created_at"
    if not anchor_ok or not isinstance(seconds, int) or not MIN_EXPIRY <= seconds <= MAX_EXPIRY:
        message = (
            "output_expires_after must be {'anchor': 'created_at', 'seconds': "
            f"{MIN_EXPIRY}..{MAX_EXPIRY}}}."
        )
        raise openai_bad_value("output_expires_after", message)
    return seconds


def _list_limit(limit: str | None) -> int:
    try:
        value = 20 if limit is None else int(limit)
    except ValueError:
        value = 0
    if not 1 <= value <= 100:
        raise openai_bad_value("limit", f"Invalid limit {limit!r}: must be between 1 and 100.")
    return value
