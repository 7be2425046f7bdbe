"""The parsing half of the step functions: result content → a frame keyed by `custom_id`.

`steps.openai_parse` and `steps.anthropic_results` read provider output the user fetched
themselves; the lines go through the same parsers and the same `results` code as a job's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from llmbatch import frames
from llmbatch._exceptions import InputError
from llmbatch._json import loads
from llmbatch.pipeline import JobRequest, task_spec
from llmbatch.results import Outcome, Outcomes, answer_table, line_outcome
from llmbatch.tasks import TaskSpec

__all__ = ["check_kind", "is_file", "json_lines", "parse_spec", "to_frame"]

KINDS = ("embed", "complete", "classify")


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        msg = f"kind must be one of {list(KINDS)}, got {kind!r}\nHint: kind='complete'."
        raise InputError(msg)


def is_file(text: str) -> bool:
    try:
        return Path(text).is_file()
    except (OSError, ValueError):  # too long for a file name, a NUL byte, ...
        return False


def _raw(content: bytes | str | Path) -> bytes:
    """JSONL content given as bytes, text, or a file path (a `Path`, or a str naming a file)."""
    if isinstance(content, str):
        if not content.strip() or content.lstrip().startswith("{"):
            return content.encode()
        if not is_file(content):
            msg = f"{content[:80]!r} is neither JSONL content nor an existing file"
            raise InputError(msg + "\nHint: pass the content (bytes or text), or a file path.")
        content = Path(content)
    if isinstance(content, Path):
        return content.read_bytes()
    return bytes(content)


def json_lines(content: bytes | str | Path) -> Iterator[dict[str, Any]]:
    for number, raw in enumerate(_raw(content).splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            line = loads(raw)
        except orjson.JSONDecodeError as exc:
            msg = f"line {number} is not JSON ({exc}): {raw[:80]!r}"
            hint = "\nHint: pass the file content as the API returned it."
            raise InputError(msg + hint) from None
        if not isinstance(line, dict):
            msg = f"line {number} is not a JSON object: {raw[:80]!r}"
            raise InputError(msg + "\nHint: each line is one result object.")
        yield line


def to_frame(
    spec: TaskSpec,
    lines: Iterable[tuple[str, str, Any, Any]],
    reply: Any,
    library: str,
    options: dict[str, Any],
) -> Any:
    order: dict[str, int] = {}
    results: list[tuple[int, Outcome]] = []
    for custom_id, kind, payload, message in lines:
        row = order.setdefault(custom_id, len(order))
        results.append((row, line_outcome(reply, kind, payload, message)))
    outcomes = Outcomes(len(order))
    for row, outcome in results:
        outcomes.record(row, outcome)
    table = answer_table(spec, outcomes, options)
    if "custom_id" in table.column_names:
        msg = "an answer column is named 'custom_id', the key column of this frame"
        raise InputError(msg + "\nHint: rename that schema property (or label_column=).")
    table = table.add_column(0, "custom_id", pa.array(list(order), type=pa.string()))
    return frames.from_arrow(table, library)


def parse_spec(
    kind: str,
    provider: str,
    schema: Any,
    endpoint: str | None,
    label_column: str,
    library: str,
    relax: bool = False,
) -> TaskSpec:
    """What parsing needs of the task (checked before any download, like `library`).

    `relax` must match the prepare call: answers are validated against the schema as sent.
    """
    check_kind(kind)
    frames.check_library(library)
    spec = task_spec(
        JobRequest(
            kind=kind,
            provider=provider,
            schema=schema,
            label_column=label_column,
            model="any",
            relax=relax,
        ),
        provider,
    )
    if endpoint:
        spec.endpoint = endpoint
    return spec
