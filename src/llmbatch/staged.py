"""A polars LazyFrame (or a parquet file) as a job's input, read a slice at a time.

The lazy frame is first written to parquet with polars' streaming engine, in row groups of
`SLICE` rows: that file is the job's frame snapshot (moved into the job folder as is). The
rows are then read from it a slice at a time, never all texts at once: one pass checks the
texts (naming the offending rows by their place in the whole frame) and collects the ids (the
id map is the one thing held for every row: ids must be unique across the frame); the texts
themselves are read again, slice by slice, while the request lines are written
(`SlicedTexts`, a sequence that keeps one slice in memory).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, overload

import pyarrow.parquet as pq

from llmbatch import frames
from llmbatch.ids import check_ids
from llmbatch.pipeline import JobRequest, Rows, build_texts, check_texts

__all__ = ["SLICE", "SlicedTexts", "StagedFrame", "read_staged_rows"]

SLICE = 100_000  # rows a slice (and a row group of the snapshot)


class StagedFrame:
    """A frame in a parquet file, read a slice of some of its columns at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        meta = pq.ParquetFile(path).metadata
        self.n_rows = int(meta.num_rows)
        self.columns = list(meta.schema.to_arrow_schema().names)

    def slices(self, columns: list[str]) -> Iterator[tuple[int, dict[str, list[Any]]]]:
        """(first row, {column: values}) for each slice, in row order."""
        offset = 0
        for batch in pq.ParquetFile(self.path).iter_batches(batch_size=SLICE, columns=columns):
            yield offset, batch.to_pydict()
            offset += batch.num_rows


class SlicedTexts(Sequence[Any]):
    """Every row's text (the `text=` column or the rendered `prompt=`), one slice in memory.

    Rows are asked for in increasing order by the passes over a job's rows; asking for an
    earlier row starts reading the file again.
    """

    def __init__(self, staged: StagedFrame, req: JobRequest, needed: list[str]) -> None:
        self._staged, self._req, self._needed = staged, req, needed
        self._slices: Iterator[tuple[int, dict[str, list[Any]]]] | None = None
        self._start = 0
        self._texts: list[Any] = []

    def __len__(self) -> int:
        return self._staged.n_rows

    @overload
    def __getitem__(self, row: int) -> Any: ...

    @overload
    def __getitem__(self, row: slice) -> Sequence[Any]: ...

    def __getitem__(self, row: int | slice) -> Any:
        if isinstance(row, slice):
            start, stop, step = row.indices(len(self))
            if step != 1:
                return [self[i] for i in range(start, stop, step)]
            out: list[Any] = []
            while start < stop:  # a slice's worth of rows at a time
                if not self._start <= start < self._start + len(self._texts):
                    self._seek(start)
                end = min(stop, self._start + len(self._texts))
                out += self._texts[start - self._start : end - self._start]
                start = end
            return out
        if not self._start <= row < self._start + len(self._texts):
            self._seek(row)
        return self._texts[row - self._start]

    def _seek(self, row: int) -> None:
        if not 0 <= row < len(self):
            raise IndexError(row)
        if self._slices is None or row < self._start:
            self._slices = self._staged.slices(self._needed)
            self._start, self._texts = 0, []
        while not self._start <= row < self._start + len(self._texts):
            offset, data = next(self._slices)
            req, n = self._req, len(next(iter(data.values())))
            self._start = offset
            self._texts = build_texts(data, req.text, req.prompt, n, offset)


def read_staged_rows(staged: StagedFrame, req: JobRequest, needed: list[str]) -> Rows:
    """The checked ids and the texts of a staged frame, reading it a slice at a time.

    The ids are checked columnar (polars, on the file) and read again a slice at a time for
    the job's identity, never held all at once; only a refused id column is read whole, to
    name its rows. Arrow strings are valid UTF-8 by construction, so the UTF-8 checks of
    in-memory frames are not needed here.
    """
    where = f"text column {req.text!r}" if req.text else "the rendered prompt"
    skipped: list[int] = []
    for offset, data in staged.slices(needed):
        n = len(next(iter(data.values())))
        texts = build_texts(data, req.text, req.prompt, n, offset)
        skipped += check_texts(texts, where, req.skip_empty, offset)
    sliced = SlicedTexts(staged, req, needed)
    if req.id is None:
        return Rows(None, sliced, skipped)
    id_col = req.id
    if not frames.parquet_ids_plainly_fine(staged.path, id_col):
        check_ids([v for _, data in staged.slices([id_col]) for v in data[id_col]], id_col)

    def id_reader() -> Iterator[list[Any]]:
        return (data[id_col] for _, data in staged.slices([id_col]))

    return Rows(None, sliced, skipped, id_reader=id_reader)
