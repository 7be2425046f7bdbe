"""A download checked a block of columns at a time gives the verdict and the tally that the
line-at-a-time check gives.

Every file of the collect corpus (`test_collect_fast`: every row shape, odd lines, odd
custom_ids) and damaged downloads (a row twice, a stranger's row, a cut line, blank lines,
CRLF, no final newline) is checked both ways, in blocks of many sizes: the problem (its
words and whether the batch is the wrong one), the tokens counted and every answer's place
(row, offset, length, digest) must be the same.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from llmbatch.download_check import ShardRows, check_download
from llmbatch.result_tally import KEYS_FILE, ResultTally
from llmbatch.store import file_shape
from test_collect_fast import (
    ENDPOINT,
    TAG,
    VERBS,
    N,
    _backend,
    _dump,
    _error_line,
    _file,
    _odd_anthropic,
    _odd_cases,
    _odd_openai,
    _ok,
    _plain_file,
    _shape_cases,
)
from test_row_shapes import ANTHROPIC, GOOD, OPENAI

BLOCKS = [1 << 20, 1, 700, 2500]  # whole file; a line a block; blocks cutting lines
_AS_COLUMNS: dict[bool, int] = {}  # answers the last check was given as columns


class _Counted:
    """The tally, counting the answers it was given as columns."""

    def __init__(self, tally: ResultTally) -> None:
        self.tally, self.as_columns = tally, 0

    def answer(self, *args: Any) -> None:
        self.tally.answer(*args)

    def plain(self, path: Path, rows: Any, *rest: Any) -> None:
        self.as_columns += len(rows)
        self.tally.plain(path, rows, *rest)

    def shape(self, path: Path, size: int, lines: int) -> None:
        self.tally.shape(path, size, lines)


def _check(tmp: Path, provider: str, files: list[bytes], fast: bool, block: int) -> Any:
    """The verdict, tokens and answer places of checking `files` as one shard's download."""
    backend = _backend(provider)
    kinds = ["output", "error"] if provider == "openai" else ["results"]
    paths = []
    folder = tmp / f"{'fast' if fast else 'slow'}{block}"
    folder.mkdir(exist_ok=True)
    for i, data in enumerate(files):
        path = folder / f"{i}.jsonl"
        path.write_bytes(data)
        paths.append((kinds[i % len(kinds)], path))
    tally = ResultTally(backend, ENDPOINT[provider])
    counted = _Counted(tally)
    problem = check_download(
        paths,
        tag=TAG,
        rows=set(range(N)),
        succeeded=0,
        is_answer=backend.is_answer,
        answers=counted,
        columnar=backend.wire.columnar if fast else None,
        endpoint=ENDPOINT[provider],
        plain_answers=backend.plain_is_answer,
        block_size=block,
    )
    job = folder / "job"
    (job / KEYS_FILE).parent.mkdir(parents=True, exist_ok=True)
    (job / KEYS_FILE).write_bytes(np.arange(N * 2, dtype=np.uint64).tobytes())
    runs = tally.runs(job, {p: f"file{i}" for i, (_, p) in enumerate(paths)})
    places = sorted(
        (run.file, run.keys[16 * k : 16 * k + 16], int(o), int(n), run.digests[8 * k : 8 * k + 8])
        for run in runs
        for k, (o, n) in enumerate(zip(run.offsets, run.lengths, strict=True))
    )
    _AS_COLUMNS[fast] = counted.as_columns
    if problem is not None:  # what the tally saw counts only if the check passes
        return problem, None, None
    assert tally.shapes == {p: file_shape(p) for _, p in paths}  # counted on the way
    return problem, dict(tally.tokens), places


def _same(tmp_path: Path, provider: str, files: list[bytes]) -> Any:
    slow = _check(tmp_path, provider, files, False, 1 << 20)
    for block in BLOCKS:
        assert _check(tmp_path, provider, files, True, block) == slow, block
    return slow


@pytest.mark.parametrize(("provider", "shape", "verb"), _shape_cases())
def test_every_shape_checks_the_same_both_ways(
    tmp_path: Path, provider: str, shape: str, verb: str
) -> None:
    shapes = OPENAI if provider == "openai" else ANTHROPIC
    odd = _dump(shapes[shape](f"{TAG}-5", GOOD[verb]))
    _same(tmp_path, provider, [_plain_file(provider, verb, odd)])


@pytest.mark.parametrize(("provider", "case", "verb"), _odd_cases())
def test_odd_lines_check_the_same_both_ways(
    tmp_path: Path, provider: str, case: str, verb: str
) -> None:
    odd = (_odd_openai if provider == "openai" else _odd_anthropic)(verb)[case]
    _same(tmp_path, provider, [_plain_file(provider, verb, odd)])


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize(
    "custom_id",
    ["t0-007", "t0-+5", "t0-٣", "t0-99999999999999999999999", "t0-", "other-5", "t0-5 ", None, 5],
)
def test_custom_ids_check_the_same_both_ways(tmp_path: Path, provider: str, custom_id: Any) -> None:
    line = json.loads(_ok(provider, "complete", 5, "other text"))
    line["custom_id"] = custom_id
    _same(tmp_path, provider, [_plain_file(provider, "complete", _dump(line))])


