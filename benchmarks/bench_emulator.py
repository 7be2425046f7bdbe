"""How fast the emulator answers: the fake model alone, and whole batches over HTTP.

Prints rows per second for

- the fake model alone, per kind: chat complete, chat classify (a 3-property json_schema),
  embeddings (256 dimensions, and 1536 with ``--dims``), Anthropic classify (output_config):
  first as a batch answers its rows (``openai_answers_json``/``anthropic_answers_json``,
  512 rows at a time, each answer straight to JSON bytes, the plain path for the rows they
  leave; Anthropic rows pass the batch checks first), then through the dict API
  (``openai_answer``/``anthropic_answer`` + ``orjson.dumps``, one row at a time);
- a whole OpenAI batch end to end through the loopback HTTP server, instant timing: upload a
  JSONL file of ``--rows`` chat lines, create the batch, read it (which runs every request),
  download the output file; and the same for an Anthropic Message Batch (create, read,
  download the results);
- for chat classify, its pinned hashes alone: each row's seed, id and schema draws, which
  the same answers for the same seed require: the most any fake model could reach here;
- the yardstick: ``orjson.loads`` + ``orjson.dumps`` of every input line, the least any
  emulator must do per row, measured in the same run.

The peak memory printed is the process's peak resident set (client and emulator together).

    .venv/bin/python benchmarks/bench_emulator.py --rows 100000
    .venv/bin/python benchmarks/bench_emulator.py --rows 20000 --only model
"""

from __future__ import annotations

import argparse
import resource
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import httpx
import orjson

from llmbatch.emulator import serve
from llmbatch.emulator.anthropic_row_checks import params_errors
from llmbatch.emulator.fake_model import (
    SLICE,
    anthropic_answer,
    anthropic_answers_json,
    openai_answer,
    openai_answers_json,
)

CHAT = "/v1/chat/completions"
DEFAULT_CREATED = 1767225600
CHUNK = SLICE  # rows answered together, as the batch runner does
WARM = 600  # rows answered before timing a kind (enough to draw ids with numpy)
CLASSIFY = {
    "type": "object",
    "properties": {
        "label": {"type": "string", "enum": ["positive", "negative", "neutral"]},
        "confidence": {"type": "number"},
        "stars": {"type": "integer"},
    },
    "required": ["label", "confidence", "stars"],
    "additionalProperties": False,
}
FORMAT = {"type": "json_schema", "json_schema": {"name": "c", "schema": CLASSIFY, "strict": True}}


def _text(index: int) -> str:
    return f"Review {index}: arrived late, works fine, the battery could last longer."


def chat_body(index: int, classify: bool = False) -> dict[str, Any]:
    """One chat completions body (with the classify response_format when asked)."""
    body: dict[str, Any] = {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "Classify the review."},
            {"role": "user", "content": _text(index)},
        ],
    }
    if classify:
        body["response_format"] = FORMAT
    return body


def embedding_body(index: int, dims: int) -> dict[str, Any]:
    return {"model": "text-embedding-3-small", "input": _text(index), "dimensions": dims}


def anthropic_params(index: int) -> dict[str, Any]:
    return {
        "model": "claude-haiku-4-5",
        "max_tokens": 64,
        "system": "Classify the review.",
        "messages": [{"role": "user", "content": _text(index)}],
        "output_config": {"format": {"type": "json_schema", "schema": CLASSIFY}},
    }


def _rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:>10,.0f} rows/s  ({seconds:6.2f} s for {rows:,})"


