"""send-test end to end: the CLI against the embedded emulator over real loopback HTTP."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import (
    CFG,
    PD_KEY,
    SECRETS,
    XM_PATH,
    cli,
    closed_port,
    history_text,
    install,
    sends,
    state_dir,
)

from bp_integrate.emulator import EmulatorServer

# ----------------------------------------------------------------------------- dry run


def test_dry_run_json_exact_url_headers_and_basic_token(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(emu, "xmatters", monkeypatch, auth="basic")
    result = cli("send-test", "new", "--dry-run", "--json", "--show-secrets")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["skipped"] == []
    [request] = doc["requests"]
    assert set(request) >= {"integration", "method", "url", "headers", "body"}
    assert request["integration"] == "xmatters"
    assert request["method"] == "POST"
    assert request["url"] == emu.urls["xmatters_trigger"] + "?recipients=Cloud%20Devops,alice"
    token = base64.b64encode(b"bp-integration:demo-xm-password").decode()
    assert request["headers"] == {
        "Content-Type": "application/json",
        "Authorization": f"Basic {token}",
    }
    body = request["body"]
    # The share's shape: incident at the top, the event and environment in metadata.
    assert "event_type" not in body
    assert body["metadata"]["event"] == "incident#new"
    assert body["metadata"]["environment_id"]
    assert body["incident"]["resolved"] is False
    assert body["incident"]["id"] == doc["incident_id"]
    assert body["incident"]["alerts"][0]["description"].startswith("[TEST] ")
    assert sends(emu) == []  # a dry run sends nothing

    masked = json.loads(cli("send-test", "new", "--dry-run", "--json").stdout)
    assert masked["requests"][0]["headers"]["Authorization"] == "Basic ****"
    assert token not in json.dumps(masked)


def test_dry_run_masks_url_api_key_and_routing_key(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(emu, "xmatters", monkeypatch)
    install(emu, "pagerduty", monkeypatch)
    install(emu, "incidentio", monkeypatch)
    doc = json.loads(cli("send-test", "incident#new", "--dry-run", "--json").stdout)
    by_name = {r["integration"]: r for r in doc["requests"]}
    assert by_name["xmatters"]["url"] == (
        emu.urls["xmatters_trigger"] + "?apiKey=****&recipients=Cloud%20Devops,alice"
    )
    assert by_name["pagerduty"]["body"]["routing_key"] == "****"
    assert by_name["incidentio"]["headers"]["Authorization"] == "Bearer ****"
    shown = json.loads(cli("send-test", "new", "--dry-run", "--json", "--show-secrets").stdout)
    by_name = {r["integration"]: r for r in shown["requests"]}
    assert f"apiKey={CFG.xmatters_api_key}&" in by_name["xmatters"]["url"]
    assert by_name["pagerduty"]["body"]["routing_key"] == PD_KEY
    assert by_name["incidentio"]["headers"]["Authorization"] == f"Bearer {CFG.incidentio_secret}"


def test_as_curl_masks_unless_show_secrets(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(emu, "incidentio", monkeypatch)
    masked = cli("send-test", "new", "--as-curl")
    assert masked.stdout.startswith("curl -sS -X POST ")
    # Secrets are referenced by their environment variable (issue 9 point 7).
    assert "'Authorization: Bearer '\"${BP_INTEGRATE_INCIDENTIO_SECRET}\"" in masked.stdout
    assert CFG.incidentio_secret not in masked.stdout + masked.stderr
    shown = cli("send-test", "new", "--as-curl", "--show-secrets")
    assert f"'Authorization: Bearer {CFG.incidentio_secret}'" in shown.stdout
    assert sends(emu) == []


def install_in_ops(emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, api_key: str) -> None:
    """xMatters in profile `ops`, its apiKey from the profile's own variable."""
    monkeypatch.setenv("BP_INTEGRATE_OPS_XMATTERS_TRIGGER_URL_APIKEY", api_key)
    url = emu.urls["xmatters_trigger"] + "?apiKey=****"
    installed = cli(
        "-p", "ops", "install", "xmatters", "--no-input", "--secret-store", "env",
        "--set", f"trigger_url={url}", "--set", "auth=url", "--set", "recipients=alice",
    )  # fmt: skip
    assert installed.exit_code == 0, installed.stderr


