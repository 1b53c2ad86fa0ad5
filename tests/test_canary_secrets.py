"""Canary secrets through every command: each integration is installed with a secret no
output or file may ever hold, pointed at a server that echoes every request back (URL,
headers and body) in a 500 answer, and every command a user may run is run. Then all
that was printed, and every file under the config and state folders, is searched for
each secret in every form it can take (raw, percent-encoded, base64)."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from helpers import cli

XM_KEY = "CanaryXmKey+/=0001"
PD_KEY = "c0ffee00c0ffee00c0ffee00c0ffee01"
IO_SECRET = "CanaryIoSecret0002"
WH_TOKEN = "CanaryWebhookToken0003"
OVERRIDE = "c0ffee00c0ffee00c0ffee00c0ffee04"
CANARIES = (XM_KEY, PD_KEY, IO_SECRET, WH_TOKEN, OVERRIDE)
TRIGGER = "/api/integration/1/functions/0f6c8e8a-1b2c-4d3e-8f9a-0123456789ab/triggers"


class Echo(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace")
        echoed = json.dumps(
            {"path": self.path, "headers": dict(self.headers.items()), "body": body}
        ).encode()
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(echoed)))
        self.end_headers()
        self.wfile.write(echoed)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def echo() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def forms(secret: str) -> set[str]:
    found = {secret, quote(secret, safe=""), quote_plus(secret), quote(secret)}
    found.add(base64.b64encode(secret.encode()).decode())
    return {f for f in found if len(f) >= 6}


def test_no_command_shows_or_records_a_secret(
    echo: str, monkeypatch: pytest.MonkeyPatch, isolated: Path, tmp_path: Path
) -> None:
    monkeypatch.setenv("BP_INTEGRATE_XMATTERS_TRIGGER_URL_APIKEY", XM_KEY)
    monkeypatch.setenv("BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY", PD_KEY)
    monkeypatch.setenv("BP_INTEGRATE_INCIDENTIO_SECRET", IO_SECRET)
    monkeypatch.setenv("BP_INTEGRATE_WEBHOOK_AUTH_HEADER", f"Bearer {WH_TOKEN}")
    installs = [
        ("xmatters", f"trigger_url={echo}{TRIGGER}?apiKey=****", "auth=url"),
        ("pagerduty", f"events_url={echo}/v2/enqueue", "override_tag=pd_key"),
        ("incidentio", f"callback_url={echo}/v2/alert_events/big_panda/x"),
        ("webhook", f"url={echo}/hook"),
    ]
    printed: list[str] = []
    for name, *sets in installs:
        args = ["install", name, "--no-input", "--no-verify", "--secret-store", "env"]
        for item in sets:
            args += ["--set", item]
        result = cli(*args)
        assert result.exit_code == 0, result.stderr
        printed.append(result.stdout + result.stderr)
    tag = f"pd_key={OVERRIDE}"
    commands: list[tuple[str, ...]] = [
        ("list",),
        ("list", "--json"),
        *[("show", name) for name, *_ in installs],
        *[("show", name, "--json") for name, *_ in installs],
        ("show", "xmatters", "--field", "url"),
        ("send-test", "new", "--tag", tag, "--dry-run"),
        ("send-test", "new", "--tag", tag, "--dry-run", "--json"),
        ("send-test", "new", "--tag", tag, "--as-curl"),
        ("send-test", "new", "--tag", tag, "--retries", "0"),
        ("send-test", "commented", "--tag", tag, "--retries", "0", "--json"),
        ("replay", "comment", "--tag", tag, "--retries", "0"),
        ("replay", "lifecycle", "--tag", tag, "--retries", "0", "--json"),
        ("replay", "lifecycle", "--count", "3", "--tag", tag, "--retries", "0", "--json"),
        ("history",),
        ("history", "--json"),
    ]
    for command in commands:
        result = cli(*command)
        assert "unexpected" not in result.stderr, (command, result.stderr)
        printed.append(result.stdout + result.stderr)
    runs = json.loads(cli("history", "--json").stdout)
    run_ids = [r["id"] for r in (runs if isinstance(runs, list) else runs.get("runs", []))]
    assert len(run_ids) >= 5  # the sends above were recorded
    for run_id in run_ids[:2]:
        result = cli("replay", "--from-run", run_id, "--dry-run")
        printed.append(result.stdout + result.stderr)
    files = "".join(
        p.read_text("utf-8", "replace")
        for root in (isolated, tmp_path / "state")
        for p in root.rglob("*")
        if p.is_file()
    )
    everything = "\n".join(printed) + files
    assert "****" in everything  # masked, not left out
    assert "apiKey=****" in everything and "Bearer ****" in everything
    assert '\\"path\\"' in everything or '"path"' in everything  # the echoes were shown
    for secret in CANARIES:
        for shown in forms(secret):
            assert shown not in everything, f"{secret} appears as {shown!r}"
