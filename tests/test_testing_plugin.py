"""The pytest plugin (`llmbatch.testing`), run the way users run it: on their own test files."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest_plugins = ["pytester"]

STRICT_INI = """
[pytest]
addopts = --strict-markers -p no:cacheprovider
filterwarnings = error
"""

PIPELINE = '''
import pandas as pd
import pytest

import llmbatch

LABELS = ["positive", "negative", "neutral"]


def label_reviews(df):
    """The user's pipeline: one call to the Batch API, labels back as a column."""
    job = df.llmbatch.classify(LABELS, text="body", id="review_id")
    job.wait(progress=False)
    return job.collect()


def reviews(n=4):
    return pd.DataFrame({"review_id": range(n), "body": [f"review number {i}" for i in range(n)]})
'''


def _run(pytester: pytest.Pytester, test_module: str) -> pytest.RunResult:
    """Write the user's pipeline and test module, then run them as a strict suite would.

    In a fresh process, as a user's suite runs: the plugin is loaded from its entry point, and
    pytester's in-process runs would drop modules the session imported between runs.
    """
    pytester.makeini(STRICT_INI)
    pytester.makepyfile(pipeline=PIPELINE, test_user=test_module)
    return pytester.runpytest_subprocess()


def test_importing_the_plugin_imports_no_emulator_and_no_frame_library() -> None:
    code = (
        "import sys, llmbatch.testing\n"
        "heavy = ('llmbatch.emulator', 'starlette', 'uvicorn', 'pandas', 'polars')\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_users_pipeline_runs_offline_and_sees_injected_faults(
    pytester: pytest.Pytester,
) -> None:
    result = _run(
        pytester,
        """
import pytest

import llmbatch
from pipeline import LABELS, label_reviews, reviews


def test_labels_and_the_request_log(llmbatch_emulator):
    out = label_reviews(reviews())
    assert list(out["review_id"]) == [0, 1, 2, 3]
    assert set(out["label"]) <= set(LABELS)
    assert not out[".error"].any()
    routes = [entry["route"] for entry in llmbatch_emulator.request_log]
    assert routes[:2] == ["POST /v1/files", "POST /v1/batches"]
    assert llmbatch_emulator.call_count("POST /v1/batches") == 1
    assert llmbatch_emulator.state()["openai"]["batch_count"] == 1


def test_one_500_is_retried(llmbatch_emulator):
    llmbatch_emulator.add_fault(kind="500", route="POST /v1/batches", calls=[1])
    assert not label_reviews(reviews())[".error"].any()
    assert llmbatch_emulator.call_count("POST /v1/batches") == 2


def test_a_500_that_lasts_is_raised(llmbatch_emulator):
    llmbatch_emulator.add_fault(kind="500", route="POST /v1/batches")
    with pytest.raises(llmbatch.ServerError):
        label_reviews(reviews())


def test_an_expired_batch_leaves_rows_errored(llmbatch_emulator):
    llmbatch_emulator.configure(requests_per_second=0.04, completion_window_seconds=60)
    job = reviews(3).llmbatch.classify(["a", "b"], text="body", id="review_id")
    llmbatch_emulator.advance(3600)
    out = job.wait(progress=False)
    assert list(out[".error"]) == [False, False, True]
    assert "expired" in out[".error_msg"].iloc[2]
""",
    )
    result.assert_outcomes(passed=4)


def test_the_marker_sets_knobs_and_brings_the_emulator(pytester: pytest.Pytester) -> None:
    result = _run(
        pytester,
        """
import os

import pytest

from pipeline import label_reviews, reviews


@pytest.mark.llmbatch_emulator(request_error_rate=1.0)
def test_every_row_fails():
    out = label_reviews(reviews())
    assert out[".error"].all()


@pytest.mark.llmbatch_emulator(seed=3)
class TestClass:
    @pytest.mark.llmbatch_emulator(seed=7)
    def test_the_closest_marker_wins(self, llmbatch_emulator):
        assert llmbatch_emulator.config.seed == 7

    def test_the_class_marker_applies(self, llmbatch_emulator):
        assert llmbatch_emulator.config.seed == 3


@pytest.mark.llmbatch_emulator(api_key="sk-only-this-one")
def test_the_keys_are_the_api_key_knob():
    assert os.environ["OPENAI_API_KEY"] == os.environ["ANTHROPIC_API_KEY"] == "sk-only-this-one"
    assert not label_reviews(reviews())[".error"].any()
""",
    )
    result.assert_outcomes(passed=4)


def test_an_unknown_knob_fails_the_test_naming_it(pytester: pytest.Pytester) -> None:
    result = _run(
        pytester,
        """
import pytest


@pytest.mark.llmbatch_emulator(batch_seconds=5)
def test_unknown(llmbatch_emulator):
    pass


@pytest.mark.llmbatch_emulator(seed="one")
def test_bad_value(llmbatch_emulator):
    pass


@pytest.mark.llmbatch_emulator(5)
def test_positional(llmbatch_emulator):
    pass
""",
    )
    result.assert_outcomes(errors=3)
    out = result.stdout.str()
    assert "llmbatch_emulator: unknown emulator config keys: ['batch_seconds']" in out
    assert "Hint: the knobs are EmulatorConfig's fields: api_key, seed, " in out
    assert "llmbatch_emulator: seed: must be an integer; got 'one'" in out
    assert "takes knobs by name only, got (5,)" in out
    assert "During handling" not in out


def test_nothing_leaks_into_the_next_test(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "a-real-token")  # the user's shell has one
    result = _run(
        pytester,
        """
import os

import pytest

from pipeline import label_reviews, reviews

NAMES = ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "OPENAI_API_KEY", "LLMBATCH_HOME")


def test_first(llmbatch_emulator):
    assert os.environ["OPENAI_BASE_URL"] == llmbatch_emulator.openai_base_url
    assert os.environ["ANTHROPIC_BASE_URL"] == llmbatch_emulator.anthropic_base_url
    assert "ANTHROPIC_AUTH_TOKEN" not in os.environ
    llmbatch_emulator.add_fault(kind="429", route="*")
    llmbatch_emulator.configure(validating_seconds=60)
    llmbatch_emulator.advance(10)


def test_second_without_the_fixture():
    assert not [name for name in NAMES if name in os.environ]
    assert os.environ["ANTHROPIC_AUTH_TOKEN"] == "a-real-token"


def test_third_starts_clean(llmbatch_emulator):
    assert llmbatch_emulator.call_count() == 0 and not llmbatch_emulator.request_log
    assert llmbatch_emulator.config.validating_seconds == 0
    assert not llmbatch_emulator.config.faults
    assert llmbatch_emulator.state()["clock_offset"] == 0
    assert not label_reviews(reviews())[".error"].any()
""",
    )
    result.assert_outcomes(passed=3)


def test_anthropic_and_a_cli_subprocess_reach_the_emulator(pytester: pytest.Pytester) -> None:
    result = _run(
        pytester,
        """
import subprocess
import sys

import pandas as pd


def test_anthropic(llmbatch_emulator):
    df = pd.DataFrame({"body": ["one", "two"]})
    job = df.llmbatch.complete(text="body", provider="anthropic")
    out = job.wait(progress=False)
    assert not out[".error"].any()
    assert llmbatch_emulator.call_count("POST /v1/messages/batches") == 1
    status = subprocess.run(
        [sys.executable, "-m", "llmbatch.cli", "status", str(job.path)],
        capture_output=True,
        text=True,
    )
    assert status.returncode == 0, status.stderr
    assert "ended" in status.stdout
    assert llmbatch_emulator.call_count("GET /v1/messages/batches/*") >= 2
""",
    )
    result.assert_outcomes(passed=1)


def test_without_the_emulator_extra_the_fixture_names_it(pytester: pytest.Pytester) -> None:
    pytester.makeini(STRICT_INI)
    pytester.makeconftest("import sys\nsys.modules['uvicorn'] = None  # as if not installed\n")
    pytester.makepyfile(
        test_user="""
def test_plain():
    pass

def test_uses_it(llmbatch_emulator):
    pass
"""
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1, errors=1)
    assert "Hint: pip install 'llmbatch[emulator]'" in result.stdout.str()


def test_the_plugin_can_be_switched_off(pytester: pytest.Pytester) -> None:
    pytester.makeini(STRICT_INI)
    pytester.makepyfile(test_user="def test_uses_it(llmbatch_emulator):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:llmbatch")
    result.assert_outcomes(errors=1)
    assert "fixture 'llmbatch_emulator' not found" in result.stdout.str()
