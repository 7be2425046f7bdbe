"""The public surface is pinned, and the polars path works with pandas blocked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import llmbatch

PUBLIC = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "Anthropic",
    "AuthenticationError",
    "BadRequestError",
    "BatchFailedError",
    "BatchHandle",
    "BudgetExceededError",
    "ConfigError",
    "ConflictError",
    "DuplicateWorkError",
    "InputError",
    "JobFolderError",
    "JobNotReady",
    "JobStatus",
    "LLMBatchError",
    "Limits",
    "NameConflictError",
    "NotFoundError",
    "OpenAI",
    "PermissionDeniedError",
    "ProviderError",
    "RateLimitError",
    "RequestTooLargeError",
    "ResultsIntegrityError",
    "RetryPolicy",
    "SchemaError",
    "ServerError",
    "ShardStatus",
    "UnprocessableError",
    "__version__",
    "jobs",
    "load",
    "scan_parquet",
    "schema",
]


def test_all_is_pinned_and_sorted() -> None:
    assert llmbatch.__all__ == PUBLIC
    assert sorted(llmbatch.__all__, key=str.lower) == sorted(PUBLIC, key=str.lower)
    for name in PUBLIC:
        assert hasattr(llmbatch, name), name


def test_one_exception_hierarchy() -> None:
    errors = [getattr(llmbatch, n) for n in PUBLIC if n.endswith(("Error", "NotReady"))]
    assert all(issubclass(e, llmbatch.LLMBatchError) for e in errors)


POLARS_ONLY = """
import sys
import polars as pl
import llmbatch
df = pl.DataFrame({"body": ["a", "b"]})
out = df.llmbatch.classify(["x", "y"], text="body").wait(poll_interval=0, progress=False)
assert isinstance(out, pl.DataFrame) and out.height == 2 and not out[".error"].any()
assert "pandas" not in sys.modules or sys.modules["pandas"] is None
print("ok")
"""


def test_polars_path_with_pandas_blocked(emu: Any, tmp_path: Path) -> None:
    blocked = tmp_path / "site" / "pandas"
    blocked.mkdir(parents=True)
    (blocked / "__init__.py").write_text("raise ImportError('pandas is blocked in this test')\n")
    path = os.pathsep.join([str(tmp_path / "site"), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "LLMBATCH_RETRY_ZERO_WAIT": "1", "PYTHONPATH": path}
    done = subprocess.run(
        [sys.executable, "-c", POLARS_ONLY], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "ok"
