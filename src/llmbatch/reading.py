"""A job's downloaded results read back: one outcome per row over all attempts.

`job` asks for this on `collect()`, `outcomes()` and `retry_failed()`; the files are the ones
`lifecycle` downloaded and checked, read through the provider backend's own line parser.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import orjson

from llmbatch._exceptions import BatchFailedError, ResultsIntegrityError
from llmbatch._json import loads
from llmbatch.manifest import Manifest, Shard
from llmbatch.prepare import unranges
from llmbatch.providers.backend import Backend
from llmbatch.results import READ_ERRORS, Outcome, Outcomes, failed_batch, line_outcome
from llmbatch.store import JobFolder

__all__ = ["Recorder", "check_results", "failed_batch_error", "line_recorder", "read_outcomes"]


def check_results(manifest: Manifest, folder: JobFolder) -> None:
    """A results file truncated or deleted since its download is an error, never rows
    quietly reported as "no result returned"."""
    for shard in manifest.shards:
        if shard.collected:
            folder.check_results(shard.index, shard.result_files)


def read_outcomes(
    manifest: Manifest, folder: JobFolder, backend: Backend, endpoint: str, *, partial: bool
) -> Outcomes:
    """Every row's outcome: answers and errors of every attempt, the latest answer winning."""
    out = Outcomes(manifest.n_rows)
    out.not_sent(unranges(manifest.skipped), "empty text, not sent")
    for shard in sorted(manifest.shards, key=lambda s: (s.attempt, s.index)):
        if not out.prime(shard, list(unranges(shard.rows)), partial):
            continue
        try:
            _read_shard(out, shard, manifest, folder, backend, endpoint)
        except (orjson.JSONDecodeError, FileNotFoundError) as exc:
            msg = (
                f"the results of shard {shard.index} in the job folder are damaged or gone "
                f"({exc})\nHint: job.refresh_results() downloads them again."
            )
            raise ResultsIntegrityError(msg, shard=shard.index) from None
    return out


def _read_shard(
    out: Outcomes,
    shard: Shard,
    manifest: Manifest,
    folder: JobFolder,
    backend: Backend,
    endpoint: str,
) -> None:
    """Every line of the shard's results as its row's outcome."""
    record = line_recorder(manifest.tag, backend, endpoint)
    for raw in backend.raw_lines(shard, folder):
        record(out, raw, 0)


Recorder = Callable[[Outcomes, bytes, int], None]


def line_recorder(tag: str, backend: Backend, endpoint: str) -> Recorder:
    """`record(out, raw, first)`: one raw result line as the outcome of its row (the slot
    `row - first` of `out`; a line naming no row of `out` is left out).

    The hot loop of collect() and collect(to=): `ids.row_of`, `results.line_outcome` and
    `results.read_reply` inlined (a function call per row each is measurable at a million
    rows), and a plain success read without the backend's normalising (`Wire.succeeded`).
    """
    parse, reply, succeeded = backend.parse_line, backend.wire.reply, backend.wire.succeeded
    head = tag + "-"
    cut = len(head)

    def record(out: Outcomes, raw: bytes, first: int) -> None:
        try:
            decoded = orjson.loads(raw)
        except orjson.JSONDecodeError:
            decoded = loads(raw)  # a number orjson refuses (`_json`); else damaged
        if type(decoded) is not dict:
            return  # names no row: the rows it stood for stay "no result returned"
        payload = succeeded(decoded)
        custom_id = decoded.get("custom_id")
        if payload is not None and type(custom_id) is str:
            kind, error = "succeeded", None
        else:
            custom_id, kind, payload, error = parse(decoded)
        digits = custom_id[cut:]
        if not custom_id.startswith(head) or not (digits.isascii() and digits.isdigit()):
            return
        slot = int(digits) - first
        if not 0 <= slot < len(out.slots):
            return
        if kind == "succeeded" and type(payload) is dict:
            try:
                out.slots[slot] = Outcome(reply(endpoint, payload))
                return
            except READ_ERRORS:
                pass  # the row's error, as `line_outcome` words it
        out.record(slot, line_outcome(functools.partial(reply, endpoint), kind, payload, error))

    return record


def failed_batch_error(manifest: Manifest, outcomes: Outcomes) -> BatchFailedError | None:
    """The error for a batch that failed at the provider while its rows still have no answer
    (once `retry_failed()` has answered them, the job is whole again)."""

    def answered(row: int) -> bool:
        outcome = outcomes.slots[row]
        return outcome is None or outcome.kind != "batch_failed"

    return failed_batch(manifest, answered)
