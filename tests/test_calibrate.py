"""`bp-integrate calibrate`: compare a captured body with ours, adopt its shape, reset.

The capture is what `receiver --capture` writes (one JSON record per line: time, method,
path, query, headers, body) or a single JSON body, as a user would save it by hand.
"""

from __future__ import annotations

import json
import os
import random
import stat
from pathlib import Path
from typing import Any

import pytest
from helpers import cli

from bp_integrate import calibrate
from bp_integrate.bigpanda.simulator import IncidentSimulator
from bp_integrate.bigpanda.webhook import BodySpec, render_body
from bp_integrate.errors import ConfigError

SECRET = "s3cr3t-Zq81-never-stored"


def real_body(event: str = "incident#new", **extra: Any) -> dict[str, Any]:
    """A body as a tenant's BigPanda might send it: ours, plus fields we do not make."""
    return {
        "incident": {
            "id": "65f0c0ffee0000000000aaaa",
            "status": "critical",
            "active": True,
            "resolved": False,
            "severity": "critical",
            "flapping": False,
            "start": "2024-03-12T10:00:00Z",  # a string where we send a number
            "number": 4711,
            "alerts": [
                {
                    "id": "a1",
                    "status": "critical",
                    "runbook": "https://wiki.example/rb",
                    "tags": [{"name": "host", "value": "db-1"}],
                },
                {"id": "a2", "status": "warning", "owner": "dba"},
            ],
        },
        "metadata": {"environment_id": "env-real", "trigger": event, **extra},
    }


def capture_file(tmp_path: Path, *bodies: Any) -> Path:
    """A `receiver --capture` file: one request record per line (and a GET among them)."""
    lines = [
        {
            "time": "2026-12-01T02:00:00Z",
            "method": "GET",
            "path": "/healthz",
            "query": "",
            "headers": {},
            "body": None,
        }
    ]
    for body in bodies:
        lines.append(
            {
                "time": "2026-12-01T02:00:01Z",
                "method": "POST",
                "path": "/hook",
                "query": "",
                "headers": {"authorization": "****", "content-type": "application/json"},
                "body": body,
            }
        )
    path = tmp_path / "capture.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def test_compare_lists_each_difference(tmp_path: Path) -> None:
    path = tmp_path / "body.json"
    path.write_text(json.dumps(real_body()), encoding="utf-8")
    result = cli("calibrate", str(path))
    assert result.exit_code == 0, result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert result.stdout.splitlines()[0].split() == ["FIELD", "OURS", "CAPTURED", "VERDICT"]
    assert rows["incident.number"].split()[1:] == ["-", "number", "only", "in", "the", "capture"]
    assert rows["incident.alerts[].runbook"].endswith("only in the capture")
    assert rows["metadata.trigger"].endswith("only in the capture")
    assert rows["incident.start"].split()[1:3] == ["number", "string"]
    assert rows["incident.start"].endswith("type differs")
    assert rows["metadata.share_id"].endswith("only in ours")
    assert "incident.resolved" not in rows and "metadata.environment_id" not in rows
    [summary] = [line for line in result.stderr.splitlines() if "captured body" in line]
    assert summary == (
        "1 captured body (events: incident#new; envelope: share); fields: 17 the same, "
        "4 only in the capture, 41 only in ours, 1 of another type."
    )
    assert "calibrate" in result.stderr and "--adopt" in result.stderr
    assert not calibrate.is_calibrated("default")


