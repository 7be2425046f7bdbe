"""The columns `collect()` adds to a frame, known before anything is sent.

A verb refuses, before sending, answers whose columns would collide with the frame's own (the
hint: `suffix=`), and answer columns that would start with '.', llmbatch's namespace.
"""

from __future__ import annotations

import re

from llmbatch import schema as schema_mod
from llmbatch._exceptions import InputError
from llmbatch.pipeline import JobRequest
from llmbatch.wire import TaskSpec

__all__ = ["RESERVED_COLUMNS", "answer_columns", "check_collisions", "planned_columns"]

# The columns llmbatch adds beside the answers: the leading dot is llmbatch's namespace.
RESERVED_COLUMNS = (
    ".error",
    ".error_msg",
    ".stop_reason",
    ".input_tokens",
    ".output_tokens",
    ".cache_read_tokens",
    ".cache_write_tokens",
)
_WIDE = re.compile(r"V[1-9][0-9]*")  # embed(wide=True) without dimensions: V1..Vn, n unknown


def answer_columns(spec: TaskSpec, req: JobRequest) -> list[str]:
    """The answer columns collect() will add (before the suffix); dot names are refused."""
    if spec.kind == "complete":
        names = [req.content_column]
    elif spec.kind == "embed":
        names = [f"V{j + 1}" for j in range(spec.dimensions or 0)] if req.wide else ["embedding"]
    else:
        assert spec.schema is not None
        names = [c.name for c in schema_mod.columns(spec.schema)]
    dotted = [n for n in names if n.startswith(".")]
    if dotted:
        msg = (
            f"answer column(s) {dotted} start with '.', which llmbatch keeps for the columns it "
            f"adds ({', '.join(RESERVED_COLUMNS)})\nHint: rename the schema property "
            "(or content_column= / label_column=) so it does not start with '.'."
        )
        raise InputError(msg)
    return names


def planned_columns(spec: TaskSpec, req: JobRequest) -> list[str]:
    """The columns collect() will add (before the suffix), to refuse collisions up front."""
    return [*answer_columns(spec, req), *RESERVED_COLUMNS]


def check_collisions(existing: list[str], planned: list[str], req: JobRequest) -> None:
    suffix = req.suffix
    clash = [c + suffix for c in planned if c + suffix in existing]
    if req.kind == "embed" and req.wide and req.dimensions is None:
        stems = [c[: len(c) - len(suffix)] for c in existing if c.endswith(suffix)]
        clash += [stem + suffix for stem in stems if _WIDE.fullmatch(stem)]
    if clash:
        wide = " (embed(wide=True) adds V1..Vn, one per dimension)" if req.wide else ""
        msg = (
            f"the frame already has column(s) {clash} that the answers would add{wide}\n"
            "Hint: pass suffix='_llm' (or rename those columns)."
        )
        raise InputError(msg)
