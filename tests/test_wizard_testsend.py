"""The end of an interactive install offers one test send (default No), sent through
`send-test`'s own path (issue 9 point 6)."""

from __future__ import annotations

from helpers import CFG, MemoryKeyring, invoke, sends
from typer.testing import CliRunner

from bp_integrate.emulator import EmulatorServer

TTY = {"BP_INTEGRATE_ASSUME_TTY": "1"}


def answers(emu: EmulatorServer, offer: str) -> str:
    url = f"{emu.urls['xmatters_trigger']}?apiKey={CFG.xmatters_api_key}"
    return "\n".join(["", url, "url", "y", "", "n", "y", offer]) + "\n"


def test_enter_at_the_offer_sends_nothing(
    runner: CliRunner, memory_keyring: MemoryKeyring, emu: EmulatorServer
) -> None:
    result = invoke(runner, "install", "xmatters", input=answers(emu, ""), **TTY)
    assert result.exit_code == 0, result.stderr
    assert "Send one test event (incident#new) to xMatters now?" in result.stderr
    assert "[y/N]" in result.stderr
    assert sends(emu, "/api/integration") == []


def test_yes_at_the_offer_sends_one_event_as_send_test_does(
    runner: CliRunner, memory_keyring: MemoryKeyring, emu: EmulatorServer
) -> None:
    result = invoke(runner, "install", "xmatters", input=answers(emu, "y"), **TTY)
    assert result.exit_code == 0, result.stderr
    assert len(sends(emu, "/api/integration")) == 1
    assert "Sending incident#new for test incident" in result.stderr
    assert "1 of 1 request(s) accepted" in result.stderr
    # recorded in the history like any send-test
    history = invoke(runner, "history", "--json")
    assert "send-test incident#new" in history.stdout


def test_end_of_input_at_the_offer_keeps_the_install(
    runner: CliRunner, memory_keyring: MemoryKeyring, emu: EmulatorServer
) -> None:
    text = answers(emu, "").removesuffix("\n\n") + "\n"  # input ends at the offer
    result = invoke(runner, "install", "xmatters", input=text, **TTY)
    assert result.exit_code == 0, result.stderr
    assert "No test sent; the install is saved." in result.stderr
    assert "Interrupted" not in result.stderr
    assert invoke(runner, "show", "xmatters").exit_code == 0


def test_opting_in_to_verify_keeps_the_read_back_key(
    runner: CliRunner, memory_keyring: MemoryKeyring, emu: EmulatorServer
) -> None:
    """install asks for verify's read-back credentials only when the admin opts in."""
    key = "readback-key-0123456789"
    # The REST user, its password, then the workflow's two property names [G].
    result = invoke(runner, "install", "xmatters", input=answers(emu, "") + "y\nrb-user\n"
                    + key + "\nincident_id\nevent_type\n", **TTY)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "can find events in xMatters?" in result.stderr
    stored = {k[1]: v for k, v in memory_keyring.entries.items()}
    assert key in stored.values()
    assert key not in result.stdout + result.stderr
    # No at the question: nothing asked, nothing kept
    memory_keyring.entries.clear()
    result = invoke(runner, "install", "xmatters", input=answers(emu, "") + "n\n", **TTY)
    assert result.exit_code == 0
    assert key not in {v for v in memory_keyring.entries.values()}