def test_compare_json_from_a_capture_file(tmp_path: Path) -> None:
    path = capture_file(tmp_path, real_body(), real_body("incident#closed"), [1, 2])
    result = cli("calibrate", str(path), "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["bodies"] == 2 and doc["events"] == ["incident#closed", "incident#new"]
    assert doc["envelope"] == "share" and doc["matches"] is False and doc["adopted"] is None
    fields = {f["path"]: f for f in doc["fields"]}
    assert fields["incident.alerts[].owner"] == {
        "path": "incident.alerts[].owner",
        "ours": [],
        "captured": ["string"],
        "verdict": "only_captured",
    }
    assert fields["incident.resolved"]["verdict"] == "same"
    assert doc["counts"]["same"] == len([f for f in doc["fields"] if f["verdict"] == "same"])
    assert result.stderr == ""


def test_a_body_like_ours_matches() -> None:
    ours = calibrate.reconstruction(wrapped=True)
    assert calibrate.compare(ours).matches


def test_adopt_stores_the_shape_privately_with_secrets_masked(tmp_path: Path) -> None:
    body = real_body(
        token=SECRET, callback=f"https://hook.example/x?apiKey={SECRET}", note=f"Bearer {SECRET}"
    )
    path = capture_file(tmp_path, body)
    assert cli("--profile", "prod", "profile", "set").exit_code == 0  # profiles must exist
    result = cli("--profile", "prod", "calibrate", str(path), "--adopt")
    assert result.exit_code == 0, result.stderr
    stored = Path(os.environ["BP_INTEGRATE_CONFIG_DIR"]) / "shapes" / "prod.json"
    assert calibrate.shape_path("prod") == stored
    assert f"({stored})" in result.stderr and "calibrate --reset" in result.stderr
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    text = stored.read_text(encoding="utf-8")
    assert SECRET not in text
    template = json.loads(text)["template"]
    assert template["metadata"]["token"] == "****"
    assert template["metadata"]["callback"] == "https://hook.example/x?apiKey=****"
    assert template["metadata"]["note"] == "Bearer ****"
    # the alerts' item merges every captured alert's fields
    assert set(template["incident"]["alerts"][0]) == {"id", "status", "runbook", "tags", "owner"}
    assert not list(stored.parent.glob("*.tmp"))
    assert calibrate.is_calibrated("prod") and not calibrate.is_calibrated("default")

    # What send-test and replay send from now on (the commands pass adopted_shape along).
    shape = calibrate.adopted_shape("prod")
    assert shape is not None
    spec = BodySpec(calibrated=shape, environment_id="env-prod")
    sim = IncidentSimulator(start=1_700_000_000, rng=random.Random(2))
    sent, incident = render_body(sim, "incident#closed", spec)
    assert set(sent) == {"incident", "metadata"}
    assert set(sent["metadata"]) == {"environment_id", "trigger", "token", "callback", "note"}
    assert sent["metadata"]["environment_id"] == "env-prod"
    assert sent["metadata"]["trigger"] == "incident#closed"
    assert incident["number"] == 4711 and incident["resolved"] is True
    assert incident["id"] == sim.incident_id and incident["start"] == 1_700_000_000
    assert incident["alerts"][0]["runbook"] == "https://wiki.example/rb"

    json_doc = json.loads(cli("--profile", "prod", "calibrate", str(path), "--json").stdout)
    assert json_doc["calibrated"] is True

    reset = cli("--profile", "prod", "calibrate", "--reset")
    assert reset.exit_code == 0 and "built-in body shape again" in reset.stderr
    assert not stored.exists() and calibrate.adopted_shape("prod") is None
    again = cli("--profile", "prod", "calibrate", "--reset", "--json")
    assert json.loads(again.stdout) == {"profile": "prod", "reset": False, "calibrated": False}


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "does not exist"),
        ("not json\n", "line 1, is not JSON"),
        ('{"time": 1, "method": "GET", "path": "/", "body": null}\n', "holds no JSON object"),
        ("[1, 2]", "holds a JSON list, not an object"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"a":' * 80 + "1" + "}" * 80, "nested more than 64 levels"),
    ],
)
def test_bad_captures_are_usage_errors(tmp_path: Path, content: str | None, says: str) -> None:
    path = tmp_path / "capture.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = cli("calibrate", str(path), "--adopt")
    assert result.exit_code == 2, result.stderr
    assert says in result.stderr and "unexpected" not in result.stderr.lower()
    assert not calibrate.is_calibrated("default")


