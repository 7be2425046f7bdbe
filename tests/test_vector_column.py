"""The embedding column: packed vectors copied (and widened) a chunk at a time, exactly."""

from __future__ import annotations

import struct
from array import array
from typing import Any

import pyarrow as pa
import pytest

from llmbatch.typed_columns import _TRIM_EVERY, vector_column


def _expected(values: list[Any]) -> pa.Array:
    return pa.array(
        [None if v is None else [float(x) for x in v] for v in values], pa.list_(pa.float64())
    )


@pytest.mark.parametrize("code", ["f", "d"])
def test_vectors_across_chunks_with_gaps_are_exact(code: str) -> None:
    n = 2 * _TRIM_EVERY + 5
    values: list[Any] = [
        None if i % 977 == 3 else array(code, struct.pack(f"3{code}", i / 7, -i, 0.1 * i))
        for i in range(n)
    ]
    expected = _expected(values)
    given = list(values)
    column = vector_column(given)
    assert column.equals(expected)
    assert column.null_count == sum(v is None for v in values)
    assert all(v is None for v in given)  # consumed: the vectors are freed as they are copied


def test_all_missing_and_empty_inputs() -> None:
    assert vector_column([None, None]).to_pylist() == [None, None]
    assert vector_column([]).to_pylist() == []


def test_plain_lists_are_read_as_floats() -> None:
    assert vector_column([[1, 2.5], None]).to_pylist() == [[1.0, 2.5], None]
