"""Notifications Webhook v2: templates rendered as BigPanda renders them, checked before
BigPanda sees them, its side in BigPanda by API (against the emulator), and test sends,
shares and verify that carry the rendered trigger."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from helpers import CFG, MemoryKeyring, cli, history_text, state_dir
from typer.testing import CliRunner

from bp_integrate import templates
from bp_integrate.bigpanda.api import BigPandaClient
from bp_integrate.cli import app
from bp_integrate.emulator import EmulatorServer
from bp_integrate.emulator.webhook import WebhookState
from bp_integrate.errors import UsageError
from bp_integrate.integrations import get
from bp_integrate.integrations import webhook_v2 as v2
from bp_integrate.integrations.base import PlannedRequest, SendOptions, Skipped
from bp_integrate.templates import KnownVariables
from bp_integrate.wizard import load_answers

EXAMPLES = Path(__file__).parent.parent / "examples" / "webhook-v2"
ENV = "64f0c0de0000000000000001"
#: A Slack incoming-webhook URL: all after /services/ is its secret.
SLACK_SECRET = "T0CANARY1/B0CANARY1/SlackCanarySecret0001"
SLACK = "https://hooks.slack.com/services/" + SLACK_SECRET
TOKEN = "Bearer demo-webhook-token"
INTEGRATION = get("webhook_v2")


def settings(**changes: str) -> dict[str, str]:
    """Install's values, each through its field's check (as install stores them)."""
    raw = {
        "name": "tix",
        "base_url": "http://127.0.0.1:9/webhook/demo",
        "triggers": "default, incident#closed",
        "templates": json.dumps(
            {
                "incident#closed": {
                    "method": "PATCH",
                    "path": "/tickets/{{ incident.id }}",
                    "headers": {"X-Host": "{{primaryAlert.tags.host}}"},
                    "body": {"id": "{{incident.id}}", "start": "{{incident.start}}"},
                }
            }
        ),
        "method": "POST",
        "expects_callbacks": "false",
        **changes,
    }
    values: dict[str, str] = {}
    for f in INTEGRATION.fields:
        if raw.get(f.name):
            values[f.name] = f.validate(raw[f.name], values)
    return values


# --------------------------------------------------------------------------- rendering
def test_a_whole_string_variable_keeps_its_type_and_text_is_substituted() -> None:
    values = {"incident.start": 17, "incident.is_active": True, "incident.id": "i-1"}
    body = {
        "start": "{{incident.start}}",
        "active": "{{ incident.is_active }}",
        "text": "incident {{incident.id}} since {{incident.start}} ({{incident.is_active}})",
        "missing": "{{assignee.username}}",
        "nested": [{"id": "{{incident.id}}"}],
    }
    assert templates.render_json(body, values) == {
        "start": 17,
        "active": True,
        "text": "incident i-1 since 17 (true)",
        "missing": templates.UNRESOLVED,
        "nested": [{"id": "i-1"}],
    }


def test_share_values_come_from_the_simulated_incident_and_its_share() -> None:
    incident, body = v2.sample_share("incident#closed")
    values = templates.share_values("incident#closed", incident, body)
    assert values["incident.id"] == incident["id"]
    assert values["incident.is_active"] is False
    assert values["metadata.event"] == "incident#closed"
    assert values["primaryAlert.tags.host"] == templates.primary_alert(incident)["tags"][0]["value"]
    assert values["links.incident"].endswith("/incidents/" + incident["id"])


def test_plan_renders_the_triggers_own_settings_and_falls_back_to_default() -> None:
    values = settings(authorization="Bearer {{incidentTags.bp_integrate_test}}")
    incident, body = v2.sample_share("incident#closed")
    [closed] = INTEGRATION.plan("incident#closed", incident, body, values, SendOptions())
    assert isinstance(closed, PlannedRequest)
    assert (closed.method, closed.url) == (
        "PATCH",
        f"http://127.0.0.1:9/webhook/demo/tickets/{incident['id']}",
    )
    assert closed.body == {"id": incident["id"], "start": incident["start"]}
    host = templates.share_values("incident#closed", incident, body)["primaryAlert.tags.host"]
    assert closed.headers["X-Host"] == host
    assert closed.headers["Authorization"] == "Bearer "  # the tag is not on this incident
    assert closed.secret_headers == frozenset({"Authorization"})
    incident, body = v2.sample_share("incident#updated")
    [updated] = INTEGRATION.plan("incident#updated", incident, body, values, SendOptions())
    assert isinstance(updated, PlannedRequest)
    assert (updated.method, updated.url) == ("POST", "http://127.0.0.1:9/webhook/demo")
    assert updated.body["incident_id"] == incident["id"]  # the default body


def test_without_default_only_the_listed_triggers_share() -> None:
    values = settings(triggers="incident#closed")
    config = v2.workflow_config(values)
    assert [(e["event"], e["enabled"]) for e in config["events"]] == [
        ("default", False),
        ("incident#closed", True),
    ]
    incident, body = v2.sample_share()
    [skipped] = INTEGRATION.plan("incident#new", incident, body, values, SendOptions())
    assert isinstance(skipped, Skipped)


# --------------------------------------------------------------------------- checks
@pytest.mark.parametrize(
    ("change", "message", "hint"),
    [
        ({"path": "/t/{{incident.idd}}"}, "{{incident.idd}}", "{{incident.id}}"),
        ({"headers": "X-A={{primaryAlert.tag.host}}"}, "primaryAlert.tag.host", "Did you mean"),
        ({"path": "/t/{{primaryAlert.tags.Host}}"}, "not a BigPanda tag name", "tags.host"),
        ({"path": "/t/{{incident.id}"}, "does not make", "{{incident.id}}"),
    ],
)
def test_a_bad_template_is_refused_with_the_nearest_variable(
    change: dict[str, str], message: str, hint: str
) -> None:
    values = {**settings(), **change}
    with pytest.raises(UsageError) as caught:
        v2.validate_values(values)
    assert message in caught.value.message
    assert hint in (caught.value.hint or "")


def test_a_body_that_is_not_an_object_is_refused_at_the_field() -> None:
    with pytest.raises(UsageError, match="not a JSON object"):
        INTEGRATION.field("body").validate('["{{incident.id}}"]', {})
    with pytest.raises(UsageError, match=r"incident\.stat"):
        INTEGRATION.field("body").validate('{"s": "{{incident.stat}}"}', {})


def test_online_every_variable_must_be_the_organisations() -> None:
    known = KnownVariables.from_api(
        {"incident": [{"title": "id", "value": "incident.id"}], "primaryAlert.tags": []}
    )
    config = v2.workflow_config(settings(body='{"id": "{{incident.id}}"}', templates=""))
    v2.validate_workflow(config, known)
    config = v2.workflow_config(settings(body='{"h": "{{primaryAlert.tags.host}}"}', templates=""))
    with pytest.raises(UsageError, match="dynamic variables API"):
        v2.validate_workflow(config, known)


@pytest.mark.parametrize(
    "example",
    [*sorted(EXAMPLES.glob("*.yaml")), EXAMPLES.parent / "answers" / "webhook_v2.yaml"],
    ids=lambda p: p.name,
)
def test_the_examples_validate_and_render(example: Path) -> None:
    values = load_answers(example, INTEGRATION)
    if "base_url" not in values:  # a URL that is a secret: the file names its variable
        assert "export BP_INTEGRATE_WEBHOOK_V2_BASE_URL=" in example.read_text("utf-8")
        values["base_url"] = SLACK
    checked: dict[str, str] = {}
    for f in INTEGRATION.fields:
        if values.get(f.name):
            checked[f.name] = f.validate(values[f.name], checked)
    v2.validate_values(checked)
    for event in ("incident#new", "incident#closed"):
        incident, body = v2.sample_share(event)
        [request] = INTEGRATION.plan(event, incident, body, checked, SendOptions())
        assert isinstance(request, PlannedRequest)
        assert isinstance(request.body, dict) and request.body
        assert "{{" not in json.dumps(request.body) + request.url


# --------------------------------------------------------------------------- BigPanda's side
def _client(emu: EmulatorServer) -> BigPandaClient:
    return BigPandaClient(emu.base_url, CFG.bigpanda_api_key, CFG.bigpanda_org_token)


def test_install_creates_then_updates_then_export_round_trips_then_uninstall_deletes(
    emu: EmulatorServer, tmp_path: Path
) -> None:
    values = settings(base_url=emu.base_url + "/webhook/demo", authorization=TOKEN)
    bp = _client(emu)
    try:
        first = v2.plan_install(bp, values)
        assert first.action == "create"
        [call] = first.calls
        assert call.shown()["body"]["workflow_config"]["events"][0]["authorization"] == (
            "Bearer ****"
        )
        held = v2.apply(bp, first)
        assert held is not None and held["name"] == "tix"
        assert v2.plan_install(bp, values).action == "unchanged"
        changed = {**values, "method": "PUT"}
        second = v2.plan_install(bp, changed)
        assert second.action == "update"
        assert '- default.method: "POST"' in second.difference
        assert '+ default.method: "PUT"' in second.difference
        v2.apply(bp, second)
        [found] = bp.list_integrations()
        assert found["workflow_config"]["events"][0]["method"] == "PUT"
        # Export, then install from the file: nothing to do.
        exported = tmp_path / "exported.yaml"
        exported.write_text(v2.export_text(found), "utf-8")
        answers = load_answers(exported, INTEGRATION)
        again: dict[str, str] = {}
        for f in INTEGRATION.fields:
            if answers.get(f.name):
                again[f.name] = f.validate(answers[f.name], again)
        again["authorization"] = TOKEN
        assert v2.plan_install(bp, again).action == "unchanged"
        gone = v2.plan_uninstall(bp, values)
        assert gone.action == "delete"
        assert gone.calls[0].path == "/resources/v2.1/integrations/webhook_v2.tix"
        assert v2.apply(bp, gone) is None
        assert bp.list_integrations() == []
        assert v2.plan_uninstall(bp, values).action == "absent"
    finally:
        bp.close()


def test_an_unknown_variable_is_refused_before_any_api_call(emu: EmulatorServer) -> None:
    # A hand-edited settings file (install's field check refuses it already).
    values = {**settings(base_url=emu.base_url + "/webhook/demo"), "path": "/t/{{incident.idd}}"}
    bp = _client(emu)
    try:
        before = len(emu.state.records())
        with pytest.raises(UsageError, match=r"incident\.idd"):
            v2.plan_install(bp, values)
        writes = [r for r in emu.state.records()[before:] if r.method != "GET"]
        assert writes == []
    finally:
        bp.close()


# --------------------------------------------------------------------------- sends
def _install(emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, *extra: str) -> Any:
    """install webhook_v2 --no-input against the emulated BigPanda (the profile's region
    and User API key): BigPanda's side is made by API."""
    assert cli("profile", "set", "--region", emu.base_url).exit_code == 0
    monkeypatch.setenv("BP_INTEGRATE_BIGPANDA_API_KEY", CFG.bigpanda_api_key)
    monkeypatch.setenv("BP_INTEGRATE_WEBHOOK_V2_AUTHORIZATION", TOKEN)
    result = cli(
        "install",
        "webhook_v2",
        "--no-input",
        "--no-verify",
        "--secret-store",
        "env",
        "--answers",
        str(EXAMPLES / "ticketing.yaml"),
        "--set",
        f"base_url={emu.base_url}/webhook/demo",
        *extra,
    )
    assert result.exit_code == 0, result.stderr
    return result