def test_invalid_utf8_and_option_mistakes(tmp_path: Path) -> None:
    path = tmp_path / "capture.json"
    path.write_bytes(b'{"incident": "\xff"}')
    result = cli("calibrate", str(path))
    assert result.exit_code == 2 and "is not UTF-8 text" in result.stderr
    assert cli("calibrate").exit_code == 2
    mixed = cli("calibrate", str(path), "--reset")
    assert mixed.exit_code == 2 and "--reset takes no FILE" in mixed.stderr


def test_a_damaged_adopted_shape_names_the_fix() -> None:
    stored = calibrate.shape_path("default")
    stored.parent.mkdir(parents=True)
    stored.write_text("{", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        calibrate.adopted_shape("default")
    assert "calibrate --reset" in str(caught.value.hint)
    stored.write_text('{"version": 99, "template": {}}', encoding="utf-8")
    with pytest.raises(ConfigError, match="is damaged"):
        calibrate.adopted_shape("default")


def test_a_capture_over_the_size_limit_is_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = capture_file(tmp_path, real_body())
    monkeypatch.setattr(calibrate, "CAPTURE_MAX_BYTES", 100)
    result = cli("calibrate", str(path))
    assert result.exit_code == 2
    assert f"The capture file {path} is over the limit of 100 bytes." in (result.stderr)


def test_capture_adopt_replay_and_reset_end_to_end(
    tmp_path: Path, emu: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 'real' BigPanda share (a client posting a body with fields we do not make) is
    captured by `bp-integrate receiver --capture`, adopted, and replay then sends bodies
    of that shape; --reset goes back to the built-in one."""
    import signal
    import subprocess
    import sys

    import httpx

    capture = tmp_path / "capture.jsonl"
    receiver = subprocess.Popen(
        [sys.executable, "-m", "bp_integrate", "receiver", "--port", "0", "--json",
         "--capture", str(capture)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ},
    )  # fmt: skip
    try:
        assert receiver.stdout is not None
        ready = receiver.stdout.readline()  # its first line: listening, and where
        assert ready, "the receiver did not start"
        url = json.loads(ready)["urls"]["webhook"]
        answer = httpx.post(
            url, json=real_body(), headers={"Authorization": "Bearer demo-webhook-token"}
        )
        assert answer.status_code < 300
    finally:
        receiver.send_signal(signal.SIGINT)
        receiver.communicate(timeout=15)
    assert "number" in capture.read_text()

    adopted = cli("calibrate", str(capture), "--adopt")
    assert adopted.exit_code == 0, adopted.stderr
    monkeypatch.setenv("BP_INTEGRATE_WEBHOOK_AUTH_HEADER", "Bearer demo-webhook-token")
    installed = cli(
        "install", "webhook", "--no-input", "--secret-store", "env",
        "--set", f"url={emu.base_url}/webhook/demo",
    )  # fmt: skip
    assert installed.exit_code == 0, installed.stderr
    assert json.loads(cli("show", "webhook", "--json").stdout)["calibrated"] is True
    dry = cli("send-test", "new", "--to", "webhook", "--dry-run")
    assert "shape adopted from your BigPanda" in dry.stderr

    result = cli("replay", "lifecycle", "--to", "webhook", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    from bp_integrate.emulator.webhook import WebhookState

    bodies = emu.state.target(WebhookState).webhook_bodies("demo")
    assert len(bodies) == 5
    ids = {b["incident"]["id"] for b in bodies}
    assert len(ids) == 1 and ids != {"65f0c0ffee0000000000aaaa"}  # the simulator's id
    for body in bodies:
        assert set(body) == {"incident", "metadata"}
        assert "number" in body["incident"]  # their extra field, kept
        assert "runbook" in body["incident"]["alerts"][0]
        assert "trigger" in body["metadata"]
    assert [b["incident"]["resolved"] for b in bodies] == [False, False, True, False, True]

    assert cli("calibrate", "--reset").exit_code == 0
    emu.state.reset()
    assert cli("send-test", "new", "--to", "webhook").exit_code == 0
    [body] = emu.state.target(WebhookState).webhook_bodies("demo")
    assert "number" not in body["incident"]
