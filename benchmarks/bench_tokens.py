"""Calibrate llmbatch's token estimate against real tokenizers, offline; print the error per kind.

    .venv/bin/python benchmarks/bench_tokens.py                 # calibrate and check
    .venv/bin/python benchmarks/bench_tokens.py --per-kind 400 --speed 1000000

The real tokenizers run in node (node >= 18): ``js-tiktoken`` ships OpenAI's ``o200k_base``
(gpt-4o, gpt-4.1, gpt-5 families) and ``cl100k_base`` (text-embedding-3-*) ranks inside the
npm package, and ``@anthropic-ai/tokenizer`` ships Anthropic's pre-Claude-3 tokenizer (the
only one Anthropic published; Claude 3 and later use another one that is not public, so it
only shows how far a different vocabulary can move the count). On first run they are
installed with ``npm install --prefix DIR`` (``--node-dir``, default
``~/.cache/llmbatch-bench/tokenizers``); nothing else is fetched.

The texts come from this machine, deterministically (``--seed``), in seven kinds:
``review`` (synthetic product reviews, 60-400 chars), ``en_short`` (1-3 sentences of English
prose from Python's own reference text, ``pydoc_data.topics``), ``en_long`` (paragraphs of the
same, 500-4,000 chars), ``code`` (chunks of Python's standard library), and man pages
translated into Latin-script languages (``latin``: de fr es it pl pt_BR nl), Cyrillic ones
(``cyrillic``: ru uk) and CJK ones (``cjk``: ja ko zh_CN zh_TW), roff markup stripped.

For each kind and tokenizer it prints: the mean of estimate/true per text, the band of that
ratio that covers 95% of texts (2.5th to 97.5th percentile), and the error of the TOTAL over
the kind's texts (what ``job.estimate()`` uses). ``--fit`` also prints the least-squares
coefficients of ``tokens ~ c + a*chars + b*(utf8_bytes - chars)`` that the module holds.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from llmbatch.token_estimate import _COEFFS, estimate_text_tokens

NPM_PACKAGES = ["js-tiktoken@1.0.21", "@anthropic-ai/tokenizer@0.0.4"]
TOKENIZERS = ["o200k_base", "cl100k_base", "claude_legacy"]
MAN = Path("/usr/share/man")
SCRIPT_LANGS = {
    "latin": ["de", "fr", "es", "it", "pl", "pt_BR", "nl"],
    "cyrillic": ["ru", "uk"],
    "cjk": ["ja", "ko", "zh_CN", "zh_TW"],
}

NODE_COUNTER = r"""
const fs = require("fs");
const { getEncoding } = require("js-tiktoken");
const { getTokenizer } = require("@anthropic-ai/tokenizer");
const claude = getTokenizer(); // its countTokens() rebuilds this for every text: 100x slower
const texts = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const o200k = getEncoding("o200k_base"), cl100k = getEncoding("cl100k_base");
const count = (t) => [
  o200k.encode(t).length, cl100k.encode(t).length, claude.encode(t.normalize("NFKC"), "all").length,
];
const out = texts.map(count);
process.stdout.write(JSON.stringify(out));
"""


# -- the sample ------------------------------------------------------------------------------
def prose_paragraphs() -> list[str]:
    """English paragraphs of Python's reference documentation (shipped with CPython)."""
    from pydoc_data.topics import topics

    paras: list[str] = []
    for text in topics.values():
        for block in re.split(r"\n\s*\n", text):
            if not block.startswith("   ") and len(block) > 40:  # skip indented code
                paras.append(" ".join(block.split()))
    return paras


def code_files() -> list[Path]:
    return sorted(Path(os.__file__).parent.glob("*.py"))


def man_pages(langs: list[str]) -> Iterator[str]:
    for lang in langs:
        for path in sorted((MAN / lang).rglob("*.gz")):
            try:
                yield gzip.decompress(path.read_bytes()).decode("utf-8")
            except (OSError, UnicodeDecodeError):
                continue


_ROFF_ESCAPE = re.compile(r"\\(f(\[[^\]]*\]|\(..|.)|\(..|\*(\(..|.)|[&|^\-e ])")


