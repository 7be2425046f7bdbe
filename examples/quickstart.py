"""Quickstart: classify 300 product reviews offline, against llmbatch's built-in emulator.

    python examples/quickstart.py

It starts the emulator on 127.0.0.1 (a synthetic stand-in for the OpenAI and Anthropic batch
APIs: no network, no key, no cost), prints the job's cost estimate, submits it under a budget,
saves the handle, then reopens it in a fresh Python process, waits with a progress bar and
prints the merged frame, the usage and what it would have cost at the provider's batch prices.
Point OPENAI_* / ANTHROPIC_* at the real services and the same code runs for real.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pandas as pd

import llmbatch
from llmbatch.emulator import serve

OPENERS = ["Loved it", "Hated it", "It was okay", "Not bad at all", "Would not recommend"]
THINGS = ["the kettle", "these headphones", "the desk lamp", "this backpack", "the blender"]
DETAILS = [
    "arrived a day early",
    "stopped working after a week",
    "does what it says",
    "feels cheaper than the photos",
    "is the best purchase I made this year",
]

REOPEN = textwrap.dedent(
    """
    import sys
    import llmbatch

    job = llmbatch.load(sys.argv[1])          # a new process: everything comes from the folder
    print("reopened:", job)
    labelled = job.wait(poll_interval=1)      # polls with a progress bar, then merges by id
    print(labelled[["review_id", "body", "label", ".error"]].head(10).to_string())
    print()
    print(labelled["label"].value_counts().to_string())
    usage = labelled[[".input_tokens", ".output_tokens", ".cache_read_tokens",
                      ".cache_write_tokens"]].sum()
    print()
    print("usage (tokens):", usage.to_dict())
    print("rows with errors:", int(labelled[".error"].sum()), "of", len(labelled))
    print("cost:", job.usage())                # tokens by kind, priced at batch prices
    """
)


def make_reviews(n: int = 300) -> pd.DataFrame:
    """Deterministic synthetic reviews with string ids."""
    bodies = [
        f"{OPENERS[i % 5]}: {THINGS[(i // 5) % 5]} {DETAILS[(i // 25) % 5]}." for i in range(n)
    ]
    return pd.DataFrame({"review_id": [f"R-{i:04d}" for i in range(n)], "body": bodies})


def main() -> None:
    with serve(validating_seconds=1.0, requests_per_second=100.0, finalizing_seconds=0.5) as emu:
        env = {
            **os.environ,
            "ANTHROPIC_BASE_URL": emu.anthropic_base_url,
            "ANTHROPIC_API_KEY": "sk-ant-emulator",
            "OPENAI_BASE_URL": emu.openai_base_url,
            "OPENAI_API_KEY": "sk-emulator",
        }
        os.environ.update(env)
        print(f"emulator running at {emu.url}")
        reviews = make_reviews()
        job = reviews.llmbatch.classify(
            ["positive", "negative", "neutral"],
            text="body",
            id="review_id",
            provider="anthropic",
            system_prompt="Classify the sentiment of this product review.",
            max_tokens=20,
            max_cost=1.00,  # refused before anything is sent if the estimate could exceed $1
        )
        print(job.estimate())
        print("submitted:", job)
        folder = Path(tempfile.mkdtemp(prefix="llmbatch-quickstart-")) / "sentiment.llmbatch"
        job.save(folder)
        print("saved to:", folder)
        subprocess.run([sys.executable, "-c", REOPEN, str(folder)], env=env, check=True)
    print("\nlist of jobs in that folder:", [h.name for h in llmbatch.jobs(folder.parent)])


if __name__ == "__main__":
    main()
