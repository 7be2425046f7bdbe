"""Develop a prompt on 20 rows in sync mode, then send every row through the Batch API.

    python examples/develop_then_scale.py

Against llmbatch's built-in emulator (no network, no key). Sync mode sends the same requests
through the realtime API, so each try answers in seconds (at the full realtime price); the
final run uses the Batch API (half the price, done within 24 h) and gives the same columns, so
the code that reads the answers does not change.
"""

from __future__ import annotations

import os
import tempfile

import pandas as pd

import llmbatch  # noqa: F401  (registers df.llmbatch)
from llmbatch.emulator import serve

LABELS = ["praise", "complaint", "question"]
BODIES = [
    "Arrived early and works perfectly.",
    "Broke after two days, I want a refund.",
    "Does it come with a European plug?",
    "Best kettle I have owned.",
    "The lid does not close properly.",
    "How long is the warranty?",
]


def main() -> None:
    with serve() as emulator:
        os.environ.update(
            OPENAI_BASE_URL=emulator.openai_base_url,
            OPENAI_API_KEY="sk-emulator",
            LLMBATCH_HOME=tempfile.mkdtemp(prefix="llmbatch-develop-"),
        )
        reviews = pd.DataFrame({"review_id": range(600), "body": BODIES * 100})

        # 1. try a prompt on a sample, answered through the realtime API
        sample = reviews.sample(20, random_state=1)
        first = sample.llmbatch.classify(
            LABELS, text="body", id="review_id", system_prompt="Label this review.", mode="sync"
        ).collect()
        print(first[["body", "label", ".error"]].head(5).to_string(), end="\n\n")

        # 2. adjust and look again (a new prompt is new work: a new sync job)
        system_prompt = "Label this customer message: praise, complaint or question."
        second = sample.llmbatch.classify(
            LABELS, text="body", id="review_id", system_prompt=system_prompt, mode="sync"
        ).collect()
        print(second["label"].value_counts().to_string(), end="\n\n")

        # 3. the full run through the Batch API: the same call without mode="sync"
        job = reviews.llmbatch.classify(
            LABELS, text="body", id="review_id", system_prompt=system_prompt
        )
        labelled = job.wait(poll_interval=1)
        same_columns = list(labelled.columns) == list(second.columns)
        print(f"{len(labelled)} rows labelled; same columns as the sync tries: {same_columns}")
        print("rows with errors:", int(labelled[".error"].sum()))


if __name__ == "__main__":
    main()
