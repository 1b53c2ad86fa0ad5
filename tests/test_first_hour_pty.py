"""Issue 19, second pass, through a real terminal (pexpect): a named profile's install
reads and names its own variables; `back` and `?` at the target's API key, its service
picker and the read-back prompts; what is printed fits 80 columns, no word cut in
half."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import CFG, PD_KEY

from bp_integrate.emulator import EmulatorServer

pytest.importorskip("pexpect")
from test_wizard_pty import answer, finish, spawn, transcript
from test_wizard_walkthroughs import REGION, keyring_env

REST_KEY = "demo-pagerduty-rest-key"
STAGING_KEY = "5" * 32


def fits(shown: str, columns: int = 80) -> None:
    """Every line within the terminal's width, so the terminal never wraps one mid-word;
    only a word longer than a line (a URL, a path) runs past it, on a line of its own."""
    for line in shown.splitlines():
        if len(line.rstrip()) > columns:
            longest = max(line.split(), key=len)
            assert len(longest) > columns - 12, line
            assert len(line.strip()) - len(longest) <= 4, line  # at most `-> ` before it


def test_named_profile_env_install_asks_and_names_its_own_variable(
    emu: EmulatorServer, tmp_path: Path
) -> None:
    """A shared variable exported in the shell (a staging key) is not read for prod: the
    key is asked, and the export printed is prod's own variable."""
    child = spawn(
        tmp_path, "-p", "prod", "install", "pagerduty", "--secret-store", "env",
        "--set", f"events_url={emu.urls['pagerduty_events']}",
        extra_env={"BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY": STAGING_KEY},
    )  # fmt: skip
    answer(child, REGION, "")
    answer(child, "PagerDuty integration key [hidden input]:", PD_KEY)
    answer(child, "[Y/n/back]", "y")
    answer(child, "[hidden input; Enter to skip]:", "")  # no App Key
    for _ in range(4):  # the optional routing and mapping settings: defaults
        child.expect(r"\]?: $")
        child.sendline("")
    code, _rest = finish(child)
    shown = transcript(child)
    assert code == 0, shown
    assert "export BP_INTEGRATE_PROD_PAGERDUTY_INTEGRATION_KEY='****cdef'" in shown
    assert "export BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY" not in shown
    assert STAGING_KEY not in shown and PD_KEY not in shown
    fits(shown)


def test_back_and_help_at_the_api_key_and_the_service_picker(
    emu: EmulatorServer, tmp_path: Path
) -> None:
    extra = keyring_env(tmp_path)
    assert finish(spawn(tmp_path, "profile", "set", "--region", "us", extra_env=extra))[0] == 0
    child = spawn(
        tmp_path, "install", "pagerduty", "--by-api",
        "--set", f"events_url={emu.urls['pagerduty_events']}", extra_env=extra,
    )  # fmt: skip
    key_prompt = "PagerDuty REST API key (hidden input):"
    answer(child, key_prompt, "?")
    child.expect_exact("API Access Keys")  # the key's help again
    answer(child, key_prompt, "back")
    child.expect_exact("This is the first question: there is nothing before it.")
    answer(child, key_prompt, REST_KEY)
    picker = "(or text to filter):"
    answer(child, picker, "?")
    child.expect_exact("Pick the PagerDuty service")
    answer(child, picker, "help")
    child.expect_exact("part of its name to narrow the list")
    answer(child, picker, "back")  # the key again: a wrong one typed can be retyped
    answer(child, key_prompt, REST_KEY)
    answer(child, picker, "check")
    answer(child, "Make these calls? [Y/n]", "y")
    child.expect_exact('Created the Events API v2 integration "BigPanda"')
    answer(child, "[hidden input; Enter to skip]:", "")  # no App Key
    for _ in range(4):
        child.expect(r"\]?: $")
        child.sendline("")
    answer(child, "now? [y/N]", "n")
    code, _rest = finish(child)
    shown = transcript(child)
    assert code == 0, shown
    assert REST_KEY not in shown
    assert "No service matches" not in shown  # no reserved word was taken as a filter
    fits(shown)