def roff_paragraphs(page: str) -> list[str]:
    """Plain paragraphs of a roff man page: macro lines split paragraphs, escapes dropped."""
    paras, cur = [], []
    for line in page.splitlines():
        if line.startswith((".", "'")):
            if cur:
                paras.append(" ".join(cur))
                cur = []
            continue
        text = _ROFF_ESCAPE.sub(lambda m: "-" if m.group(0) == "\\-" else "", line).strip()
        if text:
            cur.append(text)
    if cur:
        paras.append(" ".join(cur))
    return [p for p in paras if len(p) > 30]


def review(rng: random.Random) -> str:
    openers = ["I bought this", "My wife got this", "Ordered it last month", "Second one I own"]
    opinions = [
        "and it works exactly as described",
        "but it broke after two days of light use",
        "and honestly it is fine, nothing special",
        "but the battery barely lasts an afternoon",
        "and the build quality is better than expected",
    ]
    details = [
        "Shipping took a week.",
        "The colour is a bit darker than in the photos.",
        "Setup took ten minutes, including the app.",
        "Packaging was excessive, lots of plastic.",
        "Kids love it; the dog does not.",
        f"Paid ${rng.randint(9, 400)}.{rng.randint(0, 99):02d}, rated {rng.randint(1, 5)}/5.",
    ]
    target = rng.randint(60, 400)
    parts = [rng.choice(openers), rng.choice(opinions) + "."]
    while sum(len(p) + 1 for p in parts) < target:
        parts.append(rng.choice(details))
    return " ".join(parts)[:target].rstrip()


def chunks(paras: list[str], rng: random.Random, lo: int, hi: int, n: int) -> list[str]:
    """``n`` texts of ``lo``-``hi`` characters, each of consecutive paragraphs or sentences."""
    out: list[str] = []
    while len(out) < n and paras:
        i, target = rng.randrange(len(paras)), rng.randint(lo, hi)
        text = paras[i]
        while len(text) < target and i + 1 < len(paras):
            i += 1
            text += "\n\n" + paras[i]
        out.append(text[:target] if len(text) > 2 * target else text)
    return out


def sentences(paras: list[str], rng: random.Random, n: int) -> list[str]:
    sents = [s for p in paras for s in re.split(r"(?<=[.!?])\s+", p) if len(s) > 20]
    out = []
    for _ in range(n):
        i = rng.randrange(len(sents) - 3)
        out.append(" ".join(sents[i : i + rng.randint(1, 3)])[:400])
    return out


def code_chunks(rng: random.Random, n: int) -> list[str]:
    files = code_files()
    out = []
    for _ in range(n):
        text = rng.choice(files).read_text(encoding="utf-8", errors="replace")
        size = rng.randint(200, 3000)
        start = rng.randrange(max(1, len(text) - size))
        out.append(text[start : start + size])
    return out


def sample(per_kind: int, seed: int) -> dict[str, list[str]]:
    rng = random.Random(seed)
    prose = prose_paragraphs()
    kinds: dict[str, list[str]] = {
        "review": [review(rng) for _ in range(per_kind)],
        "en_short": sentences(prose, rng, per_kind),
        "en_long": chunks(prose, rng, 500, 4000, per_kind),
        "code": code_chunks(rng, per_kind),
    }
    for kind, langs in SCRIPT_LANGS.items():
        paras = [p for page in man_pages(langs) for p in roff_paragraphs(page)]
        kinds[kind] = chunks(paras, rng, 50, 2000, per_kind)
    return kinds


# -- the real counts -------------------------------------------------------------------------
def ensure_node_tokenizers(node_dir: Path) -> Path:
    if not (node_dir / "node_modules" / "js-tiktoken").is_dir():
        node_dir.mkdir(parents=True, exist_ok=True)
        cmd = ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(node_dir)]
        subprocess.run([*cmd, *NPM_PACKAGES], check=True, capture_output=True)
    return node_dir


def real_counts(texts: list[str], node_dir: Path) -> list[list[int]]:
    """Token counts per text (o200k, cl100k, claude_legacy), cached in ``node_dir``."""
    key = hashlib.sha256(json.dumps(texts).encode()).hexdigest()[:16]
    cache = node_dir / f"counts-{key}.json"
    if cache.is_file():
        cached: list[list[int]] = json.loads(cache.read_text())
        return cached
    with tempfile.TemporaryDirectory() as tmp:
        data, script = Path(tmp) / "texts.json", node_dir / "count_tokens.cjs"
        data.write_text(json.dumps(texts), encoding="utf-8")
        script.write_text(NODE_COUNTER, encoding="utf-8")
        done = subprocess.run(
            ["node", str(script), str(data)], check=True, capture_output=True, cwd=node_dir
        )
    counts: list[list[int]] = json.loads(done.stdout)
    cache.write_text(json.dumps(counts))
    return counts


