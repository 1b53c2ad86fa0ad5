"""`encode basic-auth` (RFC 7617) and `profile set/show` (key checked over real HTTP)."""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import MemoryKeyring, invoke
from typer.testing import CliRunner

from bp_integrate.emulator import EmulatorConfig, EmulatorServer

TTY = {"BP_INTEGRATE_ASSUME_TTY": "1"}
CFG = EmulatorConfig()
ENTRY = ("bp-integrate", "default/bigpanda/api_key")


# --------------------------------------------------------------------- encode
@pytest.mark.parametrize(
    ("user", "password", "expected"),
    [
        ("José", "pässword", "Basic Sm9zw6k6cMOkc3N3b3Jk"),  # UTF-8, not Latin-1
        ("Aladdin", "open sesame", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),  # RFC 7617's example
        ("xm-user", "p:ss wörd", "Basic eG0tdXNlcjpwOnNzIHfDtnJk"),  # ':' allowed in password
    ],
)
def test_encode_basic_auth_password_stdin(
    runner: CliRunner, user: str, password: str, expected: str
) -> None:
    result = invoke(
        runner,
        "encode",
        "basic-auth",
        "--username",
        user,
        "--password-stdin",
        input=password + "\n",
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == expected + "\n"
    token = expected.split(" ", 1)[1]
    assert base64.b64decode(token) == f"{user}:{password}".encode()


def test_encode_basic_auth_hidden_prompt(runner: CliRunner) -> None:
    result = invoke(runner, "encode", "basic-auth", "-u", "José", input="pässword\n", **TTY)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip().endswith("Basic Sm9zw6k6cMOkc3N3b3Jk")
    assert "pässword" not in result.stderr


def test_encode_refuses_colon_in_user_id(runner: CliRunner) -> None:
    result = invoke(
        runner, "encode", "basic-auth", "--username", "dom:user", "--password-stdin", input="p\n"
    )
    assert result.exit_code == 2
    assert "contains ':', which Basic auth cannot carry (RFC 7617" in result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr


def test_encode_without_password_source(runner: CliRunner) -> None:
    result = invoke(runner, "encode", "basic-auth", "--username", "u")
    assert result.exit_code == 2
    assert "No password: stdin is not a terminal." in result.stderr
    assert "--password-stdin" in result.stderr
    result = invoke(runner, "encode", "basic-auth", "--username", "u", "--password-stdin", input="")
    assert result.exit_code == 2
    assert "--password-stdin: standard input is empty." in result.stderr


# -------------------------------------------------------------------- profile
@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer() as server:
        yield server


@pytest.fixture
def emu(emulator: EmulatorServer) -> Iterator[EmulatorServer]:
    emulator.state.reset()
    yield emulator
    emulator.state.reset()


def fault(emu: EmulatorServer, status: int) -> None:
    response = httpx.post(
        emu.base_url + "/_faults",
        json={"path_prefix": "/resources/v2.0/environments", "status": status, "times": 1},
    )
    assert response.status_code == 201


def set_key(runner: CliRunner, url: str, key: str, *extra: str) -> Any:
    return invoke(
        runner, "profile", "set", "--region", url, "--api-key-stdin", *extra, input=key + "\n"
    )


def test_profile_set_valid_key_is_checked_then_stored(
    runner: CliRunner, memory_keyring: MemoryKeyring, emu: EmulatorServer, isolated: Path
) -> None:
    result = set_key(runner, emu.base_url, CFG.bigpanda_api_key)
    assert result.exit_code == 0, result.stderr
    assert "The key works: it sees 2 environment(s)." in result.stderr
    assert memory_keyring.entries == {ENTRY: CFG.bigpanda_api_key}
    assert CFG.bigpanda_api_key not in (isolated / "config.yaml").read_text(encoding="utf-8")
    checks = [r for r in emu.state.records() if r.path == "/resources/v2.0/environments"]
    assert len(checks) == 1
    doc = json.loads(invoke(runner, "profile", "show", "--json").stdout)
    assert doc["bigpanda"] == {
        "region": "custom",
        "api_url": emu.base_url,
        "api_key_stored": True,
        "api_key_store": "keyring",
    }
    text = invoke(runner, "profile", "show").stdout
    assert "User API key stored: yes (keyring)" in text


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (401, "BigPanda refused the API key (401: invalid or expired)."),
        (403, "The API key lacks permission to list environments (403)."),
        (429, "BigPanda is rate limiting this key (429)."),
    ],
)
def test_profile_set_refused_keys(
    runner: CliRunner,
    memory_keyring: MemoryKeyring,
    emu: EmulatorServer,
    isolated: Path,
    status: int,
    message: str,
) -> None:
    key = "wrong-key" if status == 401 else CFG.bigpanda_api_key
    if status != 401:
        fault(emu, status)
    result = set_key(runner, emu.base_url, key)
    assert result.exit_code == 6
    assert f"Error: {message}" in result.stderr
    assert "Traceback" not in result.stderr
    assert memory_keyring.entries == {}
    assert not (isolated / "config.yaml").exists()


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_profile_set_network_failure_and_no_verify(
    runner: CliRunner, memory_keyring: MemoryKeyring, closed_port: int
) -> None:
    url = f"http://127.0.0.1:{closed_port}"
    result = set_key(runner, url, "some-key")
    assert result.exit_code == 5
    assert (
        f"Cannot reach BigPanda at {url}: the connection was refused (nothing listens there)."
        in result.stderr
    )
    assert "or skip the check with --no-verify" in result.stderr
    assert memory_keyring.entries == {}
    result = set_key(runner, url, "some-key", "--no-verify")
    assert result.exit_code == 0
    assert memory_keyring.entries == {ENTRY: "some-key"}


