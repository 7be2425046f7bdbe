"""Prepare's chunked hot loops write exactly what one line (and one digest update) per row did."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import orjson
import pytest

from llmbatch import json_texts
from llmbatch.ids import wire_id
from llmbatch.prepare import Limits, line_template, text_chunks, write_shards
from llmbatch.providers import anthropic_wire, openai_wire
from llmbatch.quota import estimate_shard_tokens
from llmbatch.reuse import KEY_SIZE, digest_rows, key_of
from llmbatch.tasks import TaskSpec, body_template

TEXTS = [
    f'text {i} with % signs, "quotes", ünïcode and\nnewlines' * (1 + i % 7) for i in range(997)
]
SPECS = {
    "openai": (TaskSpec("complete", "openai", "gpt-4.1-mini", "/v1/chat/completions",
                        system_prompt="Say 100% of it"), openai_wire.line),
    "anthropic": (TaskSpec("complete", "anthropic", "claude-haiku-4-5", "/v1/messages",
                           system_prompt="%d %s %%"), anthropic_wire.line),
}  # fmt: skip


def _line(provider: str):  # type: ignore[no-untyped-def]
    spec, line = SPECS[provider]
    return spec, lambda cid, body: line(cid, spec.endpoint, body)


def _one_by_one(spec: TaskSpec, line, rows, limits: Limits) -> list[list[bytes]]:  # type: ignore[no-untyped-def]
    """The shards a line-at-a-time writer cuts: a new one when a line would pass a limit."""
    prefix, suffix = body_template(spec)
    shards: list[list[bytes]] = []
    size = 0
    for r in rows:
        data = line(wire_id("ab12cd", r), prefix + orjson.dumps(TEXTS[r]) + suffix)
        need = len(data) + limits.line_overhead
        cap = min(limits.max_requests, limits.max_embedding_inputs or limits.max_requests)
        if not shards or len(shards[-1]) + 1 > cap or size + need > limits.max_bytes:
            shards.append([])
            size = limits.shard_overhead
        shards[-1].append(data)
        size += need
    return shards


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize(
    "limits",
    [
        Limits(50_000, 200 * 1024**2),
        Limits(64, 10**9),
        Limits(10**6, 40_000, shard_overhead=20, line_overhead=1),
        Limits(100, 10**9, max_embedding_inputs=37),
    ],
    ids=["roomy", "by-count", "by-bytes", "by-inputs"],
)
@pytest.mark.parametrize("gaps", [False, True], ids=["all-rows", "some-rows"])
def test_shards_are_the_line_at_a_time_shards(
    tmp_path: Path, provider: str, limits: Limits, gaps: bool
) -> None:
    spec, line = _line(provider)
    rows = [r for r in range(len(TEXTS)) if r % 5 != 3] if gaps else range(len(TEXTS))
    shards = write_shards(
        TEXTS, rows, spec=spec, tag="ab12cd", line=line, limits=limits,
        shard_path=lambda i: tmp_path / f"{i:04d}.jsonl",
    )  # fmt: skip
    expected = _one_by_one(spec, line, rows, limits)
    assert [s.path.read_bytes() for s in shards] == [
        b"".join(x + b"\n" for x in e) for e in expected
    ]
    assert [s.n for s in shards] == [len(e) for e in expected]
    assert [r for s in shards for r in s.rows] == list(rows)
    for shard, lines in zip(shards, expected, strict=True):
        data = shard.path.read_bytes()
        assert shard.sha256 == hashlib.sha256(data).hexdigest()
        assert shard.bytes == limits.shard_overhead + sum(
            len(x) + limits.line_overhead for x in lines
        )
        assert shard.bytes <= limits.max_bytes


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_the_template_is_the_providers_line(provider: str) -> None:
    spec, line = _line(provider)
    prefix, suffix = body_template(spec)
    template = line_template(line, "0f9e", prefix, suffix)
    assert template is not None
    for row, text in ((0, ""), (7, "50% off"), (123456789, '\u2028 \\ " %s %d')):
        dumped = orjson.dumps(text)
        assert template % (row, dumped) == line(wire_id("0f9e", row), prefix + dumped + suffix)


def test_a_tag_that_would_need_escaping_falls_back_to_line() -> None:
    spec, line = _line("openai")
    prefix, suffix = body_template(spec)
    assert line_template(line, 'a"b', prefix, suffix) is None


def test_digests_are_those_of_one_update_per_row() -> None:
    spec, _ = _line("openai")
    prefix, suffix = body_template(spec)
    header = b'["openai","http://x","/v1/chat/completions"]\n'
    rows = [r for r in range(len(TEXTS)) if r % 3]
    hasher, text_hasher = hashlib.blake2b(digest_size=16), hashlib.blake2b(digest_size=16)
    keys = digest_rows(spec, TEXTS, rows, header, hasher, text_hasher)
    want, want_texts = hashlib.blake2b(digest_size=16), hashlib.blake2b(digest_size=16)
    want_keys = bytearray(KEY_SIZE * len(TEXTS))
    for r in rows:
        text = orjson.dumps(TEXTS[r])
        body = prefix + text + suffix
        want_keys[KEY_SIZE * r : KEY_SIZE * (r + 1)] = hashlib.blake2b(
            header + body, digest_size=KEY_SIZE
        ).digest()
        want.update(str(r).encode() + b"\x00" + body + b"\n")
        want_texts.update(str(r).encode() + b"\x00" + text + b"\n")
    assert keys == want_keys
    assert hasher.hexdigest() == want.hexdigest()
    assert text_hasher.hexdigest() == want_texts.hexdigest()


# every character JSON escapes, with its neighbours, between ordinary and non-ASCII text;
# a row of each alone, and one long row
ODD = [chr(c) for c in range(0x80)] + [
    "", " ", '"', "\\", '\\"', "\\u0000", "%d %s %%", "\x7f", "\u2028\u2029", "\ufeff",
    "é\"\n\t\\ü", "😀" * 3, "a\x00b\x1fc", "".join(chr(c) for c in range(0x80)) * 50,
]  # fmt: skip


def test_dumped_texts_are_orjsons_bytes() -> None:
    dumped = json_texts.dumped(ODD)
    assert dumped is not None
    assert dumped.to_pylist() == [orjson.dumps(t) for t in ODD]
    window = dumped.slice(3, 40)  # a slice reads its own rows out of the shared buffer
    assert bytes(json_texts.values(window)) == b"".join(orjson.dumps(t) for t in ODD[3:43])
    ends = itertools.accumulate(len(orjson.dumps(t)) for t in ODD[3:43])
    assert json_texts.offsets(window).tolist() == [0, *ends]


@pytest.mark.parametrize("values", [[1, "a"], ["a", None], ["\ud800"], [b"x"]])
def test_what_arrow_cannot_take_is_left_to_the_row_by_row_path(values: list[object]) -> None:
    assert json_texts.dumped(values) is None


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_odd_texts_make_the_providers_lines_and_digests(tmp_path: Path, provider: str) -> None:
    spec, line = _line(provider)
    texts = ODD * 3
    rows = [r for r in range(len(texts)) if r % 4 != 1]
    shards = write_shards(
        texts, rows, spec=spec, tag="ab12cd", line=line, limits=Limits(50, 10**9),
        shard_path=lambda i: tmp_path / f"{i:04d}.jsonl",
    )  # fmt: skip
    prefix, suffix = body_template(spec)
    assert b"".join(s.path.read_bytes() for s in shards) == b"".join(
        line(wire_id("ab12cd", r), prefix + orjson.dumps(texts[r]) + suffix) + b"\n" for r in rows
    )
    # the enqueued-token estimate made on the way is the one read back from the file
    assert [s.tokens for s in shards] == [estimate_shard_tokens(s.path) for s in shards]
    header = b'["%s","http://x","/v1"]\n' % provider.encode()
    hasher, text_hasher = hashlib.blake2b(digest_size=16), hashlib.blake2b(digest_size=16)
    keys = digest_rows(spec, texts, rows, header, hasher, text_hasher)
    want = hashlib.blake2b(digest_size=16)
    for r in rows:
        body = prefix + orjson.dumps(texts[r]) + suffix
        assert key_of(keys, r) == hashlib.blake2b(header + body, digest_size=16).digest()
        want.update(b"%d\x00%s\n" % (r, body))
    assert hasher.hexdigest() == want.hexdigest()


def test_a_chunk_arrow_cannot_take_digests_row_by_row(tmp_path: Path) -> None:
    """A chunk holding a value the columnar path does not take goes row by row, to the same
    bytes (texts are checked to be str before this; here an int stands in)."""
    spec, _ = _line("openai")
    prefix, suffix = body_template(spec)
    texts = ["plain", 7, "after"]  # 7: Arrow refuses the chunk; orjson dumps it as b"7"
    hasher, text_hasher = hashlib.blake2b(digest_size=16), hashlib.blake2b(digest_size=16)
    keys = digest_rows(spec, texts, range(3), b"h\n", hasher, text_hasher)
    want = hashlib.blake2b(digest_size=16)
    for r, text in enumerate(texts):
        body = prefix + orjson.dumps(text) + suffix
        assert key_of(keys, r) == hashlib.blake2b(b"h\n" + body, digest_size=16).digest()
        want.update(b"%d\x00%s\n" % (r, body))
    assert hasher.hexdigest() == want.hexdigest()
    line = SPECS["openai"][1]
    for tag in ("ab12cd", 'a"b'):  # by the line template, and by the provider's line itself
        (shard,) = write_shards(
            texts, range(3), spec=spec, tag=tag, line=lambda c, b: line(c, spec.endpoint, b),
            limits=Limits(50, 10**9), shard_path=lambda i, t=tag: tmp_path / f"{t}{i}.jsonl",
        )  # fmt: skip
        assert shard.path.read_bytes() == b"".join(
            line(wire_id(tag, r), spec.endpoint, prefix + orjson.dumps(t) + suffix) + b"\n"
            for r, t in enumerate(texts)
        )
        assert shard.tokens == estimate_shard_tokens(shard.path)


def test_identity_and_keys_are_those_of_earlier_versions() -> None:
    """Pinned: a job's identity and its request keys must not change between versions (a
    re-call after an upgrade would otherwise make a new job and pay again, and earlier
    answers would no longer be found for reuse). Computed by the row-at-a-time code."""
    spec = TaskSpec(
        "classify", "openai", "gpt-4.1-mini", "/v1/chat/completions",
        schema={"type": "object", "properties": {"label": {"type": "string", "enum": ["a", "b"]}},
                "required": ["label"], "additionalProperties": False},
    )  # fmt: skip
    texts = [
        "".join(chr(c) for c in range(i % 128, i % 128 + 40)) + "é\u2028😀" * (i % 3)
        for i in range(300)
    ]
    hasher, text_hasher = hashlib.blake2b(digest_size=16), hashlib.blake2b(digest_size=16)
    rows = [r for r in range(300) if r % 7]
    header = b'["openai","http://x","/v1/chat/completions"]\n'
    keys = digest_rows(spec, texts, rows, header, hasher, text_hasher)
    assert hashlib.blake2b(bytes(keys), digest_size=16).hexdigest() == (
        "56115c0c31e4e2426794cf3adcbc5189"
    )
    assert hasher.hexdigest() == "59b8443a253aba22656b7a5951d1f822"
    assert text_hasher.hexdigest() == "e9f274c48fdba09e2f390b27cb57e5c7"


def test_long_texts_make_smaller_chunks(tmp_path: Path) -> None:
    """A chunk holds about `json_texts.ROW_BUDGET` bytes: long texts come fewer at a time,
    every row once and in order, and the shard is the same as with short chunks."""
    texts = [f"{i} " + "é" * (json_texts.ROW_BUDGET // 20) for i in range(100)]
    rows = [r for r in range(100) if r != 7]
    chunks = list(text_chunks(texts, rows, 300))
    assert [r for chunk, _ in chunks for r in chunk] == rows
    assert all(given == [texts[r] for r in chunk] for chunk, given in chunks)
    assert len(chunks) > 1
    assert max(sum(map(len, given)) for _, given in chunks) <= 2 * json_texts.ROW_BUDGET
    spec, line = _line("anthropic")
    (shard,) = write_shards(
        texts, rows, spec=spec, tag="ab12cd", line=line, limits=Limits(10**6, 10**10),
        shard_path=lambda i: tmp_path / f"{i}.jsonl",
    )  # fmt: skip
    prefix, suffix = body_template(spec)
    assert shard.path.read_bytes() == b"".join(
        line(wire_id("ab12cd", r), prefix + orjson.dumps(texts[r]) + suffix) + b"\n" for r in rows
    )
