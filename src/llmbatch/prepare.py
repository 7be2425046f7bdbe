"""Frame → checked texts → request lines → shard files on disk, all before any network call.

Shards are cut by the provider's limits measured on the serialised lines (count, bytes,
embedding inputs) and streamed to `requests/NNNN.jsonl`; the whole job never sits in memory
as one string. The job's identity hash is computed on the way.
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from tqdm.auto import tqdm

from llmbatch._exceptions import InputError
from llmbatch.ids import is_missing, shown, wire_id
from llmbatch.manifest import Shard
from llmbatch.tasks import body_template, render

__all__ = [
    "Limits",
    "PreparedShard",
    "build_texts",
    "check_texts",
    "check_utf8",
    "is_utf8",
    "ranges",
    "unranges",
    "write_shards",
]

_FORMAT_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError)


@dataclass(frozen=True)
class Limits:
    """One provider's per-batch limits (tests pass tiny ones)."""

    max_requests: int
    max_bytes: int
    max_embedding_inputs: int | None = None
    shard_overhead: int = 0  # bytes the envelope adds (Anthropic: '{"requests":[...]}')
    line_overhead: int = 1  # bytes each line adds besides itself (newline or comma)

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_requests": self.max_requests,
            "max_bytes": self.max_bytes,
            "max_embedding_inputs": self.max_embedding_inputs,
        }


@dataclass
class PreparedShard:
    index: int
    path: Path
    rows: list[int] = field(default_factory=list)
    bytes: int = 0
    sha256: str = ""

    def to_shard(self, attempt: int, root: Path) -> Shard:
        """The shard's manifest entry: written locally, not yet sent."""
        return Shard(
            index=self.index,
            attempt=attempt,
            path=str(self.path.relative_to(root)),
            rows=ranges(self.rows),
            n=len(self.rows),
            bytes=self.bytes,
            sha256=self.sha256,
        )


def ranges(rows: Sequence[int]) -> list[list[int]]:
    """Sorted row positions as [[start, stop), ...] runs (compact in the manifest)."""
    out: list[list[int]] = []
    for r in rows:
        if out and out[-1][1] == r:
            out[-1][1] = r + 1
        else:
            out.append([r, r + 1])
    return out


def unranges(runs: Sequence[Sequence[int]]) -> Iterator[int]:
    for start, stop in runs:
        yield from range(start, stop)


def placeholders(template: str) -> list[str]:
    """The `{column}` names a prompt template uses."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        msg = f"prompt template is malformed: {exc}\nHint: write literal braces as {{{{ and }}}}."
        raise InputError(msg) from None
    if not fields or not all(fields):
        msg = f"prompt template {template!r} has no usable {{column}} placeholders"
        raise InputError(msg + "\nHint: e.g. prompt='Title: {title}\\n\\n{body}'.")
    return list(dict.fromkeys(fields))


def build_texts(
    columns: dict[str, list[Any]], text: str | None, prompt: str | None, n: int
) -> list[Any]:
    """The text of each row: the `text` column as is, or the rendered `prompt` template."""
    if text is not None:
        return columns[text]
    assert prompt is not None
    used = {c: columns[c] for c in placeholders(prompt)}
    for name, values in used.items():
        nulls = [i for i, v in enumerate(values) if v is None or (isinstance(v, float) and v != v)]
        if nulls:
            msg = f"column {name!r} used by the prompt has nulls at rows {shown(nulls)}"
            raise InputError(msg + "\nHint: fill or drop them first.")
    try:
        return render(prompt, used, n)
    except _FORMAT_ERRORS as exc:
        raise _render_error(prompt, used, exc) from None


def _render_error(template: str, columns: dict[str, list[Any]], exc: Exception) -> InputError:
    """Which placeholder fails, on which rows, and why (run only once rendering has failed)."""
    names = list(columns)
    rows = [dict(zip(names, v, strict=True)) for v in zip(*columns.values(), strict=True)]
    bad = [i for i, row in enumerate(rows) if _fails(template, row)]
    first = rows[bad[0]] if bad else {}
    pieces = [_piece(f, spec, conv) for _, f, spec, conv in string.Formatter().parse(template) if f]
    piece = next((p for p in pieces if _fails(p, first)), template)
    field = re.split(r"[:!]", piece.strip("{}"), maxsplit=1)[0]
    column = re.split(r"[.\[]", field, maxsplit=1)[0]
    msg = f"prompt placeholder {piece!r} cannot format column {column!r} at rows {shown(bad)}"
    if field != column:
        hint = "'.' and '[' in a placeholder read an attribute or item; rename such columns."
    else:
        value = first.get(column)
        hint = (
            f"row {bad[0] if bad else 0} holds {type(value).__name__} {repr(value)[:60]}; fix "
            "the format spec, or convert the column first (e.g. to int for ':d')."
        )
    return InputError(f"{msg}: {exc}\nHint: {hint}")


def _piece(field: str, spec: str | None, conversion: str | None) -> str:
    conv = f"!{conversion}" if conversion else ""
    return "{" + field + conv + (f":{spec}" if spec else "") + "}"


def _fails(template: str, row: dict[str, Any]) -> bool:
    try:
        template.format_map(row)
    except _FORMAT_ERRORS:
        return True
    return False


def check_utf8(values: list[Any], where: str) -> None:
    """Refuse text holding a lone surrogate (not valid UTF-8, so not JSON), naming the rows.

    `str.isascii()` is O(1) in CPython, so only non-ASCII texts are encoded to find them.
    """
    bad = [
        i for i, v in enumerate(values) if isinstance(v, str) and not v.isascii() and not is_utf8(v)
    ]
    if bad:
        msg = (
            f"{where} holds text that is not valid UTF-8 (a lone surrogate such as '\\udc80') "
            f"at rows {shown(bad)}\nHint: repair it, e.g. text.encode('utf-8', 'replace')"
            ".decode(); it often comes from decoding bytes with errors='surrogateescape'."
        )
        raise InputError(msg)


def is_utf8(text: str) -> bool:
    """Whether `text` encodes as UTF-8 (a lone surrogate does not)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_texts(texts: list[Any], where: str, skip_empty: bool) -> list[int]:
    """Refuse non-string / null / empty texts naming rows; with skip_empty, return those rows."""
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str) and not is_missing(t)]
    if bad:
        kinds = sorted({type(texts[i]).__name__ for i in bad})
        msg = f"{where} holds non-string values ({', '.join(kinds)}) at rows {shown(bad)}"
        raise InputError(msg + "\nHint: convert the column to strings first.")
    empty = [i for i, t in enumerate(texts) if not isinstance(t, str) or not t.strip()]
    if empty and not skip_empty:
        msg = f"{where} has {len(empty)} null or empty text(s) at rows {shown(empty)}"
        raise InputError(msg + "\nHint: drop them, or pass skip_empty=True to mark them as errors.")
    return empty


