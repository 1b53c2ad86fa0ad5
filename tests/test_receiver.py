"""`bp-integrate receiver` as a user runs it: a real process, real loopback HTTP, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from helpers import BackgroundJob, invoke
from typer.testing import CliRunner

#: Every receiver a test started: one a failed or timed-out test left running is killed
#: after it (a busy machine once left several listening for hours).
_STARTED: list[subprocess.Popen[Any]] = []


@pytest.fixture(autouse=True)
def _no_receiver_left() -> Iterator[None]:
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def start_receiver(*extra: str) -> tuple[subprocess.Popen[str], dict[str, str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bp_integrate", "receiver", "--port", "0", "--json", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    _STARTED.append(proc)
    assert proc.stdout is not None
    first = json.loads(proc.stdout.readline())
    return proc, first["urls"]


def test_receiver_records_requests_and_stops_on_ctrl_c() -> None:
    proc, urls = start_receiver()
    try:
        trigger = urls["xmatters_trigger"] + "?apiKey=demo-xmatters-api-key&recipients=ops"
        answer = httpx.post(trigger, json={"event_type": "incident#new", "incident": {"id": "1"}})
        assert answer.status_code == 202
        assert "requestId" in answer.json()
        bad = httpx.post(urls["pagerduty_events"], json={"event_action": "trigger"})
        assert bad.status_code == 400
        assert proc.stdout is not None
        seen = [json.loads(proc.stdout.readline()) for _ in range(2)]
        assert [r["route"] for r in seen] == ["xmatters_trigger", "pagerduty_events"]
        assert [r["status"] for r in seen] == [202, 400]
        assert seen[0]["valid"] is True and seen[1]["valid"] is False
        assert "demo-xmatters-api-key" not in json.dumps(seen)
        received = httpx.get(urls["received"]).json()
        assert len(received) == 2
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "Emulator stopped." in err
    assert "Traceback" not in err


def test_receiver_refuses_a_non_loopback_host_without_allow_remote(runner: CliRunner) -> None:
    result = invoke(runner, "receiver", "--host", "0.0.0.0")
    assert result.exit_code == 2
    assert "--allow-remote" in result.stderr
    assert "Traceback" not in result.stderr


def test_receiver_port_in_use_is_a_clear_error(runner: CliRunner) -> None:
    proc, urls = start_receiver()
    try:
        port = urls["bigpanda_api"].rsplit(":", 1)[1]
        started = time.monotonic()
        result = invoke(runner, "receiver", "--port", port)
        assert time.monotonic() - started < 10
        assert result.exit_code == 1
        assert "already in use" in result.stderr
        assert "--port" in result.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=10)


def test_receiver_capture_writes_full_requests(tmp_path: Path) -> None:
    capture = tmp_path / "capture.jsonl"
    proc, urls = start_receiver("--capture", str(capture))
    body = {"incident": {"id": "inc-1", "extra": {"nested": [1]}}, "metadata": {"x": 1}}
    try:
        answer = httpx.post(
            urls["incidentio_callback"],
            json=body,
            headers={"Authorization": "Bearer demo-incidentio-secret"},
        )
        assert answer.status_code == 202
        assert proc.stdout is not None
        proc.stdout.readline()  # the request was answered and recorded
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert f"Capturing every request, in full (secrets masked), to {capture}" in err
    (entry,) = [json.loads(line) for line in capture.read_text().splitlines()]
    assert entry["body"] == body
    assert entry["headers"]["Authorization"] == "****"
    assert "demo-incidentio-secret" not in capture.read_text()


def test_sigterm_stops_a_receiver_started_in_the_background(tmp_path: Path) -> None:
    """`bp-integrate receiver ... </dev/null >out &` in a script or CI job, then `kill`:
    it used to ignore SIGTERM there (its shell ignores SIGINT in background jobs, and
    SIGTERM only acted as that), so SIGKILL was the only way to stop it."""
    capture = tmp_path / "capture.jsonl"
    job = BackgroundJob(tmp_path / "job", "receiver", "--port", "0", "--capture", str(capture))
    try:
        err = job.wait_for("bp-integrate -p emulator send-test new")  # its last line
        base = err.split("Emulator listening on ")[1].split()[0]
        for n in range(3):
            answer = httpx.post(
                f"{base}/webhook/demo",
                json={"n": n},
                headers={"Authorization": "Bearer demo-webhook-token"},
            )
            assert answer.status_code == 202
        code = job.terminate()  # at once: what is still queued must be shown and saved
    finally:
        job.kill()
    err = job.err.read_text()
    assert code == 143, err
    assert err.endswith("Emulator stopped.\n") and "Traceback" not in err
    assert len(job.out.read_text().splitlines()) == 3  # every request shown
    lines = capture.read_text().splitlines()
    assert [json.loads(line)["body"] for line in lines] == [{"n": 0}, {"n": 1}, {"n": 2}]


def test_sigterm_stops_a_receiver_with_exit_143_ctrl_c_with_0() -> None:
    """Ctrl-C is how a person ends the receiver (exit 0); SIGTERM ends it the same
    clean way, with the shell's code for a process SIGTERM stopped (128 + 15)."""
    proc, _ = start_receiver()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 143, err
    assert "Emulator stopped." in err and "Traceback" not in err


