"""The answer index: runs of a results file's answers, found by key, newest first."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from llmbatch.answer_index import INDEX_NAME, AnswerIndex, Ref, Run


def key(n: int, tail: int = 0) -> bytes:
    return n.to_bytes(8, "big") + tail.to_bytes(8, "big")


def run(file: str, keys: list[bytes], job: str = "/jobs/a") -> Run:
    n = len(keys)
    digests = b"".join(i.to_bytes(8, "little") for i in range(n))
    return Run(job, file, b"".join(keys), [100 * i for i in range(n)], [90] * n, digests)


def test_a_run_is_found_key_by_key_with_its_span_and_digest(tmp_path: Path) -> None:
    keys = [key(n) for n in (50, 3, 999, 7)]  # given in any order
    assert AnswerIndex(tmp_path).add_runs([run("results/0.jsonl", keys)]) == 4
    found = AnswerIndex(tmp_path).lookup([key(999), key(4), key(3)])
    assert found == {
        key(999): [Ref("/jobs/a", "results/0.jsonl", 200, 90, (2).to_bytes(8, "little"))],
        key(3): [Ref("/jobs/a", "results/0.jsonl", 100, 90, (1).to_bytes(8, "little"))],
    }


def test_keys_sharing_their_first_eight_bytes_are_told_apart(tmp_path: Path) -> None:
    index = AnswerIndex(tmp_path)
    index.add_runs([run("results/0.jsonl", [key(1, 1), key(1, 2), key(1, 3)])])
    found = AnswerIndex(tmp_path).lookup([key(1, 2), key(1, 4)])
    assert list(found) == [key(1, 2)]
    assert found[key(1, 2)][0].offset == 100


def test_the_newest_reference_comes_first(tmp_path: Path) -> None:
    index = AnswerIndex(tmp_path)
    index.add_runs([run("results/0.jsonl", [key(1)], job="/jobs/old")])
    index.add_runs([run("results/reused.jsonl", [key(1)], job="/jobs/new")])
    refs = AnswerIndex(tmp_path).lookup([key(1)])[key(1)]
    assert [r.job for r in refs] == ["/jobs/new", "/jobs/old"]


def test_forgetting_drops_only_that_reference(tmp_path: Path) -> None:
    index = AnswerIndex(tmp_path)
    index.add_runs([run("results/0.jsonl", [key(1), key(2)]), run("results/1.jsonl", [key(1)])])
    stale = index.lookup([key(1)])[key(1)]
    index.forget([(key(1), r) for r in stale if r.file == "results/0.jsonl"])
    fresh = AnswerIndex(tmp_path)
    assert [r.file for r in fresh.lookup([key(1)])[key(1)]] == ["results/1.jsonl"]
    assert key(2) in fresh.lookup([key(2)])
    index.forget([(key(1), r) for r in fresh.lookup([key(1)])[key(1)]])
    assert AnswerIndex(tmp_path).lookup([key(1)]) == {}
    with sqlite3.connect(tmp_path / INDEX_NAME) as db:  # an emptied run is gone
        assert db.execute("SELECT file FROM runs").fetchall() == [("results/0.jsonl",)]


def test_adding_to_a_recorded_file_keeps_its_other_answers(tmp_path: Path) -> None:
    index = AnswerIndex(tmp_path)
    index.add_runs([run("results/0.jsonl", [key(1), key(2)])])
    index.add([(key(2), Ref("/jobs/a", "results/0.jsonl", 7, 8, b"12345678"))])
    found = AnswerIndex(tmp_path).lookup([key(1), key(2)])
    assert found[key(1)][0].offset == 0
    assert found[key(2)] == [Ref("/jobs/a", "results/0.jsonl", 7, 8, b"12345678")]
    assert AnswerIndex(tmp_path).distinct_keys() == 2


def test_an_index_of_the_first_design_is_migrated(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / INDEX_NAME) as db:
        db.execute(
            "CREATE TABLE answers (key BLOB NOT NULL, job TEXT NOT NULL, file TEXT NOT NULL, "
            "offset INTEGER NOT NULL, length INTEGER NOT NULL, digest BLOB NOT NULL, "
            "at REAL NOT NULL, PRIMARY KEY (key, job, file)) WITHOUT ROWID"
        )
        rows = [
            (key(1), "/jobs/a", "results/0.jsonl", 0, 10, b"aaaaaaaa", 1.0),
            (key(2), "/jobs/a", "results/0.jsonl", 11, 10, b"bbbbbbbb", 1.0),
            (key(1), "/jobs/b", "results/0.jsonl", 0, 10, b"cccccccc", 2.0),
        ]
        db.executemany("INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    found = AnswerIndex(tmp_path).lookup([key(1), key(2)])
    assert [(r.job, r.digest) for r in found[key(1)]] == [
        ("/jobs/b", b"cccccccc"),
        ("/jobs/a", b"aaaaaaaa"),
    ]
    assert found[key(2)] == [Ref("/jobs/a", "results/0.jsonl", 11, 10, b"bbbbbbbb")]
    with sqlite3.connect(tmp_path / INDEX_NAME) as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
    assert "answers" not in tables


def test_an_empty_or_missing_index_finds_nothing(tmp_path: Path) -> None:
    assert AnswerIndex(tmp_path).lookup([key(1)]) == {}
    assert AnswerIndex(tmp_path).add_runs([run("results/0.jsonl", [])]) == 0
    assert not (tmp_path / INDEX_NAME).exists()
    assert AnswerIndex(tmp_path).distinct_keys() == 0