def held(emu: EmulatorServer) -> list[dict[str, Any]]:
    bp = _client(emu)
    try:
        return bp.list_integrations()
    finally:
        bp.close()


def test_install_through_the_cli_creates_updates_and_uninstall_deletes(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    first = _install(emu, monkeypatch)
    assert "Created webhook_v2.ticketing" in first.stderr
    assert "POST " + emu.base_url + "/resources/v2.1/integrations" in first.stderr
    assert "demo-webhook-token" not in first.stderr + first.stdout  # shown masked
    [made] = held(emu)
    assert made["name"] == "ticketing"
    # The same again: found, nothing to do (no second integration).
    again = _install(emu, monkeypatch)
    assert "already as configured" in again.stderr
    assert len(held(emu)) == 1
    # A change: the difference is shown, then a PATCH (still one integration).
    changed = _install(emu, monkeypatch, "--set", "method=PUT")
    assert "PATCH " in changed.stderr and '+ default.method: "PUT"' in changed.stderr
    assert "Updated webhook_v2.ticketing" in changed.stderr
    [updated] = held(emu)
    default = next(e for e in updated["workflow_config"]["events"] if e.get("event") == "default")
    assert default["method"] == "PUT"
    # Dry run: the call is shown, nothing changes.
    dry = _install(emu, monkeypatch, "--set", "method=PATCH", "--dry-run")
    assert "would update" in dry.stderr
    assert held(emu) == [updated]
    # Uninstall deletes it in BigPanda, then the local settings.
    gone = cli("uninstall", "webhook_v2", "--yes", "--no-input")
    assert gone.exit_code == 0, gone.stdout + gone.stderr
    assert held(emu) == []
    assert "DELETE /resources/v2.1/integrations/webhook_v2.ticketing" in gone.stderr


def test_install_refuses_an_unknown_variable_before_any_api_call(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    assert cli("profile", "set", "--region", emu.base_url).exit_code == 0
    monkeypatch.setenv("BP_INTEGRATE_BIGPANDA_API_KEY", CFG.bigpanda_api_key)
    before = len(emu.state.records())
    result = cli(
        "install",
        "webhook_v2",
        "--no-input",
        "--secret-store",
        "env",
        "--set",
        "name=tix",
        "--set",
        f"base_url={emu.base_url}/webhook/demo",
        "--set",
        "path=/t/{{incident.idd}}",
    )
    assert result.exit_code == 2, result.stdout + result.stderr
    assert "incident.id" in result.stderr  # the nearest valid name
    assert emu.state.records()[before:] == ()  # no call reached BigPanda


def test_install_without_the_profiles_key_names_it(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    assert cli("profile", "set", "--region", emu.base_url).exit_code == 0
    result = cli(
        "install",
        "webhook_v2",
        "--no-input",
        "--secret-store",
        "env",
        "--answers",
        str(EXAMPLES / "ticketing.yaml"),
    )
    assert result.exit_code == 2
    assert "BigPanda User API key" in result.stderr
    assert held(emu) == []


def test_send_test_sends_the_rendered_closed_trigger_and_dry_run_shows_it(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    _install(emu, monkeypatch)
    shown = cli("send-test", "incident#closed", "--to", "webhook_v2", "--dry-run", "--json")
    assert shown.exit_code == 0, shown.stderr
    assert "PATCH" in shown.stdout and "/webhook/demo/tickets/" in shown.stdout
    assert "demo-webhook-token" not in shown.stdout
    result = cli("send-test", "incident#closed", "--to", "webhook_v2")
    assert result.exit_code == 0, result.stdout + result.stderr
    [record] = [r for r in emu.state.records() if r.path.startswith("/webhook/")]
    assert record.method == "PATCH"
    assert record.path.startswith("/webhook/demo/tickets/")
    [got] = emu.state.target(WebhookState).webhook_bodies("demo")
    assert got["state"] == "resolved"
    assert isinstance(got["resolved_at"], int)
    assert record.path.endswith("/" + str(got["note"]).rsplit("/", 1)[-1])


def test_verify_passes_end_to_end_through_a_webhook_v2_integration_bigpanda_holds(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    _install(emu, monkeypatch)  # BigPanda now holds webhook_v2.ticketing
    monkeypatch.setenv("BP_INTEGRATE_BIGPANDA_ORG_TOKEN", CFG.bigpanda_org_token)
    rule = {
        "environment_id": ENV,
        "integration": "webhook_v2",
        "values": {},
        "bigpanda_name": "ticketing",
        "tag": "bp_integrate_canary",
    }
    assert httpx.post(emu.base_url + "/_bigpanda/autoshare", json=rule).status_code == 201
    result = cli(
        "verify",
        "--app-key",
        CFG.bigpanda_app_key,
        "--environment",
        ENV,
        "--json",
        "--timeout",
        "3",
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    assert ("shared", "webhook_v2", "passed") in [
        (h["hop"], h["integration"], h["status"]) for h in doc["hops"]
    ]
    shares = emu.state.snapshot()["bigpanda"]["shares"]
    assert {s["share_target"] for s in shares} == {"webhook_v2.ticketing"}
    assert all(s["responses"] == [202] for s in shares)
    bodies: list[Any] = emu.state.target(WebhookState).webhook_bodies("demo")
    assert bodies and bodies[0]["external_id"] == doc["incident_id"]


def test_the_dynamic_variables_of_the_demo_organisation(emu: EmulatorServer) -> None:
    bp = _client(emu)
    try:
        known = v2.known_variables(bp)
    finally:
        bp.close()
    assert set(templates.STANDARD_VARIABLES) <= known.names
    assert "primaryAlert.tags.host" in known.names
    assert yaml.safe_dump(sorted(known.names))


def test_show_remote_prints_what_bigpanda_holds_and_export_then_install_is_a_no_op(
    emu: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    memory_keyring: MemoryKeyring,
    tmp_path: Path,
) -> None:
    _install(emu, monkeypatch, "--set", "method=PUT")
    shown = cli("show", "webhook_v2", "--remote", "--json")
    assert shown.exit_code == 0, shown.stderr
    held_doc = json.loads(shown.stdout)["held"]
    assert held_doc["name"] == "ticketing"
    assert "demo-webhook-token" not in shown.stdout  # BigPanda answers it masked
    exported = tmp_path / "ticketing.yaml"
    result = cli("show", "webhook_v2", "--export", str(exported))
    assert result.exit_code == 0, result.stderr
    text = exported.read_text("utf-8")
    assert "demo-webhook-token" not in text
    # Config as code: install from the exported file changes nothing in BigPanda.
    before = held(emu)
    again = cli(
        "install",
        "webhook_v2",
        "--no-input",
        "--secret-store",
        "env",
        "--answers",
        str(exported),
    )
    assert again.exit_code == 0, again.stderr
    assert "already as configured" in again.stderr
    assert held(emu) == before


def test_interactive_install_creates_it_in_bigpanda_through_a_real_terminal(
    emu: EmulatorServer, tmp_path: Path
) -> None:
    """A person at a terminal: every value typed, the Authorization hidden, the request
    shown before it is made, then created in (the emulated) BigPanda."""
    import os

    pytest.importorskip("pexpect")
    from test_wizard_pty import answer, finish, spawn, transcript

    extra = {
        "BP_INTEGRATE_BIGPANDA_API_KEY": CFG.bigpanda_api_key,
        "PYTHON_KEYRING_BACKEND": "file_keyring.FileKeyring",
        "BP_TEST_KEYRING_FILE": str(tmp_path / "keyring.json"),
        "PYTHONPATH": str(Path(__file__).parent) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    child = spawn(tmp_path, "profile", "set", "--region", emu.base_url, extra_env=extra)
    assert finish(child)[0] == 0
    child = spawn(tmp_path, "install", "webhook_v2", columns=120, extra_env=extra)
    answer(child, "Name of the integration in BigPanda [bp_integrate]:", "tix")
    answer(
        child,
        "Base URL of the receiver (hidden input: paste and press Enter):",
        emu.base_url + "/webhook/demo",
    )
    answer(child, "[hidden input; Enter to skip]:", TOKEN)
    answer(child, "Triggers that share (comma-separated) [default]:", "")
    answer(child, "Lock updates until the receiver calls back [false]:", "")
    answer(child, "Body template: a JSON or YAML file (optional):", "")
    answer(child, "Sub-path appended to the base URL (optional):", "/t/{{incident.id}}")
    answer(child, "Headers (optional: NAME=VALUE,NAME=VALUE):", "")
    answer(child, "HTTP method [POST]:", "")
    answer(child, "Per-trigger settings: a JSON or YAML file (optional):", "")
    answer(child, "Done with 'Write the templates'? [Y/n/back]", "y")
    answer(child, "[hidden input; Enter to skip]:", "")  # no App Key
    child.expect_exact("POST " + emu.base_url + "/resources/v2.1/integrations")
    answer(child, "Make these calls? [Y/n]", "y")
    child.expect_exact("BigPanda: Created webhook_v2.tix.")
    answer(child, "now? [y/N]", "y")  # the offered test send
    code, _rest = finish(child)
    shown = transcript(child)
    assert code == 0, shown
    assert "demo-webhook-token" not in shown  # hidden as typed, masked when shown
    [made] = held(emu)
    assert made["name"] == "tix"
    [event] = made["workflow_config"]["events"]
    assert event["path"] == "/t/{{incident.id}}"
    [record] = [r for r in emu.state.records() if r.path.startswith("/webhook/demo/t/")]
    assert record.status == 202


# --------------------------------------------------------------------------- re-install
def test_a_reinstall_from_another_answers_file_takes_its_defaults_not_the_old_settings(
    emu: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    memory_keyring: MemoryKeyring,
    tmp_path: Path,
) -> None:
    """An answers file states the whole install: what it leaves out (the ticketing
    example's path, X-Source header and per-trigger templates) goes back to its default,
    in the settings and in BigPanda; only a secret (the Authorization) is kept."""
    _install(emu, monkeypatch)
    plain = tmp_path / "plain.yaml"
    plain.write_text(
        'webhook_v2:\n  name: ticketing\n  triggers: [default]\n  body: {id: "{{incident.id}}"}\n',
        "utf-8",
    )
    result = cli(
        "install", "webhook_v2", "--no-input", "--secret-store", "env",
        "--answers", str(plain), "--set", f"base_url={emu.base_url}/webhook/demo",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert '- default.path: "/tickets"' in result.stderr
    assert "- incident#closed (enabled)" in result.stderr
    settings_now = json.loads(cli("show", "webhook_v2", "--json").stdout)["settings"]
    assert (settings_now["path"], settings_now["headers"]) == ("", "")
    assert "templates" not in settings_now or not settings_now["templates"]
    [made] = held(emu)
    assert [(e["event"], e["path"], e["headers"]) for e in made["workflow_config"]["events"]] == [
        ("default", "", "")
    ]
    shown = cli("send-test", "incident#closed", "--to", "webhook_v2", "--dry-run")
    assert shown.exit_code == 0, shown.stderr
    assert f"POST {emu.base_url}/webhook/demo\n" in shown.stdout  # no /tickets, no PATCH
    assert "X-Source" not in shown.stdout
    assert "Authorization: Bearer ****" in shown.stdout  # the secret: kept


def test_a_reinstall_that_renames_it_is_refused_and_leaves_nothing_behind(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    """A new name is a new integration in BigPanda (its id is webhook_v2.<name>): the
    re-install refuses (the dry run too) and names the one it would leave behind, instead
    of making a second one and orphaning the first; uninstall, then install, replaces it."""
    _install(emu, monkeypatch)
    monkeypatch.setenv("BP_INTEGRATE_WEBHOOK_V2_BASE_URL", emu.base_url + "/webhook/slack")
    slack = ("install", "webhook_v2", "--no-input", "--secret-store", "env",
             "--answers", str(EXAMPLES / "slack.yaml"))  # fmt: skip
    before = len(emu.state.records())
    for extra in (("--dry-run",), ()):
        result = cli(*slack, *extra)
        assert result.exit_code == 2, result.stdout + result.stderr
        assert "This profile's Notifications Webhook v2 is webhook_v2.ticketing in BigPanda" in (
            result.stderr
        )
        assert "would create webhook_v2.slack_ops beside it" in result.stderr
        assert "bp-integrate uninstall webhook_v2 (it deletes webhook_v2.ticketing)" in (
            result.stderr
        )
    assert [r for r in emu.state.records()[before:] if r.method != "GET"] == []
    assert [i["name"] for i in held(emu)] == ["ticketing"]
    assert json.loads(cli("show", "webhook_v2", "--json").stdout)["settings"]["name"] == (
        "ticketing"
    )
    # `set` would do the same in the settings alone: refused as well.
    renamed = CliRunner().invoke(
        app, ["set", "webhook_v2", "name", "--stdin", "--dry-run"], input="slack_ops\n"
    )
    assert renamed.exit_code == 2 and "webhook_v2.ticketing" in renamed.stderr
    # To replace it: uninstall (it deletes webhook_v2.ticketing), then install.
    assert cli("uninstall", "webhook_v2", "--yes", "--no-input").exit_code == 0
    assert held(emu) == []
    result = cli(*slack)
    assert result.exit_code == 0, result.stderr
    assert [i["name"] for i in held(emu)] == ["slack_ops"]
    assert cli("uninstall", "webhook_v2", "--yes", "--no-input").exit_code == 0
    assert held(emu) == []


def test_at_a_terminal_a_new_name_is_refused_and_asked_again(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    _install(emu, monkeypatch)
    result = CliRunner().invoke(
        app,
        ["install", "webhook_v2", "--secret-store", "env"],
        input="slack_ops\n",  # then the input ends: Ctrl-C, nothing saved
        env={"BP_INTEGRATE_ASSUME_TTY": "1"},
    )
    assert result.exit_code == 130
    asked = "Name of the integration in BigPanda [ticketing]:"
    assert result.stderr.count(asked) == 2  # the stored name offered, then asked again
    assert "name 'slack_ops' would create webhook_v2.slack_ops beside it" in result.stderr
    assert [i["name"] for i in held(emu)] == ["ticketing"]


# --------------------------------------------------------------------------- a secret URL
def test_a_slack_webhook_url_is_a_secret_kept_apart_and_masked_everywhere(
    emu: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    memory_keyring: MemoryKeyring,
    isolated: Path,
    tmp_path: Path,
) -> None:
    """Slack: "Your webhook URL contains a secret." Refused in an answers file and on the
    command line (as a `?token=` URL is); from its variable, all after /services/ goes to
    the keyring, the settings file and every output show `****`, and BigPanda gets the
    real URL."""
    assert cli("profile", "set", "--region", emu.base_url).exit_code == 0
    monkeypatch.setenv("BP_INTEGRATE_BIGPANDA_API_KEY", CFG.bigpanda_api_key)
    in_file = tmp_path / "slack.yaml"
    in_file.write_text(
        (EXAMPLES / "slack.yaml")
        .read_text("utf-8")
        .replace("  name: slack_ops\n", f"  name: slack_ops\n  base_url: {SLACK}\n"),
        "utf-8",
    )
    printed: list[str] = []
    for given in (("--answers", str(in_file)), ("--set", f"base_url={SLACK}")):
        result = cli("install", "webhook_v2", "--no-input", "--set", "name=slack_ops", *given)
        assert result.exit_code == 2, result.stdout + result.stderr
        assert "holds a URL with its secret in its path" in result.stderr
        assert "Give the whole URL in BP_INTEGRATE_WEBHOOK_V2_BASE_URL" in result.stderr
        assert "https://hooks.slack.com/services/****" in result.stderr
        printed.append(result.stdout + result.stderr)
    assert held(emu) == []
    # From its variable: installed, the secret part in the keyring.
    monkeypatch.setenv("BP_INTEGRATE_WEBHOOK_V2_BASE_URL", SLACK)
    answers = ("--answers", str(EXAMPLES / "slack.yaml"))
    result = cli("install", "webhook_v2", "--no-input", *answers)
    assert result.exit_code == 0, result.stderr
    monkeypatch.delenv("BP_INTEGRATE_WEBHOOK_V2_BASE_URL")
    printed.append(result.stdout + result.stderr)
    config_file = (isolated / "config.yaml").read_text("utf-8")
    assert "base_url: https://hooks.slack.com/services/****" in config_file
    assert "base_url.path" in config_file
    assert memory_keyring.entries == {
        ("bp-integrate", "default/webhook_v2/base_url.path"): SLACK_SECRET
    }
    [made] = held(emu)
    assert made["workflow_config"]["config"]["base_url"] == SLACK  # where BigPanda sends
    exported = tmp_path / "exported.yaml"
    for command in (
        ("show", "webhook_v2"),
        ("show", "webhook_v2", "--json"),
        ("show", "webhook_v2", "--remote"),
        ("show", "webhook_v2", "--remote", "--json"),
        ("show", "webhook_v2", "--export", str(exported)),
        ("send-test", "incident#new", "--to", "webhook_v2", "--dry-run"),
        ("send-test", "incident#new", "--to", "webhook_v2", "--dry-run", "--json"),
        ("send-test", "incident#new", "--to", "webhook_v2", "--dry-run", "--as-curl"),
        ("status",),
        ("doctor", "--no-network"),
    ):
        result = cli(*command)
        assert result.exit_code in (0, 3), (command, result.stdout + result.stderr)
        printed.append(result.stdout + result.stderr)
    shown = json.loads(cli("show", "webhook_v2", "--json").stdout)
    assert shown["settings"]["base_url"] == "https://hooks.slack.com/services/****"
    assert next(i for i in shown["paste"] if i["key"] == "url")["secret"] is True
    assert cli("show", "webhook_v2", "--field", "url", "--show-secrets").stdout.strip() == SLACK
    text = exported.read_text("utf-8")
    assert "base_url: https://hooks.slack.com/services/****" in text
    assert "BP_INTEGRATE_WEBHOOK_V2_BASE_URL_PATH" in text
    everything = "\n".join(printed) + config_file + text + history_text(state_dir())
    assert "SlackCanarySecret0001" not in everything
    # The exported file installs back as it is: the stored secret fills its ****.
    again = cli("install", "webhook_v2", "--no-input", "--answers", str(exported))
    assert again.exit_code == 0, again.stderr
    assert "already as configured" in again.stderr
    assert held(emu) == [made]
