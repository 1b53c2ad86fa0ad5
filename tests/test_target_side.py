"""The target's side by API (issue 18): install makes PagerDuty's Events API v2
integration and incident.io's BigPanda alert source through their APIs, against the
emulator; a re-run reuses them; uninstall deletes the alert source; a key without
permission, an unknown service and a 429 each fail clearly with nothing half made."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from helpers import MemoryKeyring, invoke, pasted
from typer.testing import CliRunner

from bp_integrate.emulator import EmulatorConfig, EmulatorServer
from bp_integrate.emulator.pagerduty import service_id_of
from bp_integrate.integrations.base import ApiClient

CFG = EmulatorConfig()
PD_KEY = CFG.settings("pagerduty").pagerduty_rest_api_key
PD_READ_ONLY = CFG.settings("pagerduty").pagerduty_rest_readonly_key
IO_KEY = CFG.incidentio_api_key
IO_VIEWER = CFG.incidentio_viewer_api_key
CHECKOUT = service_id_of("Checkout")


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """Rate limits and pacing without waiting: the waits asked for are recorded."""
    waits: list[float] = []
    monkeypatch.setattr(ApiClient, "sleep", waits.append)
    yield waits


def install(runner: CliRunner, name: str, *args: str, **env: str) -> Any:
    return invoke(runner, "install", name, "--no-input", "--no-verify", *args, **env)


def pd_install(runner: CliRunner, emu: EmulatorServer, *args: str, key: str = PD_KEY) -> Any:
    events = f"events_url={emu.base_url}/v2/enqueue"
    return install(runner, "pagerduty", "--set", events, *args, BP_INTEGRATE_PAGERDUTY_API_KEY=key)


def pd_integrations(emu: EmulatorServer) -> list[dict[str, Any]]:
    state = httpx.get(emu.base_url + "/_state").json()["pagerduty"]
    return [i for s in state["services_with_integrations"] for i in s["integrations"]]


def io_sources(emu: EmulatorServer) -> list[str]:
    state = httpx.get(emu.base_url + "/_state").json()["incidentio"]
    return [s["name"] for s in state["alert_sources"]]


# ------------------------------------------------------------------------ PagerDuty
def test_pagerduty_by_api_creates_the_integration_and_a_send_reaches_that_service(
    runner: CliRunner, memory_keyring: MemoryKeyring, emu: EmulatorServer
) -> None:
    result = pd_install(runner, emu, "--service", "Checkout", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["by_api"]["created"] is True
    assert doc["by_api"]["writes"][0]["method"] == "POST"
    assert doc["settings"]["service"] == f"Checkout ({CHECKOUT})"
    [made] = pd_integrations(emu)
    assert (made["name"], made["type"]) == ("BigPanda", "events_api_v2_inbound_integration")
    # The key is stored, never shown: the JSON masks it, the keyring holds it.
    assert pasted(doc, "integration_key") == "****"
    stored = next(v for k, v in memory_keyring.entries.items() if k[1].endswith("integration_key"))
    assert len(stored) == 32 and stored not in result.stdout + result.stderr
    sent = invoke(runner, "send-test", "incident#new", "--to", "pagerduty")
    assert sent.exit_code == 0, sent.stderr
    incidents = httpx.get(
        emu.base_url + "/incidents", headers={"Authorization": f"Token token={PD_KEY}"}
    ).json()["incidents"]
    assert [i["service"]["id"] for i in incidents] == [CHECKOUT]
    assert incidents[0]["service"]["summary"] == "Checkout"
    # A second install finds the integration by its name and reuses it.
    again = pd_install(runner, emu, "--service", CHECKOUT, "--json")
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["by_api"]["created"] is False
    assert len(pd_integrations(emu)) == 1
    assert (
        next(v for k, v in memory_keyring.entries.items() if k[1].endswith("integration_key"))
        == stored
    )


def test_pagerduty_dry_run_shows_the_calls_and_makes_nothing(
    runner: CliRunner, memory_keyring: MemoryKeyring, emu: EmulatorServer
) -> None:
    result = pd_install(runner, emu, "--service", "Checkout", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert f"GET {emu.base_url}/services?limit=100" in result.stderr
    assert f"POST {emu.base_url}/services/{CHECKOUT}/integrations" in result.stderr
    assert "Token token=****" in result.stderr and PD_KEY not in result.stdout + result.stderr
    assert pd_integrations(emu) == []
    assert invoke(runner, "show", "pagerduty").exit_code != 0  # nothing saved


def test_an_unknown_service_names_the_nearest(
    runner: CliRunner, memory_keyring: MemoryKeyring, emu: EmulatorServer
) -> None:
    result = pd_install(runner, emu, "--service", "Chekout")
    assert result.exit_code == 2
    assert "No PagerDuty service 'Chekout'" in result.stderr
    assert "Did you mean 'Checkout'?" in result.stderr
    assert pd_integrations(emu) == []
    missing = pd_install(runner, emu)  # no --service, no terminal: which one?
    assert missing.exit_code == 2 and "--service NAME|ID" in missing.stderr


def test_a_read_only_key_says_which_permission_and_makes_nothing(
    runner: CliRunner, memory_keyring: MemoryKeyring, emu: EmulatorServer
) -> None:
    result = pd_install(runner, emu, "--service", "Checkout", key=PD_READ_ONLY)
    assert result.exit_code != 0
    assert "lacks permission (403" in result.stderr
    assert "not read-only" in result.stderr and "services.write" in result.stderr
    assert PD_READ_ONLY not in result.stdout + result.stderr
    assert pd_integrations(emu) == []
    assert invoke(runner, "show", "pagerduty").exit_code != 0


def test_a_429_honours_ratelimit_reset_then_fails_clearly(
    runner: CliRunner, memory_keyring: MemoryKeyring, emu: EmulatorServer, no_waiting: list[float]
) -> None:
    fault = {
        "path_prefix": f"/services/{CHECKOUT}/integrations",
        "method": "POST",
        "status": 429,
        "times": 50,
        "headers": {"ratelimit-limit": "960", "ratelimit-remaining": "0", "ratelimit-reset": "7"},
        "body": {"error": {"message": "Rate Limit Exceeded", "code": 2020}},
    }
    assert httpx.post(emu.base_url + "/_faults", json=fault).status_code == 201
    result = pd_install(runner, emu, "--service", "Checkout")
    assert result.exit_code != 0
    assert "rate limited (429)" in result.stderr and "ratelimit-reset" in result.stderr
    # Between two tries (none after the last): PagerDuty's own header said how long.
    assert no_waiting.count(7.0) == 6
    assert pd_integrations(emu) == []
    assert invoke(runner, "show", "pagerduty").exit_code != 0


def test_a_local_failure_after_the_create_says_what_exists_and_a_rerun_reuses_it(
    runner: CliRunner,
    memory_keyring: MemoryKeyring,
    emu: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bp_integrate.commands import install as install_module
    from bp_integrate.errors import BPError

    def broken_save(*_args: Any, **_kwargs: Any) -> None:
        raise BPError("Cannot write the config file (disk full).", "Free some space.")

    monkeypatch.setattr(install_module, "save", broken_save)
    failed = pd_install(runner, emu, "--service", "Checkout")
    assert failed.exit_code != 0
    assert 'PagerDuty now has the Events API v2 integration "BigPanda"' in failed.stderr
    assert f"install pagerduty --service {CHECKOUT}" in failed.stderr
    assert "reuses it" in failed.stderr
    monkeypatch.undo()
    monkeypatch.setattr(ApiClient, "sleep", lambda _s: None)
    again = pd_install(runner, emu, "--service", CHECKOUT, "--json")
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["by_api"]["created"] is False
    assert len(pd_integrations(emu)) == 1


def test_without_a_rest_key_the_paste_flow_stays(
    runner: CliRunner, memory_keyring: MemoryKeyring
) -> None:
    result = install(runner, "pagerduty", "--json", BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY="a" * 32)
    assert result.exit_code == 0, result.stderr
    assert "by_api" not in json.loads(result.stdout)
    refused = install(runner, "pagerduty", "--by-api")
    assert refused.exit_code == 2 and "BP_INTEGRATE_PAGERDUTY_API_KEY" in refused.stderr


def test_pagerduty_uninstall_says_where_to_delete_it(
    runner: CliRunner, memory_keyring: MemoryKeyring, emu: EmulatorServer
) -> None:
    assert pd_install(runner, emu, "--service", "Checkout").exit_code == 0
    result = invoke(runner, "uninstall", "pagerduty", "--yes")
    assert result.exit_code == 0, result.stderr
    text = " ".join(result.stderr.split())
    assert "has no call that deletes a service integration" in text
    assert f"Services -> Service Directory -> Checkout ({CHECKOUT}) -> Integrations" in text
    assert len(pd_integrations(emu)) == 1  # still there: PagerDuty's API cannot delete it


# ------------------------------------------------------------------------ incident.io
def io_install(runner: CliRunner, emu: EmulatorServer, *args: str, key: str = IO_KEY) -> Any:
    return install(
        runner, "incidentio", "--set", f"api_url={emu.base_url}", *args,
        BP_INTEGRATE_INCIDENTIO_API_KEY=key,
    )  # fmt: skip


def test_incidentio_by_api_creates_reuses_and_uninstall_deletes_the_source(
    runner: CliRunner, memory_keyring: MemoryKeyring, emu: EmulatorServer
) -> None:
    result = io_install(runner, emu, "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["by_api"]["created"] is True
    url = pasted(doc, "url")
    assert url.startswith(f"{emu.base_url}/v2/alert_events/big_panda/")
    assert io_sources(emu) == ["BigPanda (demo)", "BigPanda"]
    sent = invoke(runner, "send-test", "incident#new", "--to", "incidentio")
    assert sent.exit_code == 0, sent.stderr
    state = httpx.get(emu.base_url + "/_state").json()["incidentio"]
    assert [a["status"] for a in state["alerts"]] == ["firing"]
    again = io_install(runner, emu, "--json")
    assert json.loads(again.stdout)["by_api"]["created"] is False
    assert pasted(json.loads(again.stdout), "url") == url
    assert io_sources(emu) == ["BigPanda (demo)", "BigPanda"]
    removed = invoke(
        runner, "uninstall", "incidentio", "--yes", BP_INTEGRATE_INCIDENTIO_API_KEY=IO_KEY
    )
    assert removed.exit_code == 0, removed.stderr
    assert f"DELETE {emu.base_url}/v2/alert_sources/" in removed.stderr
    assert io_sources(emu) == ["BigPanda (demo)"]


def test_incidentio_viewer_key_names_the_permission_and_makes_nothing(
    runner: CliRunner, memory_keyring: MemoryKeyring, emu: EmulatorServer
) -> None:
    result = io_install(runner, emu, key=IO_VIEWER)
    assert result.exit_code != 0
    assert "lacks permission (403" in result.stderr and "alert sources" in result.stderr
    assert io_sources(emu) == ["BigPanda (demo)"]
    assert invoke(runner, "show", "incidentio").exit_code != 0


def test_incidentio_429_honours_retry_after(
    runner: CliRunner, memory_keyring: MemoryKeyring, no_waiting: list[float]
) -> None:
    with EmulatorServer(config=EmulatorConfig(incidentio_api_rate_limit=1)) as emu:
        result = io_install(runner, emu)
        assert result.exit_code != 0
        assert "rate limited (429)" in result.stderr and "Retry-After" in result.stderr
        assert io_sources(emu) == ["BigPanda (demo)"]
    assert no_waiting.count(60.0) == 6  # between two tries, none after the last
