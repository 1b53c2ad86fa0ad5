"""Safety rails on real sends (issue 9 point 1): storms to real services need
--real-targets and get a safe default rate; send-test to several real services asks
(on a terminal) or needs --to / --all."""

from __future__ import annotations

import os
import sys

import pexpect
import pytest
from helpers import XM_URL, cli, install, sends

from bp_integrate.emulator import EmulatorServer
from bp_integrate.errors import UsageError
from bp_integrate.rails import REAL_TARGET_RATE, check_send_all, real_hosts, storm_rate

PD_REAL = "https://events.pagerduty.com/v2/enqueue"
LOCAL = "http://127.0.0.1:8080/hook"


def install_real(monkeypatch: pytest.MonkeyPatch) -> None:
    """xMatters and PagerDuty installed at their real hosts (nothing is ever sent)."""
    monkeypatch.setenv("BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY", "0123456789abcdef0123456789abcdef")
    monkeypatch.setenv("BP_INTEGRATE_XMATTERS_TRIGGER_URL_APIKEY", "k3y-abcdef")
    for name, sets in (
        ("pagerduty", [f"events_url={PD_REAL}"]),
        ("xmatters", [f"trigger_url={XM_URL}?apiKey=****", "auth=url", "recipients=ops"]),
    ):
        args = ["install", name, "--no-input", "--no-verify", "--secret-store", "env"]
        for item in sets:
            args += ["--set", item]
        result = cli(*args)
        assert result.exit_code == 0, result.stderr


def test_real_hosts_leaves_out_loopback() -> None:
    urls = [LOCAL, "http://[::1]:9/x", "http://localhost/x", PD_REAL, PD_REAL + "?a=1"]
    assert real_hosts(urls) == ["events.pagerduty.com"]


def test_storm_rate_on_loopback_keeps_the_users_choice() -> None:
    assert storm_rate([LOCAL], None, allow_real=False) is None
    assert storm_rate([LOCAL], 500.0, allow_real=False) == 500.0


def test_storm_rate_to_a_real_host_needs_the_flag_and_gets_a_safe_default() -> None:
    with pytest.raises(UsageError) as caught:
        storm_rate([LOCAL, PD_REAL], None, allow_real=False)
    assert "events.pagerduty.com" in caught.value.message
    assert "--real-targets" in (caught.value.hint or "")
    assert storm_rate([PD_REAL], None, allow_real=True) == REAL_TARGET_RATE == 2.0
    assert storm_rate([PD_REAL], 0.5, allow_real=True) == 0.5


def test_check_send_all() -> None:
    two = {"pagerduty": [PD_REAL], "xmatters": [XM_URL]}
    one = {"pagerduty": [PD_REAL], "webhook": [LOCAL]}
    assert check_send_all(one, chose=False, interactive=False) == []
    assert check_send_all(two, chose=True, interactive=False) == []
    assert check_send_all(two, chose=False, interactive=True) == ["pagerduty", "xmatters"]
    with pytest.raises(UsageError) as caught:
        check_send_all(two, chose=False, interactive=False)
    assert "--to pagerduty" in (caught.value.hint or "")
    assert "--all" in (caught.value.hint or "")


def test_storm_to_a_real_service_is_refused_without_the_flag(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    install_real(monkeypatch)
    result = cli("replay", "lifecycle", "--count", "3", "--to", "pagerduty")
    assert result.exit_code == 2
    assert "Storm mode would send to real services (events.pagerduty.com)" in result.stderr
    assert "Add --real-targets" in result.stderr


def test_real_targets_flag_only_with_count(monkeypatch: pytest.MonkeyPatch) -> None:
    install_real(monkeypatch)
    result = cli("replay", "lifecycle", "--real-targets", "--to", "pagerduty")
    assert result.exit_code == 2
    assert "--real-targets applies only to storm mode" in result.stderr


def test_storm_on_the_emulator_needs_no_flag(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(emu, "pagerduty", monkeypatch)
    result = cli("replay", "lifecycle", "--count", "2", "--concurrency", "2")
    assert result.exit_code == 0, result.stderr
    assert "Real services" not in result.stderr
    assert len(sends(emu, "/v2/enqueue")) == 2 * 5


def test_send_test_to_two_real_services_without_a_terminal_needs_to_or_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    install_real(monkeypatch)
    result = cli("send-test", "incident#new")
    assert result.exit_code == 2
    assert "send-test would send to 2 real services at once (pagerduty, xmatters)" in (
        result.stderr
    )
    assert "--to pagerduty" in result.stderr and "--all" in result.stderr


def test_send_test_to_the_emulator_is_not_asked(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(emu, "pagerduty", monkeypatch)
    install(emu, "incidentio", monkeypatch)
    result = cli("send-test", "incident#new")
    assert result.exit_code == 0, result.stderr
    assert len(sends(emu, "/v2/enqueue")) == 1


def test_send_test_asks_on_a_terminal_and_no_sends_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    install_real(monkeypatch)
    child = pexpect.spawn(
        sys.executable,
        ["-m", "bp_integrate", "send-test", "incident#new"],
        env={**os.environ, "COLUMNS": "200"},
        encoding="utf-8",
        timeout=20,
    )
    child.expect(r"Send to 2 real services \(pagerduty, xmatters\)\? Each may page its on-call")
    child.expect(r"\[y/N\]")
    child.sendline("")
    child.expect("Nothing was sent")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0  # declining is an answer, not a failure


# ------------------------------------------- what a single send shows (issue 9 point 7)


def test_as_curl_references_the_environment_variables_and_runs(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil
    import subprocess

    from helpers import CFG, PD_KEY

    install(emu, "pagerduty", monkeypatch)
    install(emu, "xmatters", monkeypatch)
    result = cli("send-test", "new", "--as-curl")
    assert result.exit_code == 0, result.stderr
    pd, xm = result.stdout.splitlines()
    assert """'{"routing_key":"'"${BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY}"'","event""" in pd
    assert "apiKey='\"${BP_INTEGRATE_XMATTERS_TRIGGER_URL_APIKEY}\"'&" in xm
    assert PD_KEY not in result.stdout and CFG.xmatters_api_key not in result.stdout
    assert "****" not in result.stdout
    assert "export them first" in result.stderr
    if not shutil.which("curl"):
        pytest.skip("curl is needed to run the printed commands")
    # Copied into a shell with the variables set, each command is accepted as is.
    for line in (pd, xm):
        ran = subprocess.run(
            ["sh", "-c", line], capture_output=True, text=True, timeout=20, env=dict(os.environ)
        )
        assert ran.returncode == 0, ran.stderr
    assert len(sends(emu, "/v2/enqueue")) == 1
    assert len(sends(emu, "/api/integration/1/functions/")) == 1
    shown = cli("send-test", "new", "--as-curl", "--show-secrets")
    assert PD_KEY in shown.stdout and "BP_INTEGRATE_" not in shown.stdout


def test_a_single_send_shows_connect_and_response_times_apart(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    import re

    install(emu, "pagerduty", monkeypatch)
    result = cli("send-test", "new")
    assert result.exit_code == 0, result.stderr
    found = re.search(
        r"  202  connect (\d+\.\d) ms, response (\d+\.\d) ms, total (\d+) ms  id=", result.stdout
    )
    assert found, result.stdout
    connect, response, total = (float(n) for n in found.groups())
    assert connect + response <= total + 1
    doc = json.loads(cli("send-test", "new", "--json").stdout)
    [res] = doc["results"]
    assert res["connect_ms"] > 0 and res["response_ms"] > 0
    assert res["connect_ms"] + res["response_ms"] <= res["latency_ms"] + 0.1
