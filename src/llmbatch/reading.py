"""A job's downloaded results read back: one outcome per row over all attempts.

`job` asks for this on `collect()`, `outcomes()` and `retry_failed()`; the files are the ones
`lifecycle` downloaded and checked, read through the provider backend's own line parser.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import cast

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from llmbatch._exceptions import BatchFailedError, ResultsIntegrityError
from llmbatch._json import loads
from llmbatch.manifest import Manifest, Shard
from llmbatch.outcomes import READ_ERRORS, Outcome, Outcomes, failed_batch, line_outcome
from llmbatch.prepare import unranges
from llmbatch.providers.backend import Backend
from llmbatch.result_columns import Columnar, read_plain
from llmbatch.store import JobFolder

__all__ = [
    "Recorder",
    "StrayLine",
    "check_results",
    "failed_batch_error",
    "line_recorder",
    "read_columns",
    "read_file",
    "read_outcomes",
]


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
    """Every line of the shard's results as its row's outcome, a file at a time."""
    record = line_recorder(manifest.tag, backend, endpoint)
    columnar = backend.wire.columnar
    for rel in shard.results:
        path = folder.path / rel
        if columnar is None or not columnar.applies(endpoint):
            with path.open("rb") as fh:  # a line at a time: a file of vectors can be gigabytes
                for raw in fh:
                    if not raw.isspace():
                        record(out, raw, 0)
            continue
        read_file(out, path.read_bytes(), record, manifest.tag, endpoint, columnar)


def read_file(
    out: Outcomes,
    buf: bytes,
    record: Recorder,
    tag: str,
    endpoint: str,
    columnar: Columnar | None,
    first: int = 0,
) -> None:
    """One results file's lines as their rows' outcomes: at once where the provider's
    `columnar` read fits the file (`read_columns`), else line by line, blank lines skipped."""
    fits = columnar is not None and columnar.applies(endpoint)
    if fits and read_columns(out, buf, record, tag, endpoint, cast(Columnar, columnar), first):
        return
    for raw in buf.split(b"\n"):
        if raw and not raw.isspace():
            record(out, raw, first)


def read_columns(
    out: Outcomes,
    buf: bytes,
    record: Recorder,
    tag: str,
    endpoint: str,
    columnar: Columnar,
    first: int,
) -> bool:
    """One results file read at once (`result_columns`): its plain successes as columns, its
    other lines by `record`. False, with nothing recorded, when the file does not fit the
    columnar read (a blank line, a row named twice, anything `parse_file` refuses): read it
    line by line instead, in file order."""
    read = read_plain(buf, columnar, endpoint, tag, first, len(out))
    if read is None or _repeats(read.slots):
        return False  # a row twice: which line wins depends on the order, so line by line
    others = pc.indices_nonzero(pc.invert(read.fast)).to_pylist()
    if others:  # (every line is a record: line i is record i)
        starts, ends = read.starts, read.ends
        for i in others:
            record(out, buf[starts[i] : ends[i]], first)
    out.read_columns(read.slots.filter(read.fast), read.replies.filter(read.fast))
    return True


def _repeats(slots: pa.Array) -> bool:
    """Whether a slot occurs twice (nulls aside): a sort, cheaper than hashing every slot."""
    held = np.sort(slots.drop_null().to_numpy())
    return bool((held[1:] == held[:-1]).any())


Recorder = Callable[[Outcomes, bytes, int], None]


class StrayLine(Exception):
    """A line names a row of the job outside the rows being read (`line_recorder(rows=)`)."""


def line_recorder(
    tag: str, backend: Backend, endpoint: str, *, rows: int | None = None
) -> Recorder:
    """`record(out, raw, first)`: one raw result line as the outcome of its row (the slot
    `row - first` of `out`; a line naming no row of `out` is left out, or, given the job's
    `rows`, raises `StrayLine` if it names one of them: a reader of part of the rows that
    expects none elsewhere).

    The hot loop of collect() and collect(to=): `ids.row_of`, `outcomes.line_outcome` and
    `outcomes.read_reply` inlined (a function call per row each is measurable at a million
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
        if not 0 <= slot < len(out):
            if rows is not None and 0 <= slot + first < rows:
                raise StrayLine(custom_id)
            return
        if kind == "succeeded" and type(payload) is dict:
            try:
                out.set(slot, Outcome(reply(endpoint, payload)))
                return
            except READ_ERRORS:
                pass  # the row's error, as `line_outcome` words it
        out.record(slot, line_outcome(functools.partial(reply, endpoint), kind, payload, error))

    return record


def failed_batch_error(manifest: Manifest, outcomes: Outcomes) -> BatchFailedError | None:
    """The error for a batch that failed at the provider while its rows still have no answer
    (once `retry_failed()` has answered them, the job is whole again)."""

    def answered(row: int) -> bool:
        outcome = outcomes.peek(row)
        return outcome is None or outcome.kind != "batch_failed"

    return failed_batch(manifest, answered)
