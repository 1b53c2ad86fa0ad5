"""Panopta v1.1 pitfalls refused at install (issue 9 point 6): an outage URL with no
apiKey (Panopta sends no headers: xMatters would answer 401), and a clear URL that is
the outage URL again (clears would open outages)."""

from __future__ import annotations

from helpers import XM_URL, MemoryKeyring, invoke
from typer.testing import CliRunner

CLEAR_URL = XM_URL.replace("0f6c8e8a", "1f6c8e8a")
V11 = ("install", "panopta", "--no-input", "--set", "setup=v1.1")


def test_outage_url_without_api_key_is_refused(
    runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    result = invoke(runner, *V11, BP_INTEGRATE_PANOPTA_OUTAGE_URL=XM_URL)
    assert result.exit_code == 2
    assert "The inbound integration URL carries no apiKey parameter" in result.stderr
    assert "(from BP_INTEGRATE_PANOPTA_OUTAGE_URL)" in result.stderr
    assert memory_keyring.entries == {}


def test_clear_url_identical_to_outage_url_is_refused(
    runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    same = {
        "BP_INTEGRATE_PANOPTA_OUTAGE_URL": XM_URL + "?apiKey=key-1",
        "BP_INTEGRATE_PANOPTA_CLEAR_URL": XM_URL + "?apiKey=key-2",
    }
    result = invoke(runner, *V11, **same)
    assert result.exit_code == 2
    assert "The clear URL is the outage URL again" in result.stderr
    assert "Panopta Clear Event" in result.stderr
    other = {**same, "BP_INTEGRATE_PANOPTA_CLEAR_URL": CLEAR_URL + "?apiKey=key-2"}
    result = invoke(runner, *V11, **other)
    assert result.exit_code == 0, result.stderr
