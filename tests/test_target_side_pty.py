"""The target's side by API, as a person at a terminal does it: the REST key typed
(hidden), the service picked by typing part of its name, the calls shown and confirmed,
then created in (the emulated) PagerDuty; a send then reaches that service."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bp_integrate.emulator import EmulatorServer

REST_KEY = "demo-pagerduty-rest-key"


def test_pagerduty_service_picked_by_typing_and_the_integration_made(
    emu: EmulatorServer, tmp_path: Path
) -> None:
    pytest.importorskip("pexpect")
    from test_wizard_pty import answer, finish, spawn, transcript

    extra = {
        "PYTHON_KEYRING_BACKEND": "file_keyring.FileKeyring",
        "BP_TEST_KEYRING_FILE": str(tmp_path / "keyring.json"),
        "PYTHONPATH": str(Path(__file__).parent) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    # An existing profile: install asks nothing about the region here.
    child = spawn(tmp_path, "profile", "set", "--region", "us", extra_env=extra)
    assert finish(child)[0] == 0
    events = emu.urls["pagerduty_events"]
    child = spawn(
        tmp_path,
        "install",
        "pagerduty",
        "--by-api",
        "--set",
        f"events_url={events}",
        columns=120,
        extra_env=extra,
    )
    answer(child, "PagerDuty REST API key (hidden input):", REST_KEY)
    child.expect_exact("Checkout (PD84BD8)")
    answer(child, "(or text to filter):", "check")  # part of the name, any case
    child.expect_exact("POST " + emu.base_url + "/services/PD84BD8/integrations")
    answer(child, "Make these calls? [Y/n]", "y")
    child.expect_exact('Created the Events API v2 integration "BigPanda"')
    answer(child, "[hidden input; Enter to skip]:", "")  # no App Key
    for _ in range(4):  # the optional routing and mapping settings: defaults
        child.expect(r"\]?: $")
        child.sendline("")
    answer(child, "now? [y/N]", "y")  # the offered test send
    code, _rest = finish(child)
    shown = transcript(child)
    assert code == 0, shown
    assert REST_KEY not in shown  # typed hidden, shown masked
    assert "success: 1 of 1 request(s) accepted" in shown
    # The send reached the service the integration was made on.
    import httpx

    incidents = httpx.get(
        emu.base_url + "/incidents", headers={"Authorization": f"Token token={REST_KEY}"}
    ).json()["incidents"]
    assert [i["service"]["id"] for i in incidents] == ["PD84BD8"]
