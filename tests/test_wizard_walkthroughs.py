"""Issue 19 items 2, 4, 8 and 9 through a real terminal (pexpect): the region asked for
a new profile, `back`, `?` and `\\back` at any prompt, a multi-line JSON paste, the
offered test send into a new profile against the local emulator, and what is said."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from helpers import CFG, PD_KEY, XM_URL

from bp_integrate.emulator import EmulatorServer

pytest.importorskip("pexpect")
from test_wizard_pty import STORE, answer, finish, spawn, transcript

REGION = "BigPanda region (us, eu or URL) [us]:"


def keyring_env(tmp_path: Path) -> dict[str, str]:
    """A file-backed keyring in the child (tests/file_keyring.py)."""
    return {
        "PYTHON_KEYRING_BACKEND": "file_keyring.FileKeyring",
        "BP_TEST_KEYRING_FILE": str(tmp_path / "keyring.json"),
        "PYTHONPATH": str(Path(__file__).parent) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }


def config_of(tmp_path: Path) -> dict[str, object]:
    data = yaml.safe_load((tmp_path / "config" / "config.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_new_profile_install_with_the_offered_test_send_to_the_emulator(
    emu: EmulatorServer, tmp_path: Path
) -> None:
    """Item 8: a whole interactive install into a new profile, the offer accepted: the
    event reaches the (emulated) xMatters; the region (a typo first) is kept in the
    profile; at Recipients `?` shows the help, `back` goes to the previous step, and
    `\\back` gives the word itself."""
    url = f"{emu.urls['xmatters_trigger']}?apiKey={CFG.xmatters_api_key}"
    child = spawn(tmp_path, "-p", "staging", "install", "xmatters", extra_env=keyring_env(tmp_path))
    child.expect_exact("Profile 'staging' is new")
    answer(child, REGION, "euu")
    child.expect_exact("Did you mean 'eu'?")
    answer(child, REGION, "htps://" + emu.base_url.split("://", 1)[1])
    child.expect_exact("Did you mean 'https://")
    answer(child, REGION, emu.base_url)
    answer(child, "[hidden input; Enter to skip]", "")  # no App Key
    answer(child, "xMatters trigger URL (hidden input: paste and press Enter)", url)
    answer(child, "Authentication (url, basic or none) [url]:", "")
    answer(child, "Done with 'Install the BigPanda workflow'? [Y/n/back]", "y")
    answer(child, "Recipients (comma-separated users or groups, optional):", "?")
    child.expect_exact("xMatters user or group names, e.g. 'Cloud Devops, alice'.")
    answer(child, "Recipients (comma-separated users or groups, optional):", "back")
    # back at the step's first question: the previous step's questions, as given
    answer(child, "xMatters trigger URL (hidden input: paste and press Enter) [", "")
    answer(child, "Authentication (url, basic or none) [url]:", "")
    answer(child, "Done with 'Install the BigPanda workflow'? [Y/n/back]", "y")
    answer(child, "Recipients (comma-separated users or groups, optional):", "\\back")
    answer(child, "Show the secret values (****) so you can copy them? [y/N]", "")
    answer(child, "Done with 'Configure the webhook'? [Y/n]", "y")
    child.expect_exact("reaches the local emulator (127.0.0.1)")
    answer(child, "Send one test event (incident#new) to xMatters now? [y/N]", "y")
    answer(child, "can find events in xMatters? [y/N]", "")  # no read-back
    code, _rest = finish(child)
    shown = transcript(child)
    assert code == 0, shown
    assert "is not installed in profile" not in shown
    assert "the real xMatters" not in shown
    assert "1 of 1 request(s) accepted" in shown
    [record] = [r for r in emu.state.records() if r.path.startswith("/api/integration")]
    assert record.status == 202
    assert "recipients=back" in str(record.query)
    profile = config_of(tmp_path)["profiles"]["staging"]  # type: ignore[index]
    assert profile["bigpanda"] == {"region": "custom", "api_url": emu.base_url}
    assert profile["integrations"]["xmatters"]["settings"]["recipients"] == "back"


def test_eu_region_offers_pagerdutys_eu_events_host(tmp_path: Path) -> None:
    """Item 4: an eu profile is offered events.eu.pagerduty.com; the region is kept."""
    child = spawn(tmp_path, "-p", "eu", "install", "pagerduty", *STORE)
    answer(child, REGION, "eu")
    answer(child, "[hidden input]", PD_KEY)
    answer(child, "Done with", "y")
    answer(child, "[hidden input; Enter to skip]", "")  # App Key
    answer(child, "override integration key (optional):", "")
    answer(child, "(optional):", "")  # field map
    eu_host = "[https://events.eu.pagerduty.com/v2/enqueue]:"  # the Events API v2 URL
    while child.expect_exact([eu_host, "[per-field]:", "{field}]:"]) != 0:
        child.sendline("")  # how field mappings are sent, their header format: defaults
    child.sendline("")
    child.expect_exact("now? [y/N]")  # the offered test send: not taken
    child.sendline("")
    code, _rest = finish(child)
    shown = transcript(child)
    assert code == 0, shown
    profile = config_of(tmp_path)["profiles"]["eu"]  # type: ignore[index]
    assert profile["bigpanda"]["region"] == "eu"
    values = profile["integrations"]["pagerduty"]["settings"]
    assert values["events_url"] == "https://events.eu.pagerduty.com/v2/enqueue"


def test_multi_line_json_paste_is_checked_once(tmp_path: Path) -> None:
    """Item 2: a JSON payload pasted over several lines is read until it is whole, then
    checked once (no error per line)."""
    url = XM_URL + "?apiKey=wk1"
    child = spawn(tmp_path, "install", "panopta", *STORE)
    answer(child, "[workflow]:", "")
    answer(child, "(hidden input: paste and press Enter)", url)
    answer(child, "optional):", "")  # recipients
    child.expect_exact("Raw payload template (JSON)")
    child.expect_exact("]: ")
    for line in ['{"fqdn": "$fqdn",', '  "nested": {"a": [1,', "2]},", '  "t": "$timestamp"', "}"]:
        child.sendline(line)
    answer(child, "Done with 'Install the Panopta workflow'? [Y/n/back]", "y")
    answer(child, "so you can copy them? [y/N]", "")
    answer(child, "Done with", "y")
    answer(child, "now? [y/N]", "")  # no test send
    code, _rest = finish(child)
    shown = transcript(child)
    assert code == 0, shown
    assert "not valid JSON" not in shown
    values = config_of(tmp_path)["profiles"]["default"]["integrations"]["panopta"]["settings"]  # type: ignore[index]
    assert json.loads(values["payload"]) == {
        "fqdn": "$fqdn",
        "nested": {"a": [1, 2]},
        "t": "$timestamp",
    }


def test_authorization_without_a_scheme_is_warned_about(tmp_path: Path) -> None:
    """Item 9: a bare token as the Authorization value is allowed, with a warning."""
    child = spawn(tmp_path, "install", "webhook", *STORE)
    child.expect_exact("BigPanda region: us (api.bigpanda.io). For eu or another host:")
    answer(child, "[hidden input; Enter to skip]", "")  # App Key
    answer(
        child,
        "Receiver URL (hidden input: paste and press Enter):",
        "https://hooks.example.com/bigpanda",
    )
    answer(child, "[hidden input; Enter to skip]", "abc123token")
    answer(child, "NAME=VALUE,NAME=VALUE):", "")
    child.expect_exact("has no scheme (Bearer, Basic, ...)")
    answer(child, "[Y/n/back]", "y")
    answer(child, "[y/N]", "")  # show secrets
    answer(child, "Done with", "y")
    answer(child, "now? [y/N]", "")  # no test send
    code, _rest = finish(child)
    assert code == 0, transcript(child)
