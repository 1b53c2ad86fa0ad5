"""`bp-integrate doctor` (issue 9 point 5): settings, profiles, the BigPanda host and
key, the keyring, every value's source and each target host (DNS, TLS), against the
emulator and a local TLS server with a self-signed certificate."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import CFG, PD_KEY, SECRETS, MemoryKeyring, cli, install
from typer.testing import CliRunner

from bp_integrate.emulator import EmulatorServer


def set_key(emu: EmulatorServer, key: str) -> None:
    from bp_integrate.cli import app

    result = CliRunner().invoke(
        app,
        ["profile", "set", "--region", emu.base_url, "--api-key-stdin", "--no-verify"],
        input=key + "\n",
    )
    assert result.exit_code == 0, result.stderr


def doctor(*args: str) -> tuple[Any, dict[str, Any]]:
    result = cli("doctor", "--json", *args)
    return result, json.loads(result.stdout)


def check(doc: dict[str, Any], section: str, name: str) -> dict[str, Any]:
    [found] = [c for c in doc["checks"] if c["section"] == section and c["name"] == name]
    return found


def test_all_is_well_against_the_emulator(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    set_key(emu, CFG.bigpanda_api_key)
    install(emu, "pagerduty", monkeypatch)
    install(emu, "incidentio", monkeypatch)
    result, doc = doctor()
    assert result.exit_code == 0, result.stdout
    assert doc["ok"] is True and doc["exit_code"] == 0
    port = emu.base_url.rsplit(":", 1)[1]
    assert check(doc, "bigpanda", "api key")["detail"] == (
        "works against 127.0.0.1: it sees 2 environment(s) (key from keyring)"
    )
    host = check(doc, "pagerduty", f"host 127.0.0.1:{port}")
    assert host["status"] == "ok"
    assert host["detail"] == (
        "resolves to 127.0.0.1; plain http on a loopback host: TLS check skipped"
    )
    assert check(doc, "pagerduty", "integration_key")["detail"] == (
        "present  [environment variable BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY]"
    )
    assert check(doc, "pagerduty", "events_url")["detail"].endswith("  [setting]")
    assert check(doc, "keyring", "backend")["detail"].endswith("MemoryKeyring: answers")
    human = cli("doctor")
    assert human.exit_code == 0
    assert "All is well in profile 'default'." in human.stderr
    for secret in (*SECRETS, CFG.bigpanda_api_key):
        assert secret not in result.stdout + human.stdout + human.stderr


def test_a_refused_key_names_the_host_and_exits_6(
    emu: EmulatorServer, memory_keyring: MemoryKeyring
) -> None:
    set_key(emu, "not-the-key-0000")
    result, doc = doctor()
    assert result.exit_code == 6
    api = check(doc, "bigpanda", "api key")
    assert api["status"] == "fail"
    assert "checked against 127.0.0.1" in api["detail"]
    assert "not-the-key-0000" not in result.stdout


def test_a_missing_secret_exits_4_and_no_network_skips_hosts(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    install(emu, "pagerduty", monkeypatch)
    monkeypatch.delenv("BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY")
    result, doc = doctor("--no-network")
    assert result.exit_code == 4
    key = check(doc, "pagerduty", "integration_key")
    assert key["status"] == "fail"
    assert (
        key["fix"] == "export BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY=... wherever bp-integrate runs"
    )
    port = emu.base_url.rsplit(":", 1)[1]
    assert check(doc, "pagerduty", f"host 127.0.0.1:{port}")["status"] == "skip"
    assert not emu.state.records()  # --no-network: nothing reached the emulator


def test_an_environment_variable_overriding_the_keyring_is_shown(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    monkeypatch.setenv("BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY", PD_KEY)
    result = cli(
        "install", "pagerduty", "--no-input", "--no-verify",
        "--set", f"events_url={emu.urls['pagerduty_events']}",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    _, doc = doctor("--no-network")
    found = check(doc, "pagerduty", "integration_key")
    assert found["status"] == "warn"
    assert found["detail"] == (
        "present  [environment variable BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY, overriding "
        "the keyring store: every send and show uses it]"
    )
    monkeypatch.delenv("BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY")
    result, doc = doctor("--no-network")
    assert result.exit_code == 0
    assert check(doc, "pagerduty", "integration_key")["detail"] == "present  [keyring]"
    memory_keyring.entries.clear()
    result, doc = doctor("--no-network")
    assert result.exit_code == 4
    assert check(doc, "pagerduty", "integration_key")["detail"] == "missing from the keyring"


def test_an_unknown_profile_is_an_error() -> None:
    result = cli("-p", "nosuch", "doctor")
    assert result.exit_code == 3


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A TLS server on 127.0.0.1 with a self-signed certificate: it only shakes hands."""
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    handshakes: list[str] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with contextlib.suppress(OSError), context.wrap_socket(conn, server_side=True) as tls:
                handshakes.append(str(tls.version()))
                tls.recv(1)  # the client closes without a request

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield int(server.getsockname()[1]), cert
    finally:
        server.close()


