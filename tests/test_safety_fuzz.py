"""Property-based: generated hostile inputs never give "Error: unexpected" or hang.

The families and the runner are benchmarks/fuzz.py's (which runs >= 10,000 inputs and
prints the counts); CI runs a fixed small budget: BP_INTEGRATE_FUZZ_EXAMPLES inputs a
family (default 50). Each input runs in-process, in a fresh config and state folder,
under a 10 s deadline (SIGALRM): a hang fails the test.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import given

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import fuzz

EXAMPLES = int(os.environ.get("BP_INTEGRATE_FUZZ_EXAMPLES", "50"))


@pytest.mark.parametrize("family", list(fuzz.FAMILIES))
def test_no_unexpected_error_and_no_hang(family: str) -> None:
    @fuzz.settings_for(EXAMPLES)
    @given(fuzz.FAMILIES[family]())
    def one(case: fuzz.Case) -> None:
        outcome = fuzz.run_case(case, limit=10.0)
        assert not outcome.hang, f"hang: {case.argv!r}"
        assert outcome.unexpected is None, (outcome.unexpected, case)

    one()


def test_the_runner_sees_an_unexpected_error() -> None:
    """The property above could not fail if run_case missed crashes: show it does not."""
    from unittest import mock

    with mock.patch("bp_integrate.config.load", side_effect=ZeroDivisionError("boom")):
        outcome = fuzz.run_case(fuzz.Case("config", ["list"]))
    assert outcome.unexpected == "Error: unexpected ZeroDivisionError: boom"


def test_the_runner_sees_a_hang() -> None:
    import time
    from unittest import mock

    with mock.patch("bp_integrate.config.load", side_effect=lambda *a: time.sleep(30)):
        outcome = fuzz.run_case(fuzz.Case("config", ["list"]), limit=0.3)
    assert outcome.hang
