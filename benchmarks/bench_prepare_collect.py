"""Time prepare, submit+wait and collect at scale against the emulator; print rows/s and memory.

    .venv/bin/python benchmarks/bench_prepare_collect.py                  # 200,000 rows
    .venv/bin/python benchmarks/bench_prepare_collect.py --provider both --verb all
    .venv/bin/python benchmarks/bench_prepare_collect.py --library polars --verb classify
    .venv/bin/python benchmarks/bench_prepare_collect.py --rows 20000 --profile prof/
    .venv/bin/python benchmarks/bench_prepare_collect.py --rows 1000000 --sink  # parquet out

Each phase prints its wall seconds and its CPU seconds (the process's own: for submit, the
client's CPU while the emulator, another process, does the work). ``--sink`` collects with
``collect(to="….parquet")`` (bounded memory) and makes the collect limit write its answers
beside the snapshot as parquet too.

The input is synthetic: string ids, review-like texts of 100-300 characters, two more columns.
The emulator (``python -m llmbatch.emulator --port 0``, its own process) keeps its defaults:
instant timing and the real limits, so 200,000 rows make 4 OpenAI shards and 2 Anthropic ones.
``classify`` uses a two-property schema (an enum label and a number); ``embed`` asks for
``--dimensions 256`` (at the model's 1536 the result files alone would take some 6 GB).

For each provider × verb (Anthropic has no embeddings, so that pair is skipped):

- prepare: ``df.llmbatch.<verb>(..., submit=False)``: column and id checks, request lines,
  shard files, identity hash, frame snapshot. No network. A hot path of ours.
- submit:  ``job.submit()``, then ``job.status()`` polled until done: upload, the emulator's
  work, download of the result files. Network- and emulator-bound; printed for context only.
- collect: ``llmbatch.load(path).collect()`` in a new process, as a user does the next day:
  parse the result files, validate answers, build typed columns, read the frame snapshot,
  merge. A hot path of ours.
- prepare-limit / collect-limit: the per-row limit, measured in the same run, in the same kind
  of fresh process: for prepare, one ``orjson.dumps`` of each row's request line (the job's own
  first line with each row's text put in: same endpoint, schema and options), written out, and
  the frame snapshot written (``frames.write_snapshot``: the same files a job folder holds);
  for collect, ``orjson.loads`` of each result line, a dict from wire id to row, the answer
  pulled out (parsed for classify) and assigned as one column of the frame read from its
  snapshot. Each is printed with the ratio of our phase to it.
- the request keys alone: after the prepare limit, in its process, the time to hash each
  row's request body once (the key that finds its answer again in a later job, which prepare
  must compute and the limit does not), the bodies made beforehand. With it, the printed
  ceiling: the best ratio a prepare could reach that did the limit's work plus the keys.

Memory. Each phase runs in its own fresh Python process, and the emulator in another one, so
no phase is charged for the emulator, the synthetic-data generator or an earlier phase. In
that process the libraries are imported and (for prepare) the input frame is read from
parquet first; then the kernel's high-water mark is reset (``/proc/self/clear_refs``), the
phase runs, and the high-water mark is read back (``VmHWM``, the figure behind
``getrusage(RUSAGE_SELF).ru_maxrss``, which on Linux may also report the parent's peak
inherited through ``exec``). We print that peak RSS and its growth over the RSS at phase start:
the memory the phase itself needed, the input frame excluded. Where the reset is impossible
(not Linux), ``ru_maxrss`` is used and the figure is marked ``*`` (peak may include set-up).
Not ``tracemalloc``: it misses Arrow's allocator and slows Python code two- to threefold.

``--profile DIR`` runs each phase under cProfile, writes ``DIR/<provider>-<verb>-<phase>.prof``
and prints the top functions by own time. ``--workdir DIR`` keeps the input, the job folders
(under ``DIR/home``) and each phase's stderr instead of a temporary folder; a collect phase
can then be run again alone, as often as wanted (the emulator is not needed for it):
``python benchmarks/bench_prepare_collect.py --phase-spec DIR/openai-complete-collect.spec.json``
(its figures land in ``DIR/openai-complete-collect.out.json``).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PHASES = ("prepare", "prepare-limit", "submit", "collect", "collect-limit")
VERBS = ("complete", "classify", "embed")
LABELS = ["positive", "negative", "neutral"]
SCHEMA = {
    "type": "object",
    "properties": {
        "label": {"type": "string", "enum": LABELS},
        "confidence": {"type": "number"},
    },
    "required": ["label", "confidence"],
}
SYSTEM = "You read product reviews and answer briefly."
METHOD = "peak RSS of a fresh process per phase (VmHWM reset at phase start); Δ = peak - start"


# -- synthetic input ------------------------------------------------------------------------
_OPENERS = ["I bought this", "My wife got this", "Ordered it last month", "Second one I own"]
_OPINIONS = [
    "and it works exactly as described",
    "but it broke after two days of light use",
    "and honestly it is fine, nothing special",
    "and I would buy it again without thinking",
    "but the battery barely lasts an afternoon",
    "and the build quality is better than expected",
    "but customer service never answered my emails",
    "and the instructions were clear and short",
]
_DETAILS = [
    "Shipping took a week.",
    "The colour is a bit darker than in the photos.",
    "Setup took ten minutes, including the app.",
    "It is louder than my old one.",
    "Packaging was excessive, lots of plastic.",
    "Works well with the accessories I already had.",
    "The price went up right after I ordered.",
    "Kids love it; the dog does not.",
]


def make_table(rows: int, seed: int) -> Any:
    """A review-like frame: string ids, texts of ~100-300 characters, two extra columns."""
    import pyarrow as pa

    rng = random.Random(seed)
    texts = []
    for i in range(rows):
        target = rng.randint(100, 300)
        parts = [f"{rng.choice(_OPENERS)} (order {i})", rng.choice(_OPINIONS) + "."]
        while sum(len(p) + 1 for p in parts) < target:
            parts.append(rng.choice(_DETAILS))
        texts.append(" ".join(parts)[:target].rstrip())
    return pa.table(
        {
            "review_id": [f"R{i:08d}" for i in range(rows)],
            "product": [f"P-{rng.randrange(5000):04d}" for _ in range(rows)],
            "stars": [rng.randint(1, 5) for _ in range(rows)],
            "body": texts,
        }
    )


def read_input(path: str, library: str) -> Any:
    if library == "pandas":
        import pandas as pd

        return pd.read_parquet(path)
    import polars as pl

    return pl.read_parquet(path)


# -- memory ---------------------------------------------------------------------------------
def _status_kb(field: str) -> int | None:
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    found = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    return int(found.group(1)) if found else None


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark to the current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return _status_kb("VmHWM") is not None


def rss_bytes() -> int:
    kb = _status_kb("VmRSS")
    return kb * 1024 if kb is not None else peak_bytes(False)


def peak_bytes(reset: bool) -> int:
    kb = _status_kb("VmHWM") if reset else None
    if kb is not None:
        return kb * 1024
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss if sys.platform == "darwin" else maxrss * 1024


# -- one phase, in a child process ----------------------------------------------------------
def verb_call(df: Any, verb: str, provider: str, dimensions: int, name: str) -> Any:
    common = {"text": "body", "id": "review_id", "provider": provider, "submit": False}
    common["name"] = name
    if verb == "embed":
        return df.llmbatch.embed(dimensions=dimensions, **common)
    if verb == "classify":
        return df.llmbatch.classify(SCHEMA, system_prompt=SYSTEM, **common)
    return df.llmbatch.complete(system_prompt=SYSTEM, **common)


def phase_body(spec: dict[str, Any], df: Any) -> dict[str, Any]:
    import llmbatch

    phase = spec["phase"]
    if phase == "prepare-limit":
        return limit_prepare(spec, df)
    if phase == "collect-limit":
        return limit_collect(spec)
    if phase == "prepare":
        name = f"{spec['provider']}-{spec['verb']}"
        job = verb_call(df, spec["verb"], spec["provider"], spec["dimensions"], name)
        return {"path": str(job.path), "shards": len(job.shards)}
    job = llmbatch.load(spec["path"])
    if phase == "submit":
        job.submit()
        polls = 1
        while not job.status().done:
            polls += 1
            time.sleep(spec["poll"])
        return {"polls": polls}
    if spec.get("sink"):
        return _sunk(job.collect(to=Path(spec["path"]).parent / "sunk.parquet"))
    out = job.collect()
    errors = out[".error"]
    n_errors = int(errors.sum())
    first = None
    if n_errors:
        msgs = out[".error_msg"][errors]
        first = str(msgs.iloc[0] if spec["library"] == "pandas" else msgs[0])
    return {"out_rows": len(out), "errors": n_errors, "first_error": first}


def _sunk(path: Path) -> dict[str, Any]:
    """What `collect(to=)` wrote, counted from its `.error` column alone (with pyarrow, which
    the phase has imported already: not a library import timed as part of the phase)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    errors = pq.read_table(path, columns=[".error"]).column(".error")
    return {"out_rows": len(errors), "errors": pc.sum(errors).as_py() or 0, "first_error": None}