def test_a_malformed_request_prints_no_traceback() -> None:
    proc, urls = start_receiver()
    port = int(urls["bigpanda_api"].rsplit(":", 1)[1])
    try:
        for raw in (b"POST /webhook/\xff HTTP/1.1\r\nHost: x\r\n\r\n", b"\x16\x03\x01junk\r\n\r\n"):
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.sendall(raw)
                sock.settimeout(5)
                assert sock.recv(100).startswith(b"HTTP/1.")
        assert httpx.get(urls["received"]).status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "Traceback" not in err
    assert "Error handling request" not in err


#: What a client may send to forge or colour the receiver's lines (issue 20, item 5). A
#: header may not hold ESC (aiohttp answers 400), but may hold bytes that are not UTF-8
#: and a C1 control (U+009B, CSI to many terminals) in UTF-8.
_FORGING = (
    b"POST /webhook/%0a%0dFAKE-LINE%1b%5b31m HTTP/1.1\r\nHost: x\r\n"
    b"Authorization: Bearer demo-webhook-token\r\nX-Evil: \xff\xfe\xc2\x9b2J\r\n"
    b"Content-Length: 2\r\n\r\n{}"
)


def _lines(stream: IO[Any], count: int, timeout: float = 10.0) -> list[Any]:
    """``count`` lines of a child's output, failing (not hanging) when they do not come."""
    lines: list[Any] = []
    reader = threading.Thread(
        target=lambda: lines.extend(stream.readline() for _ in range(count)), daemon=True
    )
    reader.start()
    reader.join(timeout)
    assert not reader.is_alive(), f"only some of {count} lines came"
    return lines


def _send_forgeries(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(_FORGING)
        assert sock.recv(100).startswith(b"HTTP/1.1 202")
    base = f"http://127.0.0.1:{port}"
    assert httpx.post(f"{base}/nowhere/%1b%5b31m%e2%80%ae%0aX").status_code == 404
    event = {"routing_key": "r" * 32, "event_action": "trigger", "dedup_key": "\x1b[31mred\u202e"}
    assert httpx.post(f"{base}/v2/enqueue", json=event).status_code == 400  # no payload


def test_the_plain_output_escapes_what_a_client_sent() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bp_integrate", "receiver", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "NO_COLOR": "1"},
    )
    _STARTED.append(proc)
    assert proc.stdout is not None and proc.stderr is not None
    listening = proc.stderr.readline().decode()
    port = int(listening.split("http://127.0.0.1:")[1].split()[0].rstrip("/"))
    try:
        _send_forgeries(port)
        lines = _lines(proc.stdout, 3)
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=10)
    assert rest == b""  # three requests, three lines: none was split
    webhook, nowhere, pagerduty = (line.decode() for line in lines)
    assert "accepted by receiver \\n\\rFAKE-LINE\\x1b" in webhook
    assert "/nowhere/\\x1b[31m\\u202e\\nX" in nowhere
    assert "\\x1b[31mred\\u202e" in pagerduty
    for line in lines:
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        text = line.decode()[:-1]
        assert text.isprintable(), text


def test_the_json_output_escapes_what_a_client_sent() -> None:
    proc, urls = start_receiver()
    port = int(urls["bigpanda_api"].rsplit(":", 1)[1].split("/")[0])
    assert proc.stdout is not None
    try:
        _send_forgeries(port)
        lines = _lines(proc.stdout, 3)
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=10)
    assert rest == ""
    for line in lines:
        assert line[:-1].isprintable() and line[:-1].isascii(), line
    webhook, nowhere, pagerduty = (json.loads(line) for line in lines)
    assert webhook["path"] == "/webhook/\n\rFAKE-LINE\x1b[31m"  # the data, whole, in JSON
    assert webhook["headers"]["X-Evil"] == "??\x9b2J"
    assert nowhere["status"] == 404
    assert pagerduty["key"] == "\x1b[31mred\u202e"
