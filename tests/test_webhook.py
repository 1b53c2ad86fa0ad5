"""The fifth integration, the generic Notifications Webhook, end to end: install, what
to paste, and what a real receiver (a plain HTTP server on loopback) gets."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from helpers import cli, pasted

TOKEN = "Bearer wh-tok3n-1234567890"


class Receiver(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.posts: list[tuple[str, dict[str, str], Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/endpoint/bigpanda"


class Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length))
        self.server.posts.append((self.path, dict(self.headers.items()), body))
        ok = self.headers.get("Authorization") == TOKEN
        self.send_response(202 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"accepted": true}' if ok else b'{"error": "bad token"}')

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def install(url: str, monkeypatch: pytest.MonkeyPatch, headers: str = "X-Team=ops") -> Any:
    monkeypatch.setenv("BP_INTEGRATE_WEBHOOK_AUTH_HEADER", TOKEN)
    return cli(
        "install", "webhook", "--no-input", "--secret-store", "env", "--json",
        "--set", f"url={url}", "--set", f"headers={headers}",
    )  # fmt: skip


def test_install_show_and_paste(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    result = install(receiver.url, monkeypatch, "X-Team=ops , X-Source=bigpanda")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert pasted(doc, "url") == receiver.url
    assert pasted(doc, "header:Authorization") == "Bearer ****"
    assert pasted(doc, "header:X-Team") == "ops"
    assert doc["settings"]["headers"] == "X-Team=ops,X-Source=bigpanda"  # normalised
    assert TOKEN not in result.stdout + result.stderr
    one = cli("show", "webhook", "--field", "header:Authorization", "--show-secrets")
    assert one.stdout == TOKEN + "\n"


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ("Authorization=x", "Authorization cannot be set here."),
        ("Bad Name=x", "'Bad Name' is not an HTTP header name."),
        ("novalue", "'novalue' is not NAME=VALUE."),
    ],
)
def test_bad_headers_are_refused_with_the_fix(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch, headers: str, message: str
) -> None:
    result = install(receiver.url, monkeypatch, headers)
    assert result.exit_code == 2
    assert message in result.stderr


def test_plain_http_to_another_host_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    result = install("http://eda.example.com/hook", monkeypatch)
    assert result.exit_code == 2
    assert "must use https" in result.stderr


def test_lifecycle_reaches_the_receiver_with_its_headers(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert install(receiver.url, monkeypatch).exit_code == 0
    result = cli("replay", "lifecycle", "--to", "webhook", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert len(receiver.posts) == 5
    ids = set()
    for path, headers, body in receiver.posts:
        assert path == "/endpoint/bigpanda"
        assert headers["Authorization"] == TOKEN and headers["X-Team"] == "ops"
        assert headers["Content-Type"] == "application/json"
        ids.add(body["incident"]["id"])
    assert len(ids) == 1  # one incident through its whole lifecycle
    assert TOKEN.split()[1] not in result.stdout + result.stderr


def test_a_receiver_that_refuses_the_token_names_the_fix(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert install(receiver.url, monkeypatch).exit_code == 0
    monkeypatch.setenv("BP_INTEGRATE_WEBHOOK_AUTH_HEADER", "Bearer wrong-token-0000")
    result = cli("send-test", "new")
    assert result.exit_code == 6
    assert "webhook refused the credentials (HTTP 401)" in result.stderr
    assert "bp-integrate install webhook" in result.stderr
