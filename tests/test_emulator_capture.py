"""The capture file: full requests as JSON lines, secrets masked, written safely."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import httpx
import pytest
from helpers import invoke
from typer.testing import CliRunner

from bp_integrate.emulator import (
    INCIDENTIO_SOURCE_ID,
    XMATTERS_BIGPANDA_FUNCTION_ID,
    EmulatorConfig,
    EmulatorServer,
)
from bp_integrate.emulator.capture import FORMAT, read_capture

CFG = EmulatorConfig()
XM = f"/api/integration/1/functions/{XMATTERS_BIGPANDA_FUNCTION_ID}/triggers"
IO = f"/v2/alert_events/big_panda/{INCIDENTIO_SOURCE_ID}"
ROUTING_KEY = "0123456789abcdef0123456789abcdef"
SHARE = {
    "incident": {"id": "inc-1", "status": "critical", "custom_field": {"a": [1, 2]}},
    "metadata": {"environment_id": "env-1", "extra": True},
}


def test_every_target_request_is_captured_in_full_with_secrets_masked(tmp_path: Path) -> None:
    path = tmp_path / "capture.jsonl"
    with EmulatorServer(capture=path) as emu, httpx.Client(base_url=emu.base_url) as c:
        c.post(
            XM,
            params={"apiKey": CFG.xmatters_api_key, "recipients": "ops"},
            content=json.dumps(SHARE).encode(),
            headers={"Content-Type": "application/json"},
        )
        c.post(IO, json=SHARE, headers={"Authorization": f"Bearer {CFG.incidentio_secret}"})
        c.post(
            "/v2/enqueue",
            json={"routing_key": ROUTING_KEY, "event_action": "trigger", "dedup_key": "d"},
        )
        c.post("/webhook/demo", content=b"not json \xff", headers={"X-Api-Key": "hidden-1"})
        c.post(
            "/webhook/demo",
            content=b'{"incident":{"id":"\\ud800"}}',
            headers={"Authorization": "Bearer demo-webhook-token"},
        )
        c.get("/_received")
        c.get("/_state")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text("utf-8")
    for secret in (*CFG.secrets(), ROUTING_KEY, "hidden-1", "demo-webhook-token"):
        assert secret not in text
    entries = read_capture(path)
    assert len(entries) == len(text.splitlines()) == 5  # introspection is not captured
    xm, io, pd, raw, surrogate = entries
    assert {e["format"] for e in entries} == {FORMAT}
    assert (xm["method"], xm["path"], xm["target"], xm["status"]) == ("POST", XM, "xmatters", 202)
    assert xm["query"] == "apiKey=****&recipients=ops"
    assert xm["body"] == SHARE and xm["body_text"] is None
    assert xm["body_bytes"] == len(json.dumps(SHARE).encode())
    assert xm["time"].endswith("+00:00") and isinstance(xm["timestamp"], float)
    assert io["headers"]["Authorization"] == "****"
    assert io["body"] == SHARE and io["route"] == "incidentio_alert_event"
    assert pd["body"]["routing_key"] == "****cdef"
    assert pd["body"]["dedup_key"] == "d"
    assert raw["body"] is None and raw["body_text"] == "not json \ufffd"
    assert raw["headers"]["X-Api-Key"] == "****" and raw["status"] == 401
    assert surrogate["status"] == 202
    assert surrogate["body"] == {"incident": {"id": "\ud800"}}  # kept, as a JSON escape


def test_appends_and_tightens_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "capture.jsonl"
    path.write_text("earlier line, not an entry\n")
    path.chmod(0o644)
    for _ in range(2):
        with EmulatorServer(capture=path) as emu:
            httpx.post(emu.base_url + "/webhook/demo", json={}, headers={"Authorization": "x"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().startswith("earlier line")
    assert len(read_capture(path)) == 2


def test_a_symlink_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("")
    link = tmp_path / "capture.jsonl"
    os.symlink(target, link)
    with pytest.raises(OSError):
        EmulatorServer(capture=link).start()


def test_receiver_reports_a_capture_file_it_cannot_write(runner: CliRunner, tmp_path: Path) -> None:
    result = invoke(runner, "receiver", "--port", "0", "--capture", str(tmp_path / "no" / "f"))
    assert result.exit_code == 2
    assert "Cannot write the capture file" in result.stderr
    assert "Traceback" not in result.stderr


def test_configured_secrets_inside_json_values_and_the_app_key_are_masked(tmp_path: Path) -> None:
    path = tmp_path / "capture.jsonl"
    with EmulatorServer(capture=path) as emu:
        httpx.post(
            f"{emu.base_url}/webhook/demo",
            json={"incident": {"id": "i", "note": "token demo-webhook-token pasted"}},
            headers={"Authorization": "Bearer demo-webhook-token"},
        )
        httpx.post(
            f"{emu.base_url}/data/v2/alerts",
            json={"app_key": "demo-canary-app-key", "host": "h", "status": "critical"},
            headers={"Authorization": "Bearer demo-bigpanda-org-token"},
        )
        received = httpx.get(f"{emu.base_url}/_received").text
    text = path.read_text()
    for secret in ("demo-webhook-token", "demo-canary-app-key", "demo-bigpanda-org-token"):
        assert secret not in text
        assert secret not in received
    first = read_capture(path)[0]
    assert first["body"] == {"incident": {"id": "i", "note": "token **** pasted"}}