def test_as_curl_names_the_profile_s_own_variables(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a profile other than the default, a secret's variable is the profile's own: the
    default's would send another profile's secret (secrets.env_var)."""
    install_in_ops(emu, monkeypatch, CFG.xmatters_api_key)
    for command in (("send-test", "new"), ("replay", "lifecycle", "--dry-run")):
        out = cli("-p", "ops", *command, "--as-curl").stdout
        assert "apiKey='\"${BP_INTEGRATE_OPS_XMATTERS_TRIGGER_URL_APIKEY}\"'" in out, out
        assert "${BP_INTEGRATE_XMATTERS_TRIGGER_URL_APIKEY}" not in out
        assert CFG.xmatters_api_key not in out
    assert sends(emu) == []


def test_refused_credentials_name_set_in_the_profile(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 401 in a named profile: the hint is that profile's `set` of the credential
    fields (quicker than a new walkthrough), in send-test's closing line and replay's steps."""
    install_in_ops(emu, monkeypatch, "a-wrong-api-key")
    fix = "bp-integrate --profile ops set xmatters password (or username, trigger_url"
    sent = cli("-p", "ops", "send-test", "new", "--retries", "0")
    assert sent.exit_code == 6
    assert "xmatters refused the credentials (HTTP 401): set the right one: " + fix in " ".join(
        sent.stderr.split()
    )
    replayed = cli("-p", "ops", "replay", "comment", "--retries", "0", "--json")
    steps = [json.loads(line) for line in replayed.stdout.splitlines() if '"step"' in line]
    assert all(fix in s["problems"][0] for s in steps if s.get("type") == "step"), steps


def test_set_tag_envelope_and_test_marker(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(emu, "incidentio", monkeypatch)
    doc = json.loads(
        cli(
            "send-test",
            "updated",
            "--dry-run",
            "--json",
            "--incident-id",
            "abc123",
            "--set",
            "status=warning",
            "--tag",
            "service=checkout",
            "--envelope",
            "bare",
            "--no-test-marker",
        ).stdout
    )
    body = doc["requests"][0]["body"]
    assert "event_type" not in body and body["id"] == "abc123"
    assert body["status"] == "warning"
    tags = {t["name"]: t["value"] for t in body["alerts"][0]["tags"]}
    assert tags["service"] == "checkout" and "bp_integrate_test" not in tags
    assert not body["alerts"][0]["description"].startswith("[TEST]")


def test_payload_file_is_sent_as_given(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    install(emu, "incidentio", monkeypatch)
    own = {"incident": {"id": "mine-1", "status": "critical", "alerts": []}}
    (tmp_path / "p.json").write_text(json.dumps(own))
    result = cli("send-test", "new", "--payload", str(tmp_path / "p.json"), "--json")
    assert result.exit_code == 0, result.stderr
    [record] = sends(emu, "/v2/alert_events/")
    assert json.loads(record.body_preview) == own
    assert json.loads(result.stdout)["results"][0]["response_id"] == "mine-1"


def bp_integrate(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """bp-integrate as a real process, in this test's folders and environment."""
    return subprocess.run(
        [sys.executable, "-m", "bp_integrate", *args],
        capture_output=True,
        text=True,
        timeout=60,
        **kwargs,
    )


def test_payload_piped_to_standard_input_is_sent_as_given_without_input(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--payload -` is input, not a prompt: it works in a script that forbids prompts."""
    install(emu, "incidentio", monkeypatch)
    own = {"incident": {"id": "piped-1", "status": "critical", "alerts": []}}
    done = bp_integrate(
        "send-test", "new", "--payload", "-", "--json",
        input=json.dumps(own),
        env={**os.environ, "BP_INTEGRATE_NO_INPUT": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    [record] = sends(emu, "/v2/alert_events/")
    assert json.loads(record.body_preview) == own
    assert json.loads(done.stdout)["results"][0]["response_id"] == "piped-1"


def test_payload_dash_with_nothing_piped_in_is_a_usage_error(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(emu, "incidentio", monkeypatch)
    done = bp_integrate("send-test", "new", "--payload", "-", stdin=subprocess.DEVNULL)
    assert done.returncode == 2, done.stderr
    assert "Error: --payload -: standard input is empty: nothing was piped in." in done.stderr
    assert "bp-integrate send-test new --payload - < body.json" in done.stderr
    assert sends(emu, "/v2/alert_events/") == []


def test_payload_dash_on_a_terminal_says_to_pipe_it_and_waits_for_nothing(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """At a terminal nothing is piped: an error naming the fix at once, not a wait for the
    user to type a body."""
    from test_wizard_pty import finish, spawn, transcript

    install(emu, "incidentio", monkeypatch)
    child = spawn(
        tmp_path,
        "send-test", "new", "--payload", "-",
        extra_env={"BP_INTEGRATE_INCIDENTIO_SECRET": os.environ["BP_INTEGRATE_INCIDENTIO_SECRET"]},
    )  # fmt: skip
    child.timeout = 10  # it must not wait for input
    status, _ = finish(child)
    shown = " ".join(transcript(child).split())
    assert status == 2, shown
    assert "--payload -: standard input is a terminal: nothing is piped in." in shown
    assert "bp-integrate send-test new --payload - < body.json" in shown
    assert sends(emu, "/v2/alert_events/") == []


def test_unknown_event_suggests_the_nearest(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(emu, "xmatters", monkeypatch)
    result = cli("send-test", "incident#nwe")
    assert result.exit_code == 2
    assert "Did you mean 'incident#new'" in result.stderr


def test_nothing_installed_names_the_fix() -> None:
    result = cli("send-test", "new")
    assert result.exit_code == 3
    assert "Install one first: bp-integrate install <integration>" in result.stderr


# ------------------------------------------------------------------------------ sending


def test_send_to_all_four_reports_status_latency_and_ids(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("xmatters", "pagerduty", "incidentio", "panopta"):
        install(emu, name, monkeypatch)
    result = cli("send-test", "new", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    by_name = {r["integration"]: r for r in doc["results"]}
    assert set(by_name) == {"xmatters", "pagerduty", "incidentio", "panopta"}
    assert all(r["status"] == 202 and r["latency_ms"] > 0 for r in by_name.values())
    assert by_name["pagerduty"]["response_id"] == doc["incident_id"]
    assert by_name["incidentio"]["response_id"] == doc["incident_id"]
    assert len(by_name["xmatters"]["response_id"]) == 36  # xMatters requestId (a UUID)
    assert "requestId" in by_name["xmatters"]["response"]
    alert = emu.state.pagerduty_alert(PD_KEY, doc["incident_id"])
    assert alert is not None and alert.status == "triggered"
    assert all(r.valid for r in sends(emu))

    human = cli("send-test", "updated", "--to", "panopta", "--to", "incidentio")
    assert human.exit_code == 0
    assert "incidentio" in human.stdout and " 202 " in human.stdout
    assert "panopta    skipped: Panopta sends only outage" in human.stdout


def test_no_secret_anywhere_without_show_secrets(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(emu, "xmatters", monkeypatch, auth="basic")
    install(emu, "pagerduty", monkeypatch)
    install(emu, "incidentio", monkeypatch)
    install(emu, "panopta", monkeypatch)
    outputs = []
    for args in (
        ("send-test", "new"),
        ("send-test", "new", "--json"),
        ("send-test", "closed", "--dry-run"),
        ("send-test", "closed", "--dry-run", "--json"),
        ("send-test", "new", "--as-curl"),
        ("replay", "lifecycle"),
        ("replay", "lifecycle", "--json"),
        ("history", "--json"),
    ):
        result = cli(*args)
        assert result.exit_code == 0, (args, result.stderr)
        outputs.append(result.stdout + result.stderr)
    recorded = history_text(state_dir())
    assert recorded.count('"type":"send"') >= 2
    everything = "\n".join(outputs) + recorded
    for secret in SECRETS:
        assert secret not in everything, secret
    assert "apiKey=****" in everything
    shown = cli("send-test", "new", "--dry-run", "--show-secrets")
    for secret in (CFG.xmatters_api_key, CFG.incidentio_secret, PD_KEY, SECRETS[-1]):
        assert secret in shown.stdout


# ------------------------------------------------------------------------------- faults


def test_connection_refused_is_a_network_error(monkeypatch: pytest.MonkeyPatch) -> None:
    port = closed_port()
    monkeypatch.setenv("BP_INTEGRATE_INCIDENTIO_SECRET", CFG.incidentio_secret)
    url = f"http://127.0.0.1:{port}/v2/alert_events/bigpanda/x"
    assert (
        cli(
            "install",
            "incidentio",
            "--no-input",
            "--no-verify",
            "--secret-store",
            "env",
            "--set",
            f"callback_url={url}",
        ).exit_code
        == 0
    )
    result = cli("send-test", "new", "--json", "--retries", "1")
    assert result.exit_code == 5
    [res] = json.loads(result.stdout)["results"]
    assert res["outcome"] == "network" and res["attempts"] == 2
    assert "refused" in res["error"]
    human = cli("send-test", "new", "--retries", "0")
    assert human.exit_code == 5
    assert "refused" in human.stdout and "bp-integrate show incidentio" in human.stderr


def test_timeout_is_a_network_error(emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    install(emu, "incidentio", monkeypatch)
    emu.state.add_fault("/v2/alert_events/", status=None, delay=2.0)
    started = time.monotonic()
    result = cli("send-test", "new", "--json", "--timeout", "0.3", "--retries", "0")
    assert time.monotonic() - started < 1.8
    assert result.exit_code == 5
    [res] = json.loads(result.stdout)["results"]
    assert res["outcome"] == "network" and "time limit" in res["error"]


def test_500_then_202_sends_exactly_twice(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(emu, "pagerduty", monkeypatch)
    emu.state.add_fault("/v2/enqueue", status=500, times=1)
    result = cli("send-test", "new", "--json")
    assert result.exit_code == 0, result.stdout
    [res] = json.loads(result.stdout)["results"]
    assert res["status"] == 202 and res["attempts"] == 2
    assert [r.status for r in sends(emu, "/v2/enqueue")] == [500, 202]


def test_429_retry_after_is_honoured(emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    install(emu, "incidentio", monkeypatch)
    emu.state.add_fault("/v2/alert_events/", status=429, headers={"Retry-After": "1"})
    started = time.monotonic()
    result = cli("send-test", "new", "--json")
    waited = time.monotonic() - started
    assert result.exit_code == 0
    got = sends(emu, "/v2/alert_events/")
    assert [r.status for r in got] == [429, 202]
    assert got[1].time - got[0].time >= 0.95
    assert waited >= 0.95
    assert "retrying in 1.00 s" in json.loads(result.stdout)["results"][0]["notes"][0]


def test_400_is_not_retried(emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    install(emu, "pagerduty", monkeypatch)
    emu.state.add_fault("/v2/enqueue", status=400, times=5)
    result = cli("send-test", "new", "--json", "--retries", "5")
    assert result.exit_code == 6
    assert len(sends(emu, "/v2/enqueue")) == 1
    assert json.loads(result.stdout)["results"][0]["attempts"] == 1


def test_never_a_second_send_after_success(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(emu, "xmatters", monkeypatch)
    result = cli("send-test", "new", "--retries", "5")
    assert result.exit_code == 0
    assert len(sends(emu, XM_PATH)) == 1


def test_partial_when_one_target_fails(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(emu, "xmatters", monkeypatch)
    install(emu, "incidentio", monkeypatch)
    emu.state.add_fault("/v2/alert_events/", status=403)
    result = cli("send-test", "new")
    assert result.exit_code == 7
    assert "HTTP 403" in result.stderr or " 403 " in result.stdout


# --------------------------------------------------------------------------------- units


def test_retry_after_parsing_and_backoff() -> None:
    from email.utils import formatdate

    from bp_integrate.http import RetryPolicy, retry_after_seconds

    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    now = 1_700_000_000.0
    assert retry_after_seconds(formatdate(now + 5, usegmt=True), now=now) == pytest.approx(5.0)
    assert retry_after_seconds(formatdate(now - 5, usegmt=True), now=now) == 0.0
    policy = RetryPolicy(base_delay=0.5, max_delay=2.0)
    assert 0.25 <= policy.backoff(1) <= 0.5
    assert 1.0 <= policy.backoff(3) <= 2.0
    assert 1.0 <= policy.backoff(10) <= 2.0


def test_retry_after_is_capped() -> None:
    import asyncio

    from bp_integrate.http import Response, RetryPolicy, send_with_retries

    class Always429:
        kind = "httpx"

        def __init__(self) -> None:
            self.calls = 0

        async def request(self, *args: Any) -> Response:
            self.calls += 1
            return Response(429, {"retry-after": "3600"}, b"")

        async def aclose(self) -> None:
            return None

    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)

    sender = Always429()
    done = asyncio.run(
        send_with_retries(sender, "POST", "http://x", {}, b"", RetryPolicy(retries=2), fake_sleep)  # type: ignore[arg-type]
    )
    assert sender.calls == 3 and done.attempts == 3
    assert waits == [30.0, 30.0]


def test_redactor_masks_encoded_forms() -> None:
    from bp_integrate.redact import Redactor

    red = Redactor(["p@ss w/rd"])
    red.add_basic("u", "p@ss w/rd")
    assert red.text("x p@ss w/rd y") == "x **** y"
    assert red.text("k=p%40ss%20w%2Frd") == "k=****"
    assert red.url("http://h/p?apiKey=abc&x=1") == "http://h/p?apiKey=****&x=1"
    assert red.headers({"Authorization": "Basic dTpwQHNzIHcvcmQ="}) == {
        "Authorization": "Basic ****"
    }
    assert Redactor(["secret"], enabled=False).text("secret") == "secret"


def test_help_imports_no_httpx_keyring_or_yaml() -> None:
    code = (
        "import sys\n"
        "from bp_integrate.cli import app\n"
        "from typer.testing import CliRunner\n"
        "r = CliRunner().invoke(app, ['--help'])\n"
        "assert r.exit_code == 0\n"
        "print(sorted(m for m in ('httpx', 'keyring', 'yaml', 'aiohttp') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------------------ proxies


PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


def set_proxy_env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def test_loopback_sends_ignore_http_proxy(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(emu, "xmatters", monkeypatch)
    install(emu, "incidentio", monkeypatch)
    dead = f"http://127.0.0.1:{closed_port()}"
    set_proxy_env(monkeypatch, HTTP_PROXY=dead, HTTPS_PROXY=dead, ALL_PROXY=dead)
    result = cli("send-test", "new", "--json", "--retries", "0")
    assert result.exit_code == 0, result.stdout
    assert [r["status"] for r in json.loads(result.stdout)["results"]] == [202, 202]
    assert cli("replay", "comment", "--retries", "0").exit_code == 0
    from bp_integrate.bigpanda.api import check_key

    assert check_key(emu.base_url, CFG.bigpanda_api_key) == 2  # the sync client too


def test_proxy_for_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from bp_integrate.http import proxy_for

    set_proxy_env(monkeypatch, HTTPS_PROXY="http://proxy.corp:3128", NO_PROXY="internal.corp,.lan")
    assert proxy_for("https://acme.xmatters.com/api/x?apiKey=k") == "http://proxy.corp:3128"
    assert proxy_for("https://events.pagerduty.com/v2/enqueue") == "http://proxy.corp:3128"
    assert proxy_for("http://acme.example/x") is None  # no HTTP_PROXY
    assert proxy_for("https://internal.corp/hook") is None  # NO_PROXY
    assert proxy_for("https://recv.lan:8443/hook") is None
    assert proxy_for("http://127.0.0.1:8765/v2/enqueue") is None  # loopback: never
    assert proxy_for("http://localhost:8765/v2/enqueue") is None
    assert proxy_for("http://[::1]:8765/v2/enqueue") is None
    set_proxy_env(monkeypatch, ALL_PROXY="proxy.corp:8080")
    assert proxy_for("https://acme.xmatters.com/x") == "http://proxy.corp:8080"
    assert proxy_for("http://127.0.0.5/x") is None


def test_non_loopback_sends_go_through_the_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """A real (tiny) forward proxy on loopback: the request for a remote host reaches it."""
    import asyncio

    from aiohttp import web

    from bp_integrate.http import async_sender

    seen: list[tuple[str, str, str | None]] = []

    async def forward(request: web.Request) -> web.Response:
        seen.append(
            (str(request.url), request.headers["Host"], request.headers.get("Proxy-Authorization"))
        )
        return web.json_response({"via": "proxy"}, status=202)

    async def scenario() -> tuple[int, bytes]:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", forward)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        set_proxy_env(monkeypatch, HTTP_PROXY=f"http://user:p%40ss@127.0.0.1:{port}")
        sender = async_sender()
        try:
            answer = await sender.request(
                "POST", "http://bp-target.invalid/hook", {}, b"{}", timeout=5
            )
        finally:
            await sender.aclose()
            await runner.cleanup()
        return answer.status, answer.body

    status, body = asyncio.run(scenario())
    assert status == 202 and json.loads(body) == {"via": "proxy"}
    token = base64.b64encode(b"user:p@ss").decode()
    assert seen == [("http://bp-target.invalid/hook", "bp-target.invalid", f"Basic {token}")]


def test_404_hint_names_the_url_check(emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    install(emu, "incidentio", monkeypatch)
    emu.state.add_fault("/v2/alert_events/", status=404)
    result = cli("send-test", "new")
    assert result.exit_code == 6
    assert "incidentio answered HTTP 404: check the URL: bp-integrate show incidentio." in (
        result.stderr
    )


# ------------------------------------------------------------------ numbers, proxies, marker


def install_remote_incidentio(monkeypatch: pytest.MonkeyPatch) -> None:
    """incident.io at a host that is not loopback (so proxies apply); nothing listens."""
    monkeypatch.setenv("BP_INTEGRATE_INCIDENTIO_SECRET", CFG.incidentio_secret)
    url = "https://bp-target.invalid/v2/alert_events/bigpanda/x"
    result = cli(
        "install",
        "incidentio",
        "--no-input",
        "--no-verify",
        "--secret-store",
        "env",
        "--set",
        f"callback_url={url}",
    )
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize(
    ("value", "shown"),
    [("inf", "inf"), ("1e400", "inf"), ("nan", "nan"), ("0", "0.0"), ("601", "601.0")],
)
def test_timeout_out_of_bounds_is_refused_before_sending(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, value: str, shown: str
) -> None:
    install(emu, "xmatters", monkeypatch)
    for command in (("send-test", "new"), ("replay", "comment")):
        result = cli(*command, "--timeout", value)
        assert result.exit_code == 2, (command, value)
        assert result.stderr == (
            f"Error: --timeout must be a number of seconds above 0 and at most 600, got {shown}.\n"
            "  e.g. --timeout 10\n"
        )
    assert sends(emu) == []
    result = cli("send-test", "new", "--retries", "11")
    assert result.exit_code == 2
    assert "Error: --retries must be between 0 and 10, got 11." in result.stderr


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "http://user:pa55word@[bad",
            "Error: HTTPS_PROXY='http://****@[bad' is not a valid proxy URL (check the host "
            "and port).",
        ),
        (
            "ftp://user:pa55word@proxy.corp:21",
            "Error: HTTPS_PROXY='ftp://****@proxy.corp:21' is not an http:// proxy: "
            "bp-integrate sends through HTTP proxies only (not ftp://).",
        ),
        (
            "http://[bad",
            "Error: HTTPS_PROXY='http://[bad' is not a valid proxy URL (Invalid IPv6 URL).",
        ),
        (
            "http://us/er:pa55word@proxy.corp:3128",
            "Error: HTTPS_PROXY='http://****@proxy.corp:3128' is not a valid proxy URL (it has "
            "a path; a '/' or '@' in the password must be %-encoded).",
        ),
        (
            "http://proxy.corp:port",
            "Error: HTTPS_PROXY='http://proxy.corp:port' is not a valid proxy URL "
            "(Port could not be cast to integer value as 'port').",
        ),
    ],
)
def test_malformed_proxy_variable_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    install_remote_incidentio(monkeypatch)
    set_proxy_env(monkeypatch, HTTPS_PROXY=value)
    hint = (
        "  Set HTTPS_PROXY to http://HOST:PORT (with credentials: "
        "http://USER:PASSWORD@HOST:PORT, special characters %-encoded), or unset it; hosts "
        "listed in NO_PROXY go direct.\n"
    )
    for command in (
        ("send-test", "new"),
        ("replay", "comment"),
        ("replay", "comment", "--count", "2"),
    ):
        result = cli(*command)
        assert result.exit_code == 2, (command, result.stderr)
        assert result.stderr.endswith(message + "\n" + hint), result.stderr
        assert "pa55word" not in result.stderr and "Traceback" not in result.stderr
    assert not (state_dir() / "runs").exists()  # refused before a run started

    from bp_integrate.errors import UsageError
    from bp_integrate.http import sync_client

    with pytest.raises(UsageError, match="HTTPS_PROXY="):
        sync_client()


def test_dead_proxy_is_named_in_the_error_and_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    install_remote_incidentio(monkeypatch)
    port = closed_port()
    set_proxy_env(monkeypatch, HTTPS_PROXY=f"http://user:pa55word@127.0.0.1:{port}")
    via = f"through proxy http://****@127.0.0.1:{port} (HTTPS_PROXY)"
    result = cli("send-test", "new", "--retries", "0")
    assert result.exit_code == 5
    assert (
        f"           error: the connection was refused (nothing listens there), {via}\n"
        in result.stdout
    )
    assert (
        f"incidentio: the connection was refused (nothing listens there), {via}. Check that "
        "this proxy is running and lets this machine through (or fix HTTPS_PROXY), or add "
        "bp-target.invalid to NO_PROXY to go direct; then check the URL with `bp-integrate "
        "show incidentio`.\n"
    ) in result.stderr
    doc = json.loads(cli("send-test", "new", "--retries", "0", "--json").stdout)
    assert doc["results"][0]["proxy"] == f"http://****@127.0.0.1:{port}"
    replayed = cli("replay", "comment", "--retries", "0", "--json")
    step = json.loads(replayed.stdout.splitlines()[0])
    assert step["problems"] == [
        f"incidentio: the connection was refused (nothing listens there), {via} (check "
        "that the proxy in HTTPS_PROXY is up and lets this machine through, or add "
        "bp-target.invalid to NO_PROXY to go direct; then the URL (bp-integrate show "
        "incidentio))"
    ]
    everything = result.stdout + result.stderr + replayed.stdout + replayed.stderr
    assert "pa55word" not in everything + history_text(state_dir())


def test_set_description_keeps_the_test_marker(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(emu, "incidentio", monkeypatch)
    edit = ("--set", "incident.alerts.0.description=Disk full on db-3")
    doc = json.loads(cli("send-test", "new", "--dry-run", "--json", *edit).stdout)
    assert doc["requests"][0]["body"]["incident"]["alerts"][0]["description"] == (
        "[TEST] Disk full on db-3"
    )
    plain = json.loads(
        cli("send-test", "new", "--dry-run", "--json", "--no-test-marker", *edit).stdout
    )
    assert plain["requests"][0]["body"]["incident"]["alerts"][0]["description"] == (
        "Disk full on db-3"
    )


def test_payload_body_gets_the_test_marker_where_it_has_the_fields(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    install(emu, "incidentio", monkeypatch)
    own = {
        "incident": {
            "id": "mine-2",
            "status": "critical",
            "incident_tags": [],
            "alerts": [
                {"description": "Queue backed up", "tags": [{"name": "host", "value": "q1"}]},
                {"status": "critical"},
            ],
        }
    }
    (tmp_path / "p.json").write_text(json.dumps(own))
    args = ("send-test", "new", "--payload", str(tmp_path / "p.json"), "--tag", "team=ops")
    result = cli(*args, "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["requests"][0]["body"] == {
        "incident": {
            "id": "mine-2",
            "status": "critical",
            "incident_tags": [{"tag_id": "itd-1ffa10f350", "tag_value": "true"}],  # the marker's id
            "alerts": [
                {
                    "description": "[TEST] Queue backed up",
                    "tags": [
                        {"name": "host", "value": "q1"},
                        {"name": "team", "value": "ops"},
                        {"name": "bp_integrate_test", "value": "true"},
                    ],
                },
                {
                    "status": "critical",
                    "tags": [
                        {"name": "team", "value": "ops"},
                        {"name": "bp_integrate_test", "value": "true"},
                    ],
                },
            ],
        }
    }
    assert cli(*args).exit_code == 0  # and it is sent that way
    [record] = sends(emu, "/v2/alert_events/")
    assert '"description":"[TEST] Queue backed up"' in record.body_preview
    plain = json.loads(cli(*args, "--dry-run", "--json", "--no-test-marker").stdout)
    sent = plain["requests"][0]["body"]["incident"]
    assert sent["incident_tags"] == [] and sent["alerts"][0]["description"] == "Queue backed up"


def test_retry_after_takes_ascii_digits_only() -> None:
    from bp_integrate.http import retry_after_seconds

    assert retry_after_seconds(" 7 ") == 7.0
    assert retry_after_seconds("²") is None  # "²".isdigit() is True; float("²") raises
    assert retry_after_seconds("١٢") is None  # Arabic-Indic digits: float() would take them
    assert retry_after_seconds("-1") is None


def test_updated_says_the_incident_is_open(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(emu, "incidentio", monkeypatch)
    result = cli("send-test", "updated", "--incident-id", "abc123")
    assert result.exit_code == 0
    assert (
        "The test incident is open on the targets; close it with: bp-integrate "
        "send-test incident#closed --incident-id abc123\n"
    ) in result.stderr
    # Profile 'ops' reads its own variables (its install too), never the shared ones.
    monkeypatch.setenv("BP_INTEGRATE_OPS_INCIDENTIO_SECRET", CFG.incidentio_secret)
    other = cli(
        "--profile",
        "ops",
        "install",
        "incidentio",
        "--no-input",
        "--no-verify",
        "--secret-store",
        "env",
        "--set",
        f"callback_url={emu.urls['incidentio_callback']}",
    )
    assert other.exit_code == 0, other.stderr
    result = cli("--profile", "ops", "send-test", "updated", "--incident-id", "abc123")
    assert (
        "close it with: bp-integrate --profile ops send-test incident#closed --incident-id abc123\n"
    ) in result.stderr


def test_a_proxy_only_matters_where_it_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    from bp_integrate.http import mask_proxy, proxy_for, proxy_note

    set_proxy_env(monkeypatch, HTTPS_PROXY="ftp://u:p@x", NO_PROXY="bp-target.invalid")
    assert proxy_for("https://bp-target.invalid/hook") is None  # NO_PROXY: direct
    assert proxy_for("http://127.0.0.1:8765/v2/enqueue") is None  # loopback: direct
    set_proxy_env(monkeypatch, https_proxy="http://a:b@lower:1", HTTPS_PROXY="http://upper:2")
    assert proxy_note("https://bp-target.invalid/x") == ("http://****@lower:1", "https_proxy")
    assert mask_proxy("http://u:p@ss@host:1") == "http://****@host:1"
    assert mask_proxy("proxy.corp:3128") == "proxy.corp:3128"