def limit_prepare(spec: dict[str, Any], df: Any) -> dict[str, Any]:
    """The per-row limit of prepare: one `orjson.dumps` of each row's request line (the very
    line the job wrote: its first line, with each row's id and text put in), written out, and
    the frame snapshot every job keeps (the same files a job folder holds)."""
    import orjson

    from llmbatch import frames

    texts = df["body"].to_list() if spec["library"] == "polars" else df["body"].tolist()
    first = Path(spec["path"]) / "requests" / "0000.jsonl"
    with first.open("rb") as fh:
        line = orjson.loads(fh.readline())
    holder, key = _slot(line, texts[0])
    dest = Path(spec["path"]) / "limit-requests.jsonl"
    with dest.open("wb") as fh:
        for i, text in enumerate(texts):
            holder[key] = text
            line["custom_id"] = f"t-{i}"
            fh.write(orjson.dumps(line) + b"\n")
    snapshot = Path(spec["path"]) / "limit-frame.parquet"
    frames.write_snapshot(df, snapshot)
    dest.unlink()
    snapshot.unlink()
    return {}


def keys_alone(spec: dict[str, Any], df: Any) -> float:
    """Seconds to hash every row's request body once (a blake2b-16 each, continued from the
    shared prefix, as `reuse.digest_rows` does), the bodies made beforehand, untimed.

    Prepare must do this and the limit does not: each row's request key is what finds its
    answer again in a later job (never paying twice), and its definition cannot change
    between versions. Timed apart, it is the least prepare costs beyond the limit.
    """
    import hashlib

    import orjson

    texts = df["body"].to_list() if spec["library"] == "polars" else df["body"].tolist()
    with (Path(spec["path"]) / "requests" / "0000.jsonl").open("rb") as fh:
        line = orjson.loads(fh.readline())
    holder, key = _slot(line, texts[0])
    holder[key] = marker = "\x00text\x00"
    wire = line.get("body", line.get("params"))
    prefix, _, suffix = orjson.dumps(wire).partition(orjson.dumps(marker))
    tails = [orjson.dumps(text) + suffix for text in texts]
    keyed = hashlib.blake2b(b'["openai","http://127.0.0.1","/v1"]\n' + prefix, digest_size=16)
    t0 = time.perf_counter()
    fresh, out = keyed.copy, []
    for tail in tails:
        one = fresh()
        one.update(tail)
        out.append(one.digest())
    return time.perf_counter() - t0


