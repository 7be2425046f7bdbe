"""`import llmbatch` stays light, `df.llmbatch` works in every import order, and the emulator's
server is an extra that is named when it is missing. Each case runs in a fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from typing import Any

import pytest

import llmbatch

# A finder that refuses the given top-level modules as if they were not installed (polars, too,
# asks `find_spec('pandas')` at import and expects ModuleNotFoundError or None).
BLOCK = """
import sys
class _Blocked:
    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"{{fullname}} is blocked in this test", name=fullname)
        return None
sys.meta_path.insert(0, _Blocked())
"""

HEAVY = ("pyarrow", "pandas", "polars", "numpy", "starlette", "uvicorn", "python_multipart")


def run(code: str, blocked: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter (after blocking `blocked`) and return the result."""
    script = BLOCK.format(blocked=set(blocked)) + code if blocked else code
    env = {**os.environ, "LLMBATCH_RETRY_ZERO_WAIT": "1"}
    return subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )


def ok(code: str, blocked: tuple[str, ...] = ()) -> str:
    done = run(code, blocked)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


def test_import_llmbatch_imports_no_frame_library_pyarrow_or_server() -> None:
    code = f"""
import sys
import llmbatch, llmbatch.emulator
print(sorted(m for m in {HEAVY!r} + ("llmbatch.create", "llmbatch.job", "llmbatch.frames")
             if m in sys.modules))
"""
    assert ok(code) == "[]"


def test_public_names_import_on_first_use() -> None:
    code = """
import sys
import llmbatch
from llmbatch import *
assert {name for name in llmbatch.__all__} <= set(dir(llmbatch))
assert llmbatch.schema.schema_enum is not None and llmbatch.load is llmbatch.catalog.load
print("ok")
"""
    assert ok(code) == "ok"


def test_an_unknown_name_is_an_attribute_error() -> None:
    name = "no_such_name"
    with pytest.raises(AttributeError, match=name):
        getattr(llmbatch, name)


CHECK = """
import sys
from llmbatch.accessor import LLMBatchAccessor
def check(frame):
    assert isinstance(frame.llmbatch, LLMBatchAccessor), type(frame)
    assert frame.llmbatch._df is frame
"""
PANDAS = 'check(pd.DataFrame({"a": [1]}))\n'
POLARS = 'check(pl.DataFrame({"a": [1]})); check(pl.LazyFrame({"a": [1]}))\n'
NO_HOOK = 'assert not [f for f in sys.meta_path if type(f).__name__ == "_RegisterOnImport"]\n'

ORDERS = {
    "llmbatch, then pandas": "import llmbatch\nimport pandas as pd\n" + PANDAS,
    "pandas, then llmbatch": "import pandas as pd\nimport llmbatch\n" + PANDAS,
    "llmbatch, then a pandas submodule": (
        "import llmbatch\nimport pandas.api.types\nimport pandas as pd\n" + PANDAS
    ),
    "llmbatch, then polars": "import llmbatch\nimport polars as pl\n" + POLARS,
    "polars, then llmbatch": "import polars as pl\nimport llmbatch\n" + POLARS,
    "llmbatch, then both": (
        "import llmbatch\nimport polars as pl\nimport pandas as pd\n" + POLARS + PANDAS + NO_HOOK
    ),
    "pandas, llmbatch, polars": (
        "import pandas as pd\nimport llmbatch\nimport polars as pl\n" + POLARS + PANDAS + NO_HOOK
    ),
}


@pytest.mark.parametrize("order", list(ORDERS))
def test_the_accessor_is_there_in_every_import_order(order: str) -> None:
    assert ok(CHECK + ORDERS[order] + 'print("ok")') == "ok"


@pytest.mark.parametrize("first", ["llmbatch", "polars"])
def test_polars_with_pandas_blocked_in_both_orders(first: str) -> None:
    imports = "import llmbatch\nimport polars as pl\n"
    if first == "polars":
        imports = "import polars as pl\nimport llmbatch\n"
    code = (
        CHECK
        + imports
        + POLARS
        + """
assert "pandas" not in sys.modules
try:
    import pandas
except ImportError as exc:
    assert "blocked" in str(exc)
else:
    raise AssertionError("pandas was not blocked")
print("ok")
"""
    )
    assert ok(code, blocked=("pandas",)) == "ok"


def test_a_frame_library_keeps_its_own_loader() -> None:
    code = """
import importlib.resources
import llmbatch
import pandas, polars
for module in (pandas, polars):
    assert type(module.__loader__).__name__ == "SourceFileLoader", module.__loader__
    assert module.__spec__.loader is module.__loader__
    assert importlib.resources.files(module).joinpath("__init__.py").is_file()
print("ok")
"""
    assert ok(code) == "ok"


VERB_AFTER = """
import llmbatch
import pandas as pd
df = pd.DataFrame({"body": ["a", "b"]})
out = df.llmbatch.classify(["x", "y"], text="body").wait(poll_interval=0, progress=False)
assert isinstance(out, pd.DataFrame) and len(out) == 2 and not out[".error"].any()
print("ok")
"""


def test_a_verb_runs_when_pandas_is_imported_after_llmbatch(emu: Any) -> None:
    assert ok(VERB_AFTER) == "ok"
    assert emu.call_count("POST /v1/batches") == 1


def test_one_version_source() -> None:
    from llmbatch._version import __version__

    assert llmbatch.__version__ is __version__
    assert metadata.version("llmbatch") == __version__


HINT = "pip install 'llmbatch[emulator]'"
SERVER_USES = {
    "serve": "from llmbatch.emulator import serve",
    "Emulator": "import llmbatch.emulator\nllmbatch.emulator.Emulator",
}


@pytest.mark.parametrize("missing", ["starlette", "uvicorn", "python_multipart"])
@pytest.mark.parametrize("use", list(SERVER_USES))
def test_the_emulator_names_its_extra_when_missing(missing: str, use: str) -> None:
    blocked = (missing, "multipart") if missing == "python_multipart" else (missing,)
    done = run(SERVER_USES[use], blocked=blocked)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last == f"Hint: {HINT}.", done.stderr[-2000:]
    assert "ImportError: the llmbatch emulator needs" in done.stderr
    assert missing in done.stderr


COMMANDS = {
    "python -m llmbatch.emulator": (
        "import runpy\nsys.argv = ['x']\nrunpy.run_module('llmbatch.emulator', run_name='__main__')"
    ),
    "llmbatch emulator": "from llmbatch.cli import main\nsys.exit(main(['emulator']))",
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_the_emulator_command_names_its_extra_when_missing(command: str) -> None:
    done = run(COMMANDS[command], blocked=("starlette",))
    assert done.returncode == 1, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith("error: the llmbatch emulator needs starlette"), lines
    assert lines[-1] == f"Hint: {HINT}."
    assert "Traceback" not in done.stderr