def test_a_target_host_gets_a_tls_handshake_and_a_self_signed_cert_fails(
    tls_server: tuple[int, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, cert = tls_server
    monkeypatch.setenv("BP_INTEGRATE_INCIDENTIO_SECRET", CFG.incidentio_secret)
    result = cli(
        "install", "incidentio", "--no-input", "--no-verify", "--secret-store", "env",
        "--set", f"callback_url=https://127.0.0.1:{port}/v2/alert_events/bigpanda/x",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    # The BigPanda host is not reachable from a test: point the profile at loopback.
    assert cli("profile", "set", "--region", f"https://127.0.0.1:{port}").exit_code == 0
    result, doc = doctor()
    assert result.exit_code == 5
    host = check(doc, "incidentio", f"host 127.0.0.1:{port}")
    assert host["status"] == "fail"
    assert host["detail"].startswith(
        f"TLS to 127.0.0.1:{port}: the TLS certificate could not be verified"
    )
    assert "SSL_CERT_FILE" in host["fix"]
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    result, doc = doctor()
    assert result.exit_code == 0, result.stdout
    host = check(doc, "incidentio", f"host 127.0.0.1:{port}")
    assert host["detail"].startswith(
        "resolves to 127.0.0.1; TLS ok (TLSv1.3, certificate valid until "
    )


def test_a_host_reached_through_a_proxy_is_not_checked_directly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BP_INTEGRATE_INCIDENTIO_SECRET", CFG.incidentio_secret)
    result = cli(
        "install", "incidentio", "--no-input", "--no-verify", "--secret-store", "env",
        "--set", "callback_url=https://api.incident.io/v2/alert_events/bigpanda/x",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    monkeypatch.setenv("HTTPS_PROXY", "http://user:pw@proxy.corp.invalid:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    _, doc = doctor()
    host = check(doc, "incidentio", "host api.incident.io:443")
    assert host["status"] == "skip"
    assert host["detail"] == (
        "sent through proxy http://****@proxy.corp.invalid:3128 (HTTPS_PROXY): direct DNS "
        "and TLS not checked"
    )


def test_a_url_secret_left_in_an_old_settings_file_is_never_printed(
    monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    """A config.yaml from before URL secrets were split off may hold `?token=` in clear:
    doctor shows the URL masked."""
    from bp_integrate import config

    monkeypatch.setenv("BP_INTEGRATE_WEBHOOK_URL", "https://hooks.example.com/in?token=old-raw-tok")
    result = cli("install", "webhook", "--no-input", "--no-verify")
    assert result.exit_code == 0, result.stderr
    path = config.config_path()
    path.write_text(path.read_text("utf-8").replace("token=****", "token=old-raw-tok"), "utf-8")
    assert "old-raw-tok" in path.read_text("utf-8")
    shown = cli("doctor", "--no-network")
    assert "old-raw-tok" not in shown.stdout + shown.stderr
    assert "token=****" in shown.stdout + shown.stderr