def _slot(node: Any, text: str) -> tuple[Any, Any]:
    """The container and key holding `text` in a decoded request line (its text slot)."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        if value == text:
            return node, key
        if isinstance(value, (dict, list)):
            try:
                return _slot(value, text)
            except LookupError:
                pass
    raise LookupError(text)


def limit_collect(spec: dict[str, Any]) -> dict[str, Any]:
    """The per-row limit of collect: `orjson.loads` per line, a dict from wire id to row, the
    answer pulled out (and parsed, for classify), and one assign per column on the frame."""
    import orjson

    import llmbatch

    job = llmbatch.load(spec["path"])
    n, tag = job.n_rows, job.manifest.tag
    where = {f"{tag}-{i}": i for i in range(n)}
    answers: list[Any] = [None] * n
    for shard in job.manifest.shards:
        for rel in shard.results:
            with (job.path / rel).open("rb") as fh:
                for raw in fh:
                    line = orjson.loads(raw)
                    answers[where[line["custom_id"]]] = _answer(line, spec["verb"])
    if spec.get("sink"):  # the answers beside the snapshot's columns, written as parquet
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pq.read_table(job.path / "frame.parquet")
        table = table.append_column("answer", pa.array(answers))
        pq.write_table(table, job.path.parent / "limit-sunk.parquet")
        return {"out_rows": table.num_rows}
    frame = read_input(str(job.path / "frame.parquet"), spec["library"])
    if spec["library"] == "polars":
        import polars as pl

        frame = frame.with_columns(pl.Series("answer", answers, strict=False))
    else:
        frame["answer"] = answers
    return {"out_rows": len(frame)}


def _answer(line: dict[str, Any], verb: str) -> Any:
    import orjson

    if "response" in line:  # OpenAI
        body = line["response"]["body"]
        if verb == "embed":
            return body["data"][0]["embedding"]
        text = body["choices"][0]["message"]["content"]
    else:
        text = line["result"]["message"]["content"][0]["text"]
    return orjson.loads(text)["label"] if verb == "classify" else text


_SETUP_IMPORTS = (
    "llmbatch",
    "llmbatch.accessor",
    "llmbatch.create",
    "llmbatch.job",
    "llmbatch.reading",
    "llmbatch.providers.openai_batch",
    "llmbatch.providers.anthropic_batch",
)


def run_phase(spec: dict[str, Any]) -> dict[str, Any]:
    """Set up, reset the peak mark, time the phase, read the peak back."""
    import importlib

    for module in _SETUP_IMPORTS:  # imports are set-up, not the phase (a user pays them once)
        importlib.import_module(module)

    reads = spec["phase"] in ("prepare", "prepare-limit")
    df = read_input(spec["input"], spec["library"]) if reads else None
    gc.collect()
    reset = reset_peak()
    start_rss = rss_bytes()
    profiler = None
    if spec["profile"]:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    t0, c0 = time.perf_counter(), time.process_time()
    info = phase_body(spec, df)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    if profiler is not None:
        profiler.disable()
        _report_profile(profiler, spec)
    peak = peak_bytes(reset)
    if spec["phase"] == "prepare-limit":  # after the phase: not part of its time or memory
        info["keys_seconds"] = keys_alone(spec, df)
    return {
        "seconds": seconds,
        "cpu": cpu,
        "peak": peak,
        "growth": peak - start_rss,
        "exact": reset,
        **info,
    }


def _report_profile(profiler: Any, spec: dict[str, Any]) -> None:
    import pstats

    folder = Path(spec["profile"])
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / f"{spec['provider']}-{spec['verb']}-{spec['phase']}.prof"
    profiler.dump_stats(dest)
    print(f"\n--- cProfile {dest} (top by own time) ---", flush=True)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(14)
    sys.stdout.flush()


def child_main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    result = run_phase(spec)
    Path(spec["out"]).write_text(json.dumps(result))
    return 0


# -- the parent: emulator, input, one child per phase ---------------------------------------
@contextlib.contextmanager
def emulator(workdir: Path) -> Iterator[str]:
    """Run `python -m llmbatch.emulator --port 0` in a subprocess; yield its URL; stop it."""
    log = (workdir / "emulator.log").open("wb")
    cmd = [sys.executable, "-m", "llmbatch.emulator", "--port", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().decode()  # "llmbatch emulator listening on http://..."
        found = re.search(r"listening on (http://\S+)", first)
        if not found:
            raise RuntimeError(f"the emulator did not start: {first!r}; see {log.name}")
        yield found.group(1)
    finally:
        stop(proc)
        log.close()


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGINT, so the emulator removes its stored files (on SIGTERM it leaves them in /tmp)."""
    proc.send_signal(signal.SIGINT)  # a no-op if it has already exited
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_child(spec: dict[str, Any], workdir: Path) -> dict[str, Any]:
    tag = f"{spec['provider']}-{spec['verb']}-{spec['phase']}"
    spec_path, out_path = workdir / f"{tag}.spec.json", workdir / f"{tag}.out.json"
    spec_path.write_text(json.dumps({**spec, "out": str(out_path)}))
    err_path = workdir / f"{tag}.stderr"
    with err_path.open("wb") as err:
        cmd = [sys.executable, __file__, "--phase-spec", str(spec_path)]
        code = subprocess.run(cmd, stderr=err, check=False).returncode
    if code != 0:
        tail = err_path.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"phase {tag} failed (exit {code}):\n{tail}")
    return dict(json.loads(out_path.read_text()))


