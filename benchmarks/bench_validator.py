"""Answer validation: llmbatch's `make_validator` against `jsonschema` and `jsonschema-rs`.

The library decision behind `_schema_validate.py`: a maintained validator instead of closures
compiled by hand. This prints answers per second for each on the same answers (one in ten
invalid) and checks that they agree on every answer. `make_validator` also writes a message
for each invalid answer (through `jsonschema`), which is most of its time here.

    .venv/bin/python benchmarks/bench_validator.py --rows 100000
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from typing import Any

from jsonschema import Draft202012Validator

from llmbatch.schema import make_validator, openai_strict

SCHEMA = openai_strict(
    {
        "type": "object",
        "properties": {
            "label": {"type": "string", "enum": ["positive", "negative", "neutral"]},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "topics": {"type": "array", "items": {"type": "string"}},
            "detail": {
                "type": "object",
                "properties": {"n": {"type": "integer"}, "note": {"type": "string"}},
                "required": ["n"],
            },
        },
        "required": ["label", "confidence"],
    }
)


def answers(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """Answers as a model gives them: mostly valid, one in ten broken in some way."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        answer: dict[str, Any] = {
            "label": rng.choice(["positive", "negative", "neutral"]),
            "confidence": rng.random(),
            "topics": [f"t{j}" for j in range(rng.randint(0, 4))],
            "detail": {"n": i, "note": "ok"},
        }
        if i % 10 == 0:
            broken = rng.choice(["label", "confidence", "extra", "detail"])
            if broken == "label":
                answer["label"] = "great"
            elif broken == "confidence":
                answer["confidence"] = 1.5
            elif broken == "extra":
                answer["unexpected"] = True
            else:
                answer["detail"] = {"n": "seven", "note": None}
        out.append(answer)
    return out


def candidates() -> dict[str, Callable[[Any], bool]]:
    """Each validator as `valid(answer) -> bool`."""
    ours = make_validator(SCHEMA)
    found: dict[str, Callable[[Any], bool]] = {
        "llmbatch (+ messages)": lambda a: ours(a) is None,
        "jsonschema": Draft202012Validator(SCHEMA).is_valid,
    }
    import jsonschema_rs

    found["jsonschema-rs"] = jsonschema_rs.validator_for(SCHEMA).is_valid
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    data = answers(args.rows)
    verdicts: dict[str, list[bool]] = {}
    print(f"{'validator':<22} {'answers/s':>12} {'µs/answer':>10}")
    for name, valid in candidates().items():
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            verdicts[name] = [valid(a) for a in data]
            best = min(best, time.perf_counter() - start)
        print(f"{name:<22} {args.rows / best:>12,.0f} {best / args.rows * 1e6:>10.2f}")
    reference = verdicts["jsonschema"]
    for name, got in verdicts.items():
        differ = sum(a != b for a, b in zip(got, reference, strict=True))
        print(f"{name}: {differ} verdicts differ from jsonschema ({sum(got)} valid)")


if __name__ == "__main__":
    main()