def _timed(label: str, rows: int, run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    seconds = time.perf_counter() - start
    print(f"  {label:<34}{_rate(rows, seconds)}")
    return seconds


def bench_model(rows: int, dims: list[int]) -> None:
    """The fake model alone: answer and serialise (as a batch line does) each prebuilt body."""
    print(f"fake model alone ({rows:,} distinct bodies per kind)")
    salts = [f"r{i}" for i in range(rows)]
    embed = "/v1/embeddings"
    kinds: list[tuple[str, str, list[dict[str, Any]]]] = [
        ("chat complete", CHAT, [chat_body(i) for i in range(rows)]),
        ("chat classify", CHAT, [chat_body(i, True) for i in range(rows)]),
        *[
            (f"embeddings {d}-dim", embed, [embedding_body(i, d) for i in range(rows)])
            for d in dims
        ],
        ("anthropic classify", "anthropic", [anthropic_params(i) for i in range(rows)]),
    ]
    for label, url, bodies in kinds:
        lines = _anthropic_lines if url == "anthropic" else partial(_openai_lines, url)
        lines(bodies[:WARM], salts[:WARM])  # untimed: imports (numpy) and per-batch plans
        _timed(label, rows, lambda b=bodies, f=lines: f(b, salts))
        plain = _anthropic_plain if url == "anthropic" else partial(_openai_plain, url)
        _timed(f"  {label} (dict API)", rows, lambda b=bodies, f=plain: f(b, salts))
        if label == "chat classify":
            _timed("  its pinned hashes alone", rows, lambda b=bodies: _pinned_hashes(b, salts))


def _pinned_hashes(bodies: list[dict[str, Any]], salts: list[str]) -> None:
    """Only the hashes a chat classify answer is drawn from, a chunk at a time, with the
    emulator's own column code: each row's seed (its messages' canonical JSON), its id, and
    one keyed draw per schema property that varies. Same answers for the same seed means
    these exact hashes, so their rate is the most any fake model could reach here."""
    from llmbatch.emulator.fake_chat_columns import _seeds
    from llmbatch.emulator.fake_chat_line import chat_plan
    from llmbatch.emulator.fake_columns import id_hashes
    from llmbatch.emulator.fake_schema_columns import _draws, flat_schema

    plan = chat_plan.many(bodies[:1])[0]  # every body has the same rest: one plan
    flat = flat_schema(plan.compiled)
    assert flat is not None
    for start in range(0, len(bodies), CHUNK):
        chunk, chunk_salts = bodies[start : start + CHUNK], salts[start : start + CHUNK]
        rows = [
            (body, DEFAULT_CREATED, salt) for body, salt in zip(chunk, chunk_salts, strict=True)
        ]
        seeds = _seeds(plan, rows, [body["messages"] for body in chunk])
        id_hashes("chatcmpl-", 29, seeds, chunk_salts)
        _draws(seeds, flat.draws)


def _openai_lines(url: str, bodies: list[dict[str, Any]], salts: list[str]) -> list[bytes]:
    """Each answer's JSON bytes as the batch runner gets them: a chunk at a time, the plain
    path for the rows the shortcut leaves."""
    out = []
    for start in range(0, len(bodies), CHUNK):
        chunk = zip(bodies[start : start + CHUNK], salts[start : start + CHUNK], strict=True)
        rows = [(body, DEFAULT_CREATED, salt) for body, salt in chunk]
        for (body, created, salt), fast in zip(rows, openai_answers_json(url, rows), strict=True):
            if fast is None:
                fast = (orjson.dumps(openai_answer(url, body, created=created, salt=salt)[1]),)
            out.append(fast[0])
    return out


def _anthropic_lines(params: list[dict[str, Any]], salts: list[str]) -> list[bytes]:
    """The batch checks, then each Message's JSON bytes a chunk at a time (plain fallback)."""
    out = []
    for start in range(0, len(params), CHUNK):
        rows = list(zip(params[start : start + CHUNK], salts[start : start + CHUNK], strict=True))
        problems = params_errors([p for p, _ in rows])
        asked = [(p if e is None else None, s) for (p, s), e in zip(rows, problems, strict=True)]
        for (one, salt), fast in zip(rows, anthropic_answers_json(asked), strict=True):
            out.append(fast or orjson.dumps(anthropic_answer(one, salt=salt)))
    return out


def _openai_plain(url: str, bodies: list[dict[str, Any]], salts: list[str]) -> list[bytes]:
    return [orjson.dumps(openai_answer(url, b, salt=s)) for b, s in zip(bodies, salts, strict=True)]


def _anthropic_plain(params: list[dict[str, Any]], salts: list[str]) -> list[bytes]:
    return [orjson.dumps(anthropic_answer(p, salt=s)) for p, s in zip(params, salts, strict=True)]


def openai_file(rows: int, classify: bool) -> bytes:
    """A JSONL batch input file of `rows` chat lines."""
    return b"".join(
        orjson.dumps({"custom_id": f"r{i}", "method": "POST", "url": CHAT, "body": body}) + b"\n"
        for i, body in ((i, chat_body(i, classify)) for i in range(rows))
    )


def yardstick(data: bytes) -> None:
    """`orjson.loads` + `orjson.dumps` of each line: the least work per row."""
    lines = data.splitlines()
    _timed(
        "yardstick loads+dumps per line",
        len(lines),
        lambda: [orjson.dumps(orjson.loads(line)) for line in lines],
    )


def bench_openai_batch(http: httpx.Client, data: bytes, rows: int, label: str) -> None:
    """Upload, create, read (runs every request), download; print each phase and the total."""
    start = time.perf_counter()
    form = {"purpose": "batch"}
    upload = http.post("/v1/files", files={"file": ("in.jsonl", data)}, data=form).json()
    body = {"input_file_id": upload["id"], "endpoint": CHAT, "completion_window": "24h"}
    created = http.post("/v1/batches", json=body).json()
    ran = time.perf_counter()
    batch = http.get(f"/v1/batches/{created['id']}").json()
    done = time.perf_counter()
    assert batch["status"] == "completed", batch
    output = http.get(f"/v1/files/{batch['output_file_id']}/content").content
    end = time.perf_counter()
    assert output.count(b"\n") == rows
    print(
        f"  {label}: upload+create {ran - start:.2f} s, run {done - ran:.2f} s, "
        f"download {end - done:.2f} s"
    )
    print(f"  {label + ' end to end':<34}{_rate(rows, end - start)}")


def bench_anthropic_batch(http: httpx.Client, rows: int) -> None:
    """Create (validate), read (runs every request), download results."""
    requests = [{"custom_id": f"r{i}", "params": anthropic_params(i)} for i in range(rows)]
    payload = orjson.dumps({"requests": requests})
    headers = {"content-type": "application/json"}
    start = time.perf_counter()
    created = http.post("/v1/messages/batches", content=payload, headers=headers).json()
    batch = http.get(f"/v1/messages/batches/{created['id']}").json()
    assert batch["processing_status"] == "ended", batch
    results = http.get(f"/v1/messages/batches/{created['id']}/results").content
    seconds = time.perf_counter() - start
    assert results.count(b"\n") == rows
    print(f"  {'anthropic classify end to end':<34}{_rate(rows, seconds)}")


def bench_batches(rows: int) -> None:
    print(f"whole batches over loopback HTTP ({rows:,} rows, instant timing)")
    complete, classify = openai_file(rows, False), openai_file(rows, True)
    yardstick(classify)
    limits = {"openai_max_requests": rows, "openai_max_embedding_inputs": rows}
    auth = {"Authorization": "Bearer t", "x-api-key": "t", "anthropic-version": "2023-06-01"}
    with serve(**limits) as emu, httpx.Client(base_url=emu.url, headers=auth, timeout=600) as http:
        bench_openai_batch(http, complete, rows, "chat complete")
        bench_openai_batch(http, classify, rows, "chat classify")
        emu.reset()
        bench_anthropic_batch(http, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--model-rows", type=int, default=None, help="default: --rows")
    parser.add_argument("--dims", type=int, nargs="+", default=[256, 1536])
    parser.add_argument("--only", choices=("model", "batch"), default=None)
    args = parser.parse_args()
    if args.only != "batch":
        bench_model(args.model_rows or args.rows, args.dims)
    if args.only != "model":
        bench_batches(args.rows)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory: {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