def write_shards(
    texts: list[Any],
    rows: Sequence[int],
    *,
    spec: Any,
    tag: str,
    line: Callable[[str, bytes], bytes],
    limits: Limits,
    shard_path: Callable[[int], Path],
    first_index: int = 0,
    hasher: Any = None,
    text_hasher: Any = None,
) -> list[PreparedShard]:
    """Stream the request lines of `rows` into shard files cut at the provider's limits.

    `hasher` gets every row's body (the job's identity), `text_hasher` every row's text alone
    (to say "the texts differ" when a name is reused), both on the way, without a second pass.
    """
    prefix, suffix = body_template(spec)
    shards: list[PreparedShard] = []
    current: PreparedShard | None = None
    fh: Any = None
    digest: Any = None
    progress = tqdm(total=len(rows), desc="preparing", unit="rows", delay=1.0, leave=False)
    try:
        for row in rows:
            text = orjson.dumps(texts[row])
            body = prefix + text + suffix
            data = line(wire_id(tag, row), body)
            size = len(data) + limits.line_overhead
            if size + limits.shard_overhead > limits.max_bytes:
                msg = (
                    f"row {row} makes a request of {size:,} bytes, more than the provider "
                    f"allows in one batch ({limits.max_bytes:,} bytes)\nHint: shorten that text."
                )
                raise InputError(msg)
            if current is None or _full(current, size, limits):
                if fh is not None:
                    fh.close()
                    assert current is not None
                    current.sha256 = digest.hexdigest()
                current = PreparedShard(
                    first_index + len(shards), shard_path(first_index + len(shards))
                )
                current.bytes = limits.shard_overhead
                shards.append(current)
                fh = current.path.open("wb")
                current.path.chmod(0o600)
                digest = hashlib.sha256()
            data += b"\n"
            fh.write(data)
            digest.update(data)  # the file's exact bytes, checked before upload
            if hasher is not None:
                key = str(row).encode() + b"\x00"
                hasher.update(key + body + b"\n")
                if text_hasher is not None:
                    text_hasher.update(key + text + b"\n")
            current.rows.append(row)
            current.bytes += size
            progress.update(1)
    finally:
        progress.close()
        if fh is not None:
            fh.close()
    if current is not None:
        current.sha256 = digest.hexdigest()
    return shards


def _full(shard: PreparedShard, size: int, limits: Limits) -> bool:
    if len(shard.rows) + 1 > limits.max_requests:
        return True
    if (
        limits.max_embedding_inputs is not None
        and len(shard.rows) + 1 > limits.max_embedding_inputs
    ):
        return True
    return shard.bytes + size > limits.max_bytes