def _damaged(provider: str) -> dict[str, list[bytes]]:
    ok = [_ok(provider, "classify", r) for r in range(N)]
    plain = _file(*ok)
    return {
        "a row twice": [_file(*ok, ok[3])],
        "a row twice, apart": [_file(*ok[:6]), _file(*ok[6:], ok[0])],
        "a plain row, then an error for it": [_file(*ok, _error_line(provider, 4))],
        "an error, then a plain line for it": [_file(_error_line(provider, 4), *ok)],
        "t0-007 and t0-7": [_file(*ok, ok[7].replace(b'"t0-7"', b'"t0-007"'))],
        "a stranger's row": [_file(*ok[:4], ok[4].replace(b'"t0-4"', b'"zz-4"'), *ok[5:])],
        "a row not in the shard": [_file(*ok, _ok(provider, "classify", N + 3))],
        "a cut last line": [plain[:-40]],
        "a cut middle line": [_file(*ok[:3], ok[3][:50], *ok[4:])],
        "blank lines": [_file(*ok[:3], b"", b"  ", *ok[3:])],
        "crlf": [_file(*ok, end=b"\r\n")],
        "no final newline": [plain[:-1]],
        "not an object": [_file(*ok[:2], b"[1, 2]", *ok[2:])],
        "no custom_id": [_file(*ok[:2], b'{"id": 1}', *ok[2:])],
        "errors beside answers": [
            _file(*ok[:8]),
            _file(*(_error_line(provider, r) for r in (8, 9))),
        ],
        "empty": [b""],
    }


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("case", list(_damaged("openai")))
def test_damaged_downloads_check_the_same_both_ways(
    tmp_path: Path, provider: str, case: str
) -> None:
    _same(tmp_path, provider, _damaged(provider)[case])


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("verb", VERBS)
def test_a_plain_download_is_tallied(tmp_path: Path, provider: str, verb: str) -> None:
    files = [_file(*(_ok(provider, verb, r) for r in (3, 1, 0, 2, *range(4, N))))]
    problem, tokens, places = _same(tmp_path, provider, files)
    assert problem is None
    assert len(places) == N
    assert _check(tmp_path, provider, files, True, 1 << 20)[2] == places
    assert _AS_COLUMNS == {False: 0, True: N}  # the columnar check read them all
    assert tokens["input"] > 0 and tokens["output"] > 0


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_too_few_answers_is_a_problem_both_ways(tmp_path: Path, provider: str) -> None:
    backend = _backend(provider)
    path = tmp_path / "out.jsonl"
    path.write_bytes(_file(*(_ok(provider, "complete", r) for r in range(N - 2))))
    for columnar in (None, backend.wire.columnar):
        problem = check_download(
            [("output" if provider == "openai" else "results", path)],
            tag=TAG, rows=set(range(N)), succeeded=N, is_answer=backend.is_answer,
            columnar=columnar, endpoint=ENDPOINT[provider],
            plain_answers=backend.plain_is_answer,
        )  # fmt: skip
        assert problem is not None
        assert problem.message.startswith(f"{N - 2} answer line(s) but the provider counted")


@pytest.mark.parametrize(
    "data",
    [b"", b"\n", b"{a}\n", b"{a}", b"{a}\n\n{b}\n", b"{a}\n  \n{b}", b" \n", b"{a}\r\n{b}\r\n",
     b"{a}\n{", b"x\ny\n", b"\n{a}\n", b"{a}\n \t\x0b\x0c\r\n", b"{a}\n" * 1000],
)  # fmt: skip
def test_a_files_shape_counts_its_non_blank_lines(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "f.jsonl"
    path.write_bytes(data)
    with path.open("rb") as fh:
        assert file_shape(path) == [len(data), sum(1 for line in fh if line.strip())]


def test_shard_rows_know_their_rows() -> None:
    runs = [[5, 8], [10, 12]]
    inside = {5, 6, 7, 10, 11}
    for rows in (ShardRows.of_runs(runs), ShardRows.of(inside)):
        assert [r for r in range(-3, 16) if rows.has(r)] == sorted(inside)
        assert rows.has_all(np.array([5, 11, 7], dtype=np.int64))
        assert rows.has_all(np.array([], dtype=np.int64))
        for stranger in (4, 8, 9, 12, -1, 1 << 40):
            assert not rows.has_all(np.array([5, stranger], dtype=np.int64))
    for empty in (ShardRows.of_runs([]), ShardRows.of(set())):
        assert not empty.has(0)
        assert not empty.has_all(np.array([0], dtype=np.int64))


# a retried shard's rows: runs with holes, not from 0 (the first row of the job is not in it)
_RUNS = [[3, 9], [12, 20], [21, 30]]
_IN = [r for start, stop in _RUNS for r in range(start, stop)]


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ([], None),
        ([10], "row 10 is not in this shard"),  # a hole
        ([0], "row 0 is not in this shard"),  # below the first run
        ([30], "row 30 is not in this shard"),  # just past the last
        ([3], "twice"),  # the first row again, after the others
        ([29], "twice"),
    ],
)
def test_a_shard_with_holes_checks_the_same_both_ways(
    tmp_path: Path, provider: str, extra: list[int], words: str | None
) -> None:
    backend = _backend(provider)
    kind = "output" if provider == "openai" else "results"
    path = tmp_path / "out.jsonl"
    path.write_bytes(_file(*(_ok(provider, "complete", r) for r in [*_IN, *extra])))
    verdicts = []
    for rows in (set(_IN), ShardRows.of_runs(_RUNS)):
        for columnar in (None, backend.wire.columnar):
            for block in BLOCKS:
                problem = check_download(
                    [(kind, path)], tag=TAG, rows=rows, succeeded=len(_IN),
                    is_answer=backend.is_answer, columnar=columnar,
                    endpoint=ENDPOINT[provider], plain_answers=backend.plain_is_answer,
                    block_size=block,
                )  # fmt: skip
                verdicts.append(None if problem is None else problem.message)
    assert len(set(verdicts)) == 1, verdicts
    if words is None:
        assert verdicts[0] is None
    else:
        assert verdicts[0] is not None and words in verdicts[0]
