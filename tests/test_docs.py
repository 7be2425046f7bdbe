"""Every ```python block of the README and docs/ runs against the emulator: the docs cannot rot.

Each page is a story: its blocks run in order in one namespace, in a fresh working folder that
holds a small `reviews.parquet`, with a fresh LLMBATCH_HOME and both providers pointed at the
session emulator (instant timing). Blocks marked `<!-- test: skip (reason) -->` show as skipped
tests named by page and line; blocks marked `<!-- test: pytester -->` run as a user's test module.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from docs_blocks import ROOT, Block, all_blocks, blocks

pytest_plugins = ["pytester"]

BLOCKS = all_blocks()
RUN_PAGES = sorted({b.page for b in BLOCKS if b.kind == "run"})
SKIPPED = [b for b in BLOCKS if b.kind == "skip"]
PYTESTER = [b for b in BLOCKS if b.kind == "pytester"]


def _or_none(found: list[Block], kind: str) -> list[Any]:
    """The blocks, or one skipped placeholder that says none is marked so."""
    return found or [
        pytest.param(None, marks=pytest.mark.skip(reason=f"no block is marked {kind}"))
    ]


def reviews(n: int = 24) -> pd.DataFrame:
    """The small frame the pages read as `reviews.parquet`."""
    moods = ["Loved it", "Hated it", "It was okay"]
    things = ["the kettle", "these headphones", "the desk lamp", "this backpack"]
    return pd.DataFrame(
        {
            "review_id": [f"R-{i:03d}" for i in range(n)],
            "title": [f"{moods[i % 3]}" for i in range(n)],
            "body": [f"{moods[i % 3]}: {things[i % 4]} arrived on day {i}." for i in range(n)],
            "stars": [1 + i % 5 for i in range(n)],
        }
    )


@pytest.fixture
def story(emu: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A namespace for one page, in a working folder of its own; the environment restored after."""
    work = tmp_path / "work"
    work.mkdir()
    reviews().to_parquet(work / "reviews.parquet", index=False)
    monkeypatch.chdir(work)
    saved = dict(os.environ)  # a page may point the env at an emulator of its own
    try:
        yield {"__name__": "__docs__"}
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.mark.parametrize("page", RUN_PAGES)
def test_page_runs(page: str, story: dict[str, Any]) -> None:
    for block in (b for b in BLOCKS if b.page == page and b.kind == "run"):
        exec(block.code(), story)  # a traceback names the page and its line


@pytest.mark.parametrize(
    "block", _or_none(SKIPPED, "skip"), ids=lambda b: getattr(b, "name", "none")
)
def test_skipped_block_is_reported_by_name(block: Block) -> None:
    block.code()  # it still has to be Python
    pytest.skip(f"{block.name}: {block.reason}")


@pytest.mark.parametrize(
    "block", _or_none(PYTESTER, "pytester"), ids=lambda b: getattr(b, "name", "none")
)
def test_pytester_block_passes_as_a_users_test(block: Block, pytester: pytest.Pytester) -> None:
    pytester.makepyfile(**{f"test_{Path(block.page).stem}_{block.line}": block.source})
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == 0, "\n".join(result.outlines[-40:])


def test_markers_are_read_from_the_line_before_the_fence(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```python\na = 1\n```\n<!-- test: skip (needs a real key) -->\n```python\nb = 2\n```\n"
        "<!-- test: pytester -->\n```python\ndef test_x(): pass\n```\n```bash\nls\n```\n"
    )
    found = [(b.line, b.kind, b.reason) for b in blocks(page)]
    assert found == [(1, "run", ""), (5, "skip", "needs a real key"), (9, "pytester", "")]


def test_a_skip_without_a_reason_is_refused(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("<!-- test: skip -->\n```python\na = 1\n```\n")
    with pytest.raises(ValueError, match="needs a reason"):
        blocks(page)


def test_most_blocks_run() -> None:
    """Skipping is the exception: at least four blocks in five run."""
    runs = sum(b.kind != "skip" for b in BLOCKS)
    assert runs >= 0.8 * len(BLOCKS), [b.name for b in SKIPPED]


def test_the_readme_opens_with_the_two_set_up_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = readme.split("```bash\n", 1)[1].split("```", 1)[0]
    assert readme.index("```bash") < readme.index("```python")
    assert first_block.splitlines() == [
        "python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]' "
        "&& .venv/bin/python examples/quickstart.py",
        "bash .ci/run",
    ]


def test_the_readmes_links_into_the_docs_name_files_that_exist() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\((docs/[^)#]+)", readme)
    assert len(targets) >= 10
    assert [t for t in targets if not (ROOT / t).is_file()] == []
