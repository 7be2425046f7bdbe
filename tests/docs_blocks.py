"""The ```python blocks of the README and docs/, with the marker on the line before each.

A block may be marked on the line just before its fence:

- `<!-- test: skip (reason) -->`: it cannot run here (a real key, a file you have); the test
  suite reports it as skipped, named by page and line, with the reason;
- `<!-- test: pytester -->`: it is a test module of a user's own suite, run with pytester.

Unmarked blocks of a page run in order in one namespace: a page is a story.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from types import CodeType

ROOT = Path(__file__).resolve().parent.parent
MARKER = re.compile(r"<!--\s*test:\s*(?P<kind>[a-z]+)\s*(?:\((?P<reason>.*)\))?\s*-->")
KINDS = ("run", "skip", "pytester")


@dataclass(frozen=True)
class Block:
    """One fenced Python block: where it is, what it says, how the tests treat it."""

    page: str  # relative to the repository root, e.g. "docs/job.md"
    line: int  # 1-based line of the opening fence
    source: str
    kind: str  # one of KINDS
    reason: str = ""

    @property
    def name(self) -> str:
        return f"{self.page}:{self.line}"

    def code(self) -> CodeType:
        """The block compiled so that tracebacks name the page and its line numbers."""
        return compile("\n" * self.line + self.source, str(ROOT / self.page), "exec")


def pages() -> list[Path]:
    """The README and every page under docs/, in a stable order."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def blocks(path: Path) -> list[Block]:
    """The Python blocks of one Markdown file, each with its marker (or `run`)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    page = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
    found, i = [], 0
    while i < len(lines):
        fence = lines[i].strip()
        if not fence.startswith("```"):
            i += 1
            continue
        end = _closing_fence(lines, i)
        if fence in ("```python", "```py"):
            indent = len(lines[i]) - len(lines[i].lstrip())
            body = "\n".join(line[indent:] for line in lines[i + 1 : end]) + "\n"
            kind, reason = _marker(lines[i - 1] if i else "", f"{page}:{i + 1}")
            found.append(Block(page, i + 1, body, kind, reason))
        i = end + 1
    return found


def _closing_fence(lines: list[str], start: int) -> int:
    for j in range(start + 1, len(lines)):
        if lines[j].strip() == "```":
            return j
    msg = f"unclosed code fence at line {start + 1}"
    raise ValueError(msg)


def _marker(line: str, where: str) -> tuple[str, str]:
    """The kind and reason named by a `<!-- test: ... -->` line, or `run`."""
    match = MARKER.search(line)
    if match is None:
        return "run", ""
    kind, reason = match["kind"], (match["reason"] or "").strip()
    if kind not in KINDS[1:]:
        msg = f"{where}: unknown marker {kind!r}\nHint: use 'skip (reason)' or 'pytester'."
        raise ValueError(msg)
    if kind == "skip" and not reason:
        msg = f"{where}: a skipped block needs a reason\nHint: <!-- test: skip (why) -->"
        raise ValueError(msg)
    return kind, reason


def all_blocks() -> list[Block]:
    return [block for path in pages() for block in blocks(path)]