def test_back_and_help_at_the_read_back_prompts(emu: EmulatorServer, tmp_path: Path) -> None:
    """At the read-back prompts `?` shows the field's help, `back` the previous prompt (at
    the first: there is none); a reserved word is never kept as a credential."""
    url = f"{emu.urls['xmatters_trigger']}?apiKey={CFG.xmatters_api_key}"
    child = spawn(tmp_path, "install", "xmatters", extra_env=keyring_env(tmp_path))
    answer(child, "[hidden input; Enter to skip]", "")
    answer(child, "xMatters trigger URL (hidden input: paste and press Enter)", url)
    answer(child, "Authentication (url, basic or none) [url]:", "")
    answer(child, "Done with 'Install the BigPanda workflow'? [Y/n/back]", "y")
    answer(child, "Recipients (comma-separated users or groups, optional):", "")
    answer(child, "Show the secret values (****) so you can copy them? [y/N]", "")
    answer(child, "Done with 'Configure the webhook'? [Y/n]", "y")
    answer(child, "Send one test event (incident#new) to xMatters now? [y/N]", "n")
    answer(child, "can find events in xMatters? [y/N]", "y")
    user = "xMatters REST user:"
    answer(child, user, "?")
    child.expect_exact("REST Web Service User role")
    answer(child, user, "back")
    child.expect_exact("This is the first question: there is nothing before it.")
    answer(child, user, "rb-user")
    password = "xMatters REST user's password (hidden input):"
    answer(child, password, "back")
    answer(child, user, "rb-user-2")  # the user again, then on
    answer(child, password, "help")
    child.expect_exact("The password of that REST user.")
    answer(child, password, "rb-password-123")
    answer(child, "property", "")
    answer(child, "property", "")
    code, _rest = finish(child)
    shown = transcript(child)
    assert code == 0, shown
    assert "Read-back credentials kept in the keyring" in shown
    keyring = (tmp_path / "keyring.json").read_text(encoding="utf-8")
    assert "rb-user-2" in keyring and "rb-password-123" in keyring
    assert '"back"' not in keyring and '"?"' not in keyring and '"help"' not in keyring
    fits(shown)
    # The paste block once, and the AutoShare reminder once, in the whole install.
    assert shown.count("Reminder: Create an AutoShare rule") == 1
    assert len(re.findall(r"xMatters \(profile default\): paste into BigPanda", shown)) == 1


def test_list_and_an_error_wrap_at_words_on_80_columns(tmp_path: Path) -> None:
    child = spawn(tmp_path, "list")
    code, _rest = finish(child)
    shown = transcript(child)
    assert code == 0, shown
    fits(shown)
    rows = [line for line in shown.splitlines() if line.startswith("xmatters")]
    assert rows and len(shown.splitlines()) > 7  # the summaries wrapped, not cut
    for line in shown.splitlines()[1:]:
        if line.startswith(" "):  # a continuation: under the summary column
            assert line.startswith(" " * 23) and line[23] != " ", line
    child = spawn(tmp_path, "install", "pagerduty", "--no-input", "--secret-store", "env")
    code, _rest = finish(child)
    shown = transcript(child)
    assert code == 2, shown
    error = shown[shown.index("Error: ") :].splitlines()
    assert len(error) >= 3  # the hint, longer than a line, wrapped at words
    assert all(line.startswith("  ") for line in error[1:] if line)  # the hint, indented
    assert "BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY" in shown  # the variable, whole
    fits(shown)


def test_history_on_80_columns_keeps_each_run_readable(emu: EmulatorServer, tmp_path: Path) -> None:
    env = {"BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY": PD_KEY}
    events = f"events_url={emu.urls['pagerduty_events']}"
    for args in (
        ("install", "pagerduty", "--no-input", "--secret-store", "env", "--set", events),
        ("send-test", "incident#new", "--to", "pagerduty"),
    ):
        child = spawn(tmp_path, *args, extra_env=env)
        assert finish(child)[0] == 0, transcript(child)
    child = spawn(tmp_path, "history")
    code, _rest = finish(child)
    shown = transcript(child)
    assert code == 0, shown
    fits(shown)
    [head] = [line for line in shown.splitlines() if re.match(r"\d{8}T", line)]
    assert head.split()[-2:] == ["default", "success"]
    assert "send-test incident#new; to pagerduty; sent 1, ok 1, failed 0, skipped 0" in (
        " ".join(line.strip() for line in shown.splitlines())
    )


def test_the_default_profile_is_asked_its_region_where_the_install_depends_on_it(
    tmp_path: Path,
) -> None:
    """The default profile exists from the start, so no "new profile" asks its region; a
    PagerDuty install, whose events host depends on it, asks first (eu offers PagerDuty's
    EU host), and Ctrl-C there saves nothing, the region included."""
    from bp_integrate.integrations.pagerduty import EU_EVENTS_URL

    child = spawn(tmp_path, "install", "pagerduty", "--secret-store", "env")
    answer(child, REGION, "eu")
    answer(child, "PagerDuty integration key [hidden input]:", PD_KEY)
    answer(child, "[Y/n/back]", "y")
    answer(child, "[hidden input; Enter to skip]:", "")  # no App Key
    for _ in range(4):  # the optional routing and mapping settings: defaults
        child.expect(r"\]?: $")
        child.sendline("")
    child.expect(re.escape(EU_EVENTS_URL))  # the events URL offered: the EU host
    child.sendintr()
    code, _rest = finish(child)
    shown = transcript(child)
    assert code == 130, shown
    config_file = tmp_path / "config" / "config.yaml"
    assert not config_file.exists() or "region" not in config_file.read_text()