# -- the report ------------------------------------------------------------------------------
def features(text: str) -> tuple[int, int, int]:
    """What the estimate sees: characters, UTF-8 surplus bytes, characters beyond Latin-1."""
    chars = len(text)
    return chars, len(text.encode("utf-8")) - chars, chars - len(text.encode("latin-1", "ignore"))


def fit(kinds: dict[str, list[str]], counts: dict[str, list[int]]) -> list[float]:
    """Coefficients minimising the worst relative error of a kind's total (reweighted LS)."""
    import numpy as np

    x = np.array([[sum(col) for col in zip(*map(features, kinds[k]), strict=True)] for k in kinds])
    y = np.array([float(sum(counts[k])) for k in kinds])
    weights = np.ones(len(y))
    for _ in range(200):
        coef, *_ = np.linalg.lstsq(x * (weights / y)[:, None], weights, rcond=None)
        errors = np.abs(x @ coef / y - 1)
        weights = weights * (errors / errors.max() + 0.05)
        weights /= weights.max()
    return [float(c) for c in coef]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(kinds: dict[str, list[str]], counts: dict[str, list[list[int]]], do_fit: bool) -> None:
    for t, tok in enumerate(TOKENIZERS):
        provider = "anthropic" if tok == "claude_legacy" else "openai"
        model = "text-embedding-3-small" if tok == "cl100k_base" else None
        print(f"\n{tok}  (estimate: provider={provider!r}, model={model!r})")
        print(
            f"{'kind':10} {'texts':>6} {'chars/tok':>9} {'mean est/true':>13} "
            f"{'95% of texts':>15} {'total err':>9} {'band':>5} {'in band':>7}"
        )
        for kind, texts in kinds.items():
            true = [c[t] for c in counts[kind]]
            est = [estimate_text_tokens([x], provider, model=model).tokens for x in texts]
            ratios = [e / max(y, 1) for e, y in zip(est, true, strict=True)]
            whole = estimate_text_tokens(texts, provider, model=model)
            cpt = sum(map(len, texts)) / sum(true)
            spread = f"{pct(ratios, 0.025):.2f}-{pct(ratios, 0.975):.2f}"
            half = (whole.high - whole.low) / 2 / max(whole.tokens, 1)
            inside = whole.low <= sum(true) <= whole.high
            print(
                f"{kind:10} {len(texts):6} {cpt:9.2f} {statistics.fmean(ratios):13.3f} "
                f"{spread:>15} {whole.tokens / sum(true) - 1:+9.1%} {half:5.0%} {inside!s:>7}"
            )
        if do_fit:
            a, b, c = fit(kinds, {k: [row[t] for row in counts[k]] for k in kinds})
            print(
                f"fit: tokens ~ {a:.5f}*chars + {b:.5f}*(utf8_bytes - chars) "
                f"+ {c:.5f}*(chars - latin1_chars)"
            )


def speed(n: int) -> None:
    rng = random.Random(0)
    texts = [review(rng) for _ in range(n)]
    start = time.perf_counter()
    estimate_text_tokens(texts, "openai")
    print(f"\nestimate_text_tokens over {n:,} review texts: {time.perf_counter() - start:.3f} s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=600)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--fit", action="store_true", help="print least-squares coefficients")
    parser.add_argument("--speed", type=int, default=1_000_000, help="rows for the timing")
    default_dir = Path.home() / ".cache" / "llmbatch-bench" / "tokenizers"
    parser.add_argument("--node-dir", type=Path, default=default_dir)
    args = parser.parse_args(argv)
    node_dir = ensure_node_tokenizers(args.node_dir)
    kinds = sample(args.per_kind, args.seed)
    counts = {kind: real_counts(texts, node_dir) for kind, texts in kinds.items()}
    print(f"coefficients in use: {_COEFFS}")
    report(kinds, counts, args.fit)
    if args.speed:
        speed(args.speed)


if __name__ == "__main__":
    main()