def mb(n: int) -> str:
    return f"{n / 2**20:,.0f} MB"


def row_line(r: dict[str, Any]) -> str:
    rate = r["rows"] / r["seconds"] if r["seconds"] else float("inf")
    star = "" if r["exact"] else "*"
    return (
        f"{r['provider']:<10} {r['verb']:<9} {r['phase']:<13} {r['rows']:>9,} "
        f"{r['seconds']:>8.2f} {r['cpu']:>8.2f} {rate:>10,.0f} {mb(r['peak']) + star:>10} "
        f"{'+' + mb(max(r['growth'], 0)):>10}"
    )


HEADER = (
    f"{'provider':<10} {'verb':<9} {'phase':<13} {'rows':>9} {'seconds':>8} {'cpu s':>8} "
    f"{'rows/s':>10} "
    f"{'peak RSS':>10} {'Δ RSS':>10}"
)


def combos(provider: str, verb: str) -> list[tuple[str, str]]:
    providers = ["openai", "anthropic"] if provider == "both" else [provider]
    verbs = list(VERBS) if verb == "all" else [verb]
    out = [(p, v) for p in providers for v in verbs if not (p == "anthropic" and v == "embed")]
    if not out:
        raise SystemExit("Anthropic has no embeddings API: nothing to run.")
    return out


