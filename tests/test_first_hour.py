"""Issue 19, second pass, through the real CLI: completion offers real values (profiles
after the command, run ids, a show's keys), typos get the right suggestion (and an
unrelated name none), verify's summary counts every hop with the reason of a skip, and
messages off a terminal stay as given (one line each, for grep)."""

from __future__ import annotations

import json

import pytest
from helpers import PD_KEY, MemoryKeyring, cli, install
from test_verify import FAST, setup, verify
from typer.testing import CliRunner

from bp_integrate.emulator import EmulatorServer


def complete(line: str) -> list[str]:
    """What `bp-integrate` offers at the end of `line` in bash (as its completion script
    asks: the words so far and the index of the one being completed)."""
    from bp_integrate.cli import app

    words = line.split()
    index = len(words) if line.endswith(" ") else len(words) - 1
    result = CliRunner().invoke(
        app,
        [],
        env={
            "_BP_INTEGRATE_COMPLETE": "complete_bash",
            "COMP_WORDS": line,
            "COMP_CWORD": str(index),
        },
        prog_name="bp-integrate",
    )
    assert result.exit_code == 0, result.output
    return result.stdout.split()


def test_profile_completion_after_the_command_offers_profiles(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(emu, "pagerduty", monkeypatch)
    monkeypatch.setenv("BP_INTEGRATE_PROD_PAGERDUTY_INTEGRATION_KEY", PD_KEY)
    assert cli("-p", "prod", "install", "pagerduty", "--no-input", "--secret-store", "env",
               "--set", f"events_url={emu.urls['pagerduty_events']}").exit_code == 0  # fmt: skip
    assert complete("bp-integrate show pagerduty -p ") == ["default", "prod"]
    assert complete("bp-integrate show pagerduty --profile p") == ["prod"]
    assert complete("bp-integrate profile set -p ") == ["default", "prod"]
    assert complete("bp-integrate -p ") == ["default", "prod"]
    # and the argument after the command still offers integrations
    assert "xmatters" in complete("bp-integrate show ")
    # the hidden option only completes: a command line still works as before
    shown = cli("show", "pagerduty", "-p", "prod", "--json")
    assert shown.exit_code == 0, shown.stderr
    assert '"profile": "prod"' in shown.stdout


def test_from_run_and_field_complete_their_real_values(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bp_integrate import history

    assert complete("bp-integrate replay --from-run ") == []  # no runs yet, and no files
    install(emu, "xmatters", monkeypatch)
    assert cli("send-test", "new", "--to", "xmatters").exit_code == 0
    [run] = history.list_runs()
    assert complete("bp-integrate replay --from-run ") == [run.id]
    assert complete(f"bp-integrate replay --from-run {run.id[:8]}") == [run.id]
    assert complete("bp-integrate replay --from-run x") == []
    keys = complete("bp-integrate show xmatters --field ")
    assert keys[0] == "url" and "recipients" in keys and "auth" in keys
    assert complete("bp-integrate show xmatters --field rec") == ["recipients"]
    # not installed: the integration's own field names
    assert "integration_key" in complete("bp-integrate show pagerduty --field ")


def test_typos_get_the_nearest_and_an_unrelated_name_none(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY", PD_KEY)
    base = ("install", "pagerduty", "--no-input", "--no-verify")
    field = cli(*base, "--set", "field_map=componnet=service")
    assert field.exit_code == 2
    assert "Did you mean 'component'?" in field.stderr
    scheme = cli(*base, "--set", "events_url=htps://events.pagerduty.com/v2/enqueue")
    assert scheme.exit_code == 2
    assert "Did you mean 'https://events.pagerduty.com/v2/enqueue'?" in scheme.stderr
    other = cli(*base, "--set", "events_url=ftp://events.pagerduty.com/v2/enqueue")
    assert other.exit_code == 2 and "Did you mean" not in other.stderr
    nope = cli("show", "nope")
    assert nope.exit_code == 2, nope.stderr
    assert "Unknown integration 'nope'" in nope.stderr
    assert "Did you mean" not in nope.stderr
    near = cli("show", "pagerdty")
    assert "Did you mean 'pagerduty'?" in near.stderr


def test_verify_summary_counts_every_hop_and_leaves_the_reasons_to_their_lines(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    setup(emu, monkeypatch, names=("pagerduty", "xmatters"), readback=False)
    result = verify(*FAST)
    assert result.exit_code == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    hops = [line for line in lines if line[:1] in ("✓", "✗", "-")]
    passed = sum(1 for line in hops if line.startswith("✓"))
    skipped = [line for line in hops if line.startswith("-")]
    assert len(skipped) == 2, lines
    # The reason is said once, on the hop's own line, not again in the summary.
    assert all("BP_INTEGRATE_" in line for line in skipped)
    assert lines[-1] == f"{passed} passed, 0 failed, 2 not checked (see above)"
    # each hop once: progress goes to a spinner on a terminal, never as lines here
    assert result.stderr.count("PagerDuty received it") == 0
    doc = json.loads(verify("--json", *FAST).stdout)  # --json keeps every reason
    reasons = [h["detail"] for h in doc["hops"] if h["status"] == "not_checked"]
    assert len(reasons) == 2 and all(r.startswith("not checked: set BP_") for r in reasons)


def test_an_error_off_a_terminal_is_one_line_as_given(runner: CliRunner) -> None:
    result = cli("show", "xmatters")
    assert result.exit_code == 3
    first, hint = result.stderr.splitlines()[:2]
    assert first.startswith("Error: ") and hint.startswith("  ")


def test_send_test_summary_counts_a_skip_with_its_reason(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(emu, "incidentio", monkeypatch)
    install(emu, "panopta", monkeypatch)
    sent = cli("send-test", "updated", "--to", "panopta", "--to", "incidentio")
    assert sent.exit_code == 0, sent.stderr
    [summary] = [line for line in sent.stderr.splitlines() if "request(s) accepted" in line]
    assert summary.startswith("success: 1 of 1 request(s) accepted, 1 skipped (panopta: ")
    assert "Panopta sends only outage" in summary


def test_the_autoshare_reminder_is_said_at_the_first_install_only(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY", PD_KEY)
    args = ("install", "pagerduty", "--no-input", "--secret-store", "env",
            "--set", f"events_url={emu.urls['pagerduty_events']}")  # fmt: skip
    first = cli(*args)
    assert first.exit_code == 0, first.stderr
    assert first.stderr.count("Reminder: Create an AutoShare rule") == 1
    update = cli(*args, "--set", "override_tag=pd_key")
    assert update.exit_code == 0, update.stderr
    assert "Updated PagerDuty" in update.stderr and "AutoShare" not in update.stderr
    shown = cli("show", "pagerduty")
    assert shown.exit_code == 0 and "AutoShare" not in shown.stderr


def test_replay_summary_counts_every_target_step_and_says_why_skips_were(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lifecycle's update is not sent to Panopta: the summary's counts add up to every
    target step (9 passed + 1 skipped = 5 steps x 2 targets), the skip with its reason."""
    install(emu, "incidentio", monkeypatch)
    install(emu, "panopta", monkeypatch)
    ran = cli("replay", "lifecycle", "--to", "panopta", "--to", "incidentio")
    assert ran.exit_code == 0, ran.stderr
    [summary] = [line for line in ran.stdout.splitlines() if " passed, " in line]
    assert summary.startswith("success: 9 passed, 0 failed, 1 skipped (panopta: "), summary
    as_json = cli("replay", "lifecycle", "--to", "panopta", "--to", "incidentio", "--json")
    last = json.loads(as_json.stdout.splitlines()[-1])
    assert (last["passed"], last["failed"], last["skipped"]) == (9, 0, 1)
