"""What a broken network or a hostile target does to a send: TLS failures, answers whose
body breaks after a 2xx status line, huge answers, redirects, and targets that echo the
request (with its secrets) back. Every server here is real and listens on loopback."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pytest
from helpers import CFG, PD_KEY, cli, history_text, install, state_dir

from bp_integrate.emulator import EmulatorServer

Handler = Callable[[socket.socket, bytes], None]


class RawServer:
    """A one-thread-per-connection TCP server whose handler writes raw HTTP bytes."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.requests: list[bytes] = []
        self.sent = 0
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(body) < length:
                body += conn.recv(65536)
            self.requests.append(head)
            with contextlib.suppress(OSError):
                self.handler(conn, head)

    def close(self) -> None:
        self._stop = True
        self.sock.close()


@pytest.fixture
def raw() -> Iterator[Callable[[Handler], RawServer]]:
    servers: list[RawServer] = []

    def start(handler: Handler) -> RawServer:
        server = RawServer(handler)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def install_incidentio(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BP_INTEGRATE_INCIDENTIO_SECRET", CFG.incidentio_secret)
    result = cli(
        "install", "incidentio", "--no-input", "--no-verify", "--secret-store", "env",
        "--set", f"callback_url={url}",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr


def send_json(*args: str) -> tuple[Any, dict[str, Any]]:
    result = cli("send-test", "new", "--json", *args)
    return result, json.loads(result.stdout)


# ----------------------------------------------------------------------------- TLS


@pytest.fixture
def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def test_tls_failure_is_named_not_retried_and_ssl_cert_file_fixes_it(
    raw: Callable[[Handler], RawServer],
    self_signed: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ssl

    cert, key = self_signed
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    def answer(conn: socket.socket, _head: bytes) -> None:
        conn.sendall(b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}")

    tls = TLSServer(context, answer)
    try:
        install_incidentio(f"https://127.0.0.1:{tls.port}/v2/alert_events/bigpanda/x", monkeypatch)
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
        result, doc = send_json("--retries", "3")
        assert result.exit_code == 5
        [res] = doc["results"]
        assert res["error_kind"] == "tls" and res["attempts"] == 1  # a bad cert does not heal
        assert res["error"].startswith("the TLS certificate could not be verified")
        human = cli("send-test", "new")
        assert "SSL_CERT_FILE" in human.stderr
        # Trusting the CA the way the hint says makes it work.
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        result, doc = send_json()
        assert result.exit_code == 0, doc
    finally:
        tls.close()


class TLSServer(RawServer):
    def __init__(self, context: Any, handler: Handler) -> None:
        self.context = context
        super().__init__(handler)

    def _one(self, conn: socket.socket) -> None:
        try:
            wrapped = self.context.wrap_socket(conn, server_side=True)
        except OSError:
            conn.close()
            return
        super()._one(wrapped)


# -------------------------------------------------------------- the 2xx status line decides


def test_a_2xx_whose_body_breaks_is_never_sent_again(
    raw: Callable[[Handler], RawServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(conn: socket.socket, _head: bytes) -> None:
        conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n{"partial":')
        conn.shutdown(socket.SHUT_RDWR)  # reset mid-body

    server = raw(broken)
    install_incidentio(f"http://127.0.0.1:{server.port}/v2/alert_events/bigpanda/x", monkeypatch)
    result, doc = send_json("--retries", "3")
    assert result.exit_code == 0, doc
    [res] = doc["results"]
    assert res["outcome"] == "ok" and res["status"] == 200 and res["attempts"] == 1
    assert any("body broke off" in note for note in res["notes"])
    assert len(server.requests) == 1


def test_a_2xx_whose_body_trickles_past_the_timeout_is_not_sent_again(
    raw: Callable[[Handler], RawServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    def trickle(conn: socket.socket, _head: bytes) -> None:
        conn.sendall(b"HTTP/1.1 202 Accepted\r\nContent-Length: 100\r\n\r\n{")
        time.sleep(1.5)

    server = raw(trickle)
    install_incidentio(f"http://127.0.0.1:{server.port}/v2/alert_events/bigpanda/x", monkeypatch)
    result, doc = send_json("--timeout", "0.4", "--retries", "3")
    assert result.exit_code == 0, doc
    assert doc["results"][0]["status"] == 202 and doc["results"][0]["attempts"] == 1
    assert len(server.requests) == 1


def test_a_huge_answer_is_not_downloaded(
    raw: Callable[[Handler], RawServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    size = 50 * 1024 * 1024
    sent: list[int] = []

    def huge(conn: socket.socket, _head: bytes) -> None:
        conn.sendall(f"HTTP/1.1 500 Oops\r\nContent-Length: {size}\r\n\r\n".encode())
        chunk, total = b"x" * 65536, 0
        try:
            while total < size:
                total += conn.send(chunk)
        finally:
            sent.append(total)

    server = raw(huge)
    install_incidentio(f"http://127.0.0.1:{server.port}/v2/alert_events/bigpanda/x", monkeypatch)
    result, doc = send_json("--retries", "0")
    assert result.exit_code == 6
    assert len(doc["results"][0]["response"]) <= 500
    deadline = time.monotonic() + 5
    while not sent and time.monotonic() < deadline:
        time.sleep(0.05)
    # The client stopped reading after its cap and dropped the connection.
    assert sent and sent[0] < size // 4


def test_a_redirect_names_where_it_points(
    raw: Callable[[Handler], RawServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    def moved(conn: socket.socket, _head: bytes) -> None:
        conn.sendall(
            b"HTTP/1.1 308 Permanent Redirect\r\nLocation: https://new.example.com/hook"
            b"?token=sekrit99\r\nContent-Length: 0\r\n\r\n"
        )

    server = raw(moved)
    install_incidentio(f"http://127.0.0.1:{server.port}/v2/alert_events/bigpanda/x", monkeypatch)
    result, doc = send_json()
    assert result.exit_code == 6
    error = doc["results"][0]["error"]
    assert error.startswith("HTTP 308: redirected to https://new.example.com/hook?token=****")
    assert "does not follow redirects" in error and "sekrit99" not in result.stdout
    assert len(server.requests) == 1


# --------------------------------------------------------------------- echoed secrets

KEY = "k3y/with+plus=and sp@ce"


@pytest.mark.parametrize("form", ["as received", "lower-case escapes", "decoded"])
def test_a_target_echoing_the_url_never_shows_the_api_key(
    raw: Callable[[Handler], RawServer], monkeypatch: pytest.MonkeyPatch, form: str
) -> None:
    def echo(conn: socket.socket, head: bytes) -> None:
        target = head.split(b" ")[1].decode()
        if form == "lower-case escapes":
            target = "".join(
                part if i == 0 else part[:2].lower() + part[2:]
                for i, part in enumerate(target.split("%"))
            )
        elif form == "decoded":
            target = unquote(target)
        body = json.dumps({"error": f"no route for {target}"}).encode()
        conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

    server = raw(echo)
    path = "/api/integration/1/functions/0f6c8e8a-1b2c-4d3e-8f9a-0123456789ab/triggers"
    monkeypatch.setenv("BP_INTEGRATE_XMATTERS_TRIGGER_URL_APIKEY", KEY)
    result = cli(
        "install", "xmatters", "--no-input", "--secret-store", "env",
        "--set", f"trigger_url=http://127.0.0.1:{server.port}{path}?apiKey=****",
        "--set", "auth=url",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    outputs = []
    for args in (("send-test", "new", "--json"), ("send-test", "new"), ("replay", "comment")):
        done = cli(*args)
        outputs.append(done.stdout + done.stderr)
    assert "no route for" in outputs[0]  # the answer is shown, masked
    everything = "\n".join(outputs) + history_text(state_dir())
    for shown in (KEY, quote(KEY, safe=""), quote(KEY), unquote(quote(KEY)).replace(" ", "+")):
        assert shown not in everything, shown
    assert "k3y" not in everything


def test_an_override_key_is_masked_where_pagerduty_plans_nothing(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    other_team = "fedcba9876543210fedcba9876543210"
    install(emu, "xmatters", monkeypatch)
    install(emu, "pagerduty", monkeypatch, override_tag="pd_key")
    runs = [
        ("send-test", "commented", "--tag", f"pd_key={other_team}", "--dry-run", "--json"),
        ("send-test", "new", "--tag", f"pd_key={other_team}", "--to", "xmatters", "--json"),
        ("send-test", "new", "--tag", f"pd_key={other_team}", "--to", "xmatters", "--as-curl"),
        ("replay", "comment", "--tag", f"pd_key={other_team}", "--to", "xmatters", "--json"),
    ]
    seen = ""
    for args in runs:
        result = cli(*args)
        assert result.exit_code == 0, (args, result.stderr)
        seen += result.stdout + result.stderr
    assert other_team not in seen + history_text(state_dir())
    assert PD_KEY not in seen
    assert "****" in seen


def test_show_secrets_shows_an_echoed_undeclared_token_but_the_run_file_never_keeps_it(
    raw: Callable[[Handler], RawServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "Bearer eyJhbGciOiJIUzI1NiJ9.echoed.Zm9v"  # no one declared it a secret

    def echo(conn: socket.socket, head: bytes) -> None:
        body = json.dumps({"error": f"rejected {token}"}).encode()
        conn.sendall(
            b"HTTP/1.1 401 Unauthorized\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )

    server = raw(echo)
    path = "/api/integration/1/functions/0f6c8e8a-1b2c-4d3e-8f9a-0123456789ab/triggers"
    monkeypatch.setenv("BP_INTEGRATE_XMATTERS_TRIGGER_URL_APIKEY", KEY)
    result = cli(
        "install", "xmatters", "--no-input", "--secret-store", "env",
        "--set", f"trigger_url=http://127.0.0.1:{server.port}{path}?apiKey=****",
        "--set", "auth=url",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    shown = cli("send-test", "new", "--json", "--show-secrets", "--retries", "0")
    assert "eyJhbGciOiJIUzI1NiJ9" in shown.stdout  # asked for: shown
    assert "eyJhbGciOiJIUzI1NiJ9" not in history_text(state_dir())  # never kept