def test_profile_set_regions(runner: CliRunner, memory_keyring: MemoryKeyring) -> None:
    for region, url in (("us", "https://api.bigpanda.io"), ("eu", "https://eu-api.bigpanda.io")):
        result = invoke(runner, "profile", "set", "--region", region, "--json")
        assert result.exit_code == 0
        assert json.loads(result.stdout)["bigpanda"] == {"region": region, "api_url": url}
    result = invoke(runner, "profile", "set", "--region", "http://bigpanda.example.com")
    assert result.exit_code == 2
    assert "must use https" in result.stderr
    result = invoke(runner, "profile", "set", "--region", "asia")
    assert result.exit_code == 2
    assert "'asia' is not a BigPanda region." in result.stderr
    assert invoke(runner, "--profile", "prod", "profile", "set").exit_code == 0
    doc = json.loads(invoke(runner, "--profile", "prod", "profile", "show", "--json").stdout)
    assert doc["bigpanda"] == {"region": "us", "api_url": "https://api.bigpanda.io"}


def test_profile_set_honours_the_secret_store_choice(
    runner: CliRunner, memory_keyring: MemoryKeyring, isolated: Path, closed_port: int
) -> None:
    url = f"http://127.0.0.1:{closed_port}"
    result = set_key(runner, url, "file-key", "--no-verify", "--insecure-storage")
    assert result.exit_code == 0, result.stderr
    assert "warning: --insecure-storage" in result.stderr
    secrets_file = isolated / "INSECURE-plaintext-secrets.json"
    assert json.loads(secrets_file.read_text())["secrets"] == {
        "default/bigpanda/api_key": "file-key"
    }
    assert secrets_file.stat().st_mode & 0o777 == 0o600
    assert memory_keyring.entries == {}
    result = set_key(runner, url, "env-key", "--no-verify", "--secret-store", "env")
    assert result.exit_code == 0
    assert "set BP_INTEGRATE_BIGPANDA_API_KEY wherever" in result.stderr
    assert json.loads(secrets_file.read_text())["secrets"] == {}  # moved: old copy removed
    assert memory_keyring.entries == {}
    assert "User API key stored: no: read from BP_INTEGRATE_BIGPANDA_API_KEY" in (
        invoke(runner, "profile", "show").stdout
    )
    result = invoke(runner, "profile", "set", "--secret-store", "env")
    assert result.exit_code == 2
    assert "Give the key too" in result.stderr


def test_profile_set_without_keyring_explains(
    runner: CliRunner, isolated: Path, closed_port: int
) -> None:
    import keyring
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        result = set_key(runner, f"http://127.0.0.1:{closed_port}", "k", "--no-verify")
    finally:
        keyring.set_keyring(previous)
    assert result.exit_code == 4
    assert "No working OS keyring" in result.stderr
    assert "--secret-store env" in result.stderr
    assert "--insecure-storage" in result.stderr
    assert not (isolated / "config.yaml").exists()


def test_profile_set_empty_key(runner: CliRunner, memory_keyring: MemoryKeyring) -> None:
    result = invoke(runner, "profile", "set", "--api-key-stdin", input="\n")
    assert result.exit_code == 2
    assert "The API key is empty." in result.stderr