def bench(args: argparse.Namespace, workdir: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    t0 = time.perf_counter()
    source = workdir / "input.parquet"
    pq.write_table(make_table(args.rows, args.seed), source)
    print(f"input: {args.rows:,} rows ({time.perf_counter() - t0:.1f} s to generate)", flush=True)
    results: list[dict[str, Any]] = []
    with emulator(workdir) as url:
        os.environ.update(
            OPENAI_BASE_URL=f"{url}/v1",
            OPENAI_API_KEY="emulator",
            ANTHROPIC_BASE_URL=url,
            ANTHROPIC_API_KEY="emulator",
            LLMBATCH_HOME=str(workdir / "home"),
        )
        print(f"emulator: {url} (separate process)\nmemory: {METHOD}\n\n{HEADER}", flush=True)
        for provider, verb in combos(args.provider, args.verb):
            spec: dict[str, Any] = {
                "provider": provider,
                "verb": verb,
                "library": args.library,
                "input": str(source),
                "dimensions": args.dimensions,
                "poll": args.poll,
                "profile": args.profile,
                "sink": args.sink,
            }
            # a job of the same name would be reused, not prepared: start from a clean slate
            shutil.rmtree(workdir / "home" / f"{provider}-{verb}", ignore_errors=True)
            for phase in PHASES[: 2 if args.prepare_only else None]:
                result = run_child({**spec, "phase": phase}, workdir)
                spec.setdefault("path", result.get("path"))
                row = {**spec, "phase": phase, "rows": args.rows, **result}
                results.append(row)
                print(row_line(row), flush=True)
                if phase.endswith("-limit"):
                    ours = next(r for r in results[::-1] if r["phase"] == phase[: -len("-limit")])
                    print(f"{'':<20} {phase[:-6]} at {row['seconds'] / ours['seconds']:.2f}x "
                          "the per-row limit measured in this run", flush=True)  # fmt: skip
                if "keys_seconds" in result:
                    keys, limit = result["keys_seconds"], row["seconds"]
                    ceiling = limit / (limit + keys)
                    print(f"{'':<20} the request keys alone: {keys:.2f} s (the limit has none): "
                          f"prepare can reach at most {ceiling:.2f}x", flush=True)  # fmt: skip
                if result.get("errors"):
                    print(f"  ! {result['errors']:,} row errors, e.g. {result['first_error']!r}")
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--provider", choices=["openai", "anthropic", "both"], default="openai")
    parser.add_argument("--verb", choices=[*VERBS, "all"], default="classify")
    parser.add_argument("--library", choices=["pandas", "polars"], default="pandas")
    parser.add_argument("--dimensions", type=int, default=256, help="embed: vector length")
    parser.add_argument("--poll", type=float, default=0.5, help="seconds between status polls")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--prepare-only", action="store_true", help="prepare and its limit only")
    parser.add_argument(
        "--sink", action="store_true", help="collect with collect(to=parquet); the limit too"
    )
    parser.add_argument("--profile", metavar="DIR", default=None, help="cProfile each phase")
    parser.add_argument("--workdir", default=None, help="keep inputs and job folders here")
    parser.add_argument("--phase-spec", default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.phase_spec:
        return child_main(args.phase_spec)
    # SIGTERM unwinds like Ctrl-C, so the emulator and the temp folder are cleaned up
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.profile:
        args.profile = str(Path(args.profile).resolve())
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if args.workdir:
            workdir = Path(args.workdir).resolve()
            workdir.mkdir(parents=True, exist_ok=True)
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="llmbatch-")))
        try:
            results = bench(args, workdir)
        except KeyboardInterrupt:
            print("\ninterrupted; the emulator is stopped", file=sys.stderr)
            return 130
    print(f"\n{args.library}, {args.rows:,} rows, memory: {METHOD}")
    print(HEADER)
    for row in results:
        print(row_line(row))
    print(f"total wall time {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
