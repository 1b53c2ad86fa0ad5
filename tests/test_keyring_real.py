"""Secrets in the real OS keyring (Secret Service), end to end through the CLI.

These run only where a Secret Service keyring is reachable and unlocked; elsewhere they
skip with the reason. CI runs them inside a private D-Bus session with an unlocked
GNOME Keyring (see .ci/run) and sets BP_INTEGRATE_REQUIRE_KEYRING=1, which turns the
skip into a failure so the keyring path cannot silently stop being tested.

The keyring is real and shared with the machine, so every test uses its own profile
name (a fresh uuid) and removes every entry it may have made.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from helpers import PD_KEY, XM_URL, invoke
from typer.testing import CliRunner

from bp_integrate.secrets import env_var

pytestmark = pytest.mark.keyring

SERVICE = "bp-integrate"
# Read at import: the autouse `isolated` fixture clears BP_INTEGRATE_* for each test.
REQUIRE = os.environ.get("BP_INTEGRATE_REQUIRE_KEYRING") == "1"
PROBE_TIMEOUT = 20.0


def _probe() -> tuple[object | None, str | None]:
    """(the Secret Service backend, None) if it works; otherwise (None, why not)."""
    try:
        from keyring.backends import SecretService
    except ImportError as exc:  # pragma: no cover - keyring is a dependency
        return None, f"keyring is not importable: {exc}"
    # Built by name, not by keyring.get_keyring(): the tests' MemoryKeyring (conftest)
    # registers itself as a backend with a higher priority and would be chosen instead.
    if not SecretService.Keyring.viable:
        try:
            SecretService.Keyring.priority  # noqa: B018 - raises with the reason
        except Exception as exc:
            return None, f"Secret Service is not available ({exc})"
        return None, "Secret Service is not available"
    backend = SecretService.Keyring()
    entry = f"probe/{uuid.uuid4().hex}"
    value = uuid.uuid4().hex
    box: dict[str, object] = {}

    def round_trip() -> None:
        try:
            backend.set_password(SERVICE, entry, value)
            box["read"] = backend.get_password(SERVICE, entry)
            backend.delete_password(SERVICE, entry)
            box["after"] = backend.get_password(SERVICE, entry)
        except Exception as exc:
            box["error"] = f"{type(exc).__name__}: {exc}"

    # A locked keyring can wait forever for a desktop prompt: bound the probe.
    worker = threading.Thread(target=round_trip, daemon=True)
    worker.start()
    worker.join(PROBE_TIMEOUT)
    if worker.is_alive():
        return None, f"the Secret Service did not answer within {PROBE_TIMEOUT:g} s (locked?)"
    if "error" in box:
        return None, f"a set/get/delete round trip failed ({box['error']}); is it unlocked?"
    if box.get("read") != value or box.get("after") is not None:
        return None, "a set/get/delete round trip did not read back what it wrote"
    return backend, None


@pytest.fixture(scope="module")
def secret_service() -> Iterator[None]:
    """The real Secret Service as the keyring for these tests (skip, or fail in CI)."""
    import keyring

    backend, reason = _probe()
    if backend is None:
        if REQUIRE:
            pytest.fail(f"BP_INTEGRATE_REQUIRE_KEYRING=1 but no usable keyring: {reason}")
        pytest.skip(f"no unlocked Secret Service keyring: {reason}")
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    yield
    keyring.set_keyring(previous)


@pytest.fixture
def profile(secret_service: None) -> Iterator[str]:
    """A profile name no other run uses; its keyring entries are removed afterwards."""
    import keyring

    name = f"kr-{uuid.uuid4().hex[:12]}"
    yield name
    fields = {
        "xmatters": ("password", "app_key", "trigger_url.apiKey"),
        "pagerduty": ("integration_key", "app_key"),
        "incidentio": ("secret", "bigpanda_api_key", "app_key"),
    }
    for integration, names in fields.items():
        for field in names:
            key = f"{name}/{integration}/{field}"
            try:
                if keyring.get_password(SERVICE, key) is not None:
                    keyring.delete_password(SERVICE, key)
            except Exception:
                pass


def fresh_secret(label: str) -> str:
    """A value that cannot occur by chance in any file (so a find means a leak)."""
    return f"{label}-{uuid.uuid4().hex}"


def stored(profile: str, integration: str, field: str) -> str | None:
    import keyring

    value: str | None = keyring.get_password(SERVICE, f"{profile}/{integration}/{field}")
    return value


def assert_not_in_files(root: Path, secrets: list[str]) -> None:
    """No secret, raw, URL-encoded or base64'd, in any file under `root`."""
    needles = {s.encode() for s in secrets} | {quote(s, safe="").encode() for s in secrets}
    needles |= {base64.b64encode(s.encode()) for s in secrets}
    files = [p for p in root.rglob("*") if p.is_file()]
    assert files, f"expected the install to write files under {root}"
    for path in files:
        data = path.read_bytes()
        for needle in needles:
            assert needle not in data, f"a secret was written to {path}"


def show_json(runner: CliRunner, profile: str, integration: str, *extra: str) -> dict:
    result = invoke(runner, "--profile", profile, "show", integration, "--json", *extra)
    assert result.exit_code == 0, result.stderr
    doc: dict = json.loads(result.stdout)
    return doc


def test_xmatters_basic_auth_secrets_live_in_the_keyring(
    runner: CliRunner, profile: str, tmp_path: Path
) -> None:
    password = fresh_secret("pw:with:colons")
    app_key = fresh_secret("appkey")
    result = invoke(
        runner,
        "--profile",
        profile,
        "install",
        "xmatters",
        "--no-input",
        "--set",
        f"trigger_url={XM_URL}",
        "--set",
        "auth=basic",
        "--set",
        "username=bp-integration",
        "--set",
        "recipients=Cloud Devops",
        **{
            env_var("xmatters", "password", profile): password,
            env_var("xmatters", "app_key", profile): app_key,
        },
    )
    assert result.exit_code == 0, result.stderr
    assert stored(profile, "xmatters", "password") == password
    assert stored(profile, "xmatters", "app_key") == app_key
    header = "Basic " + base64.b64encode(f"bp-integration:{password}".encode()).decode()
    assert_not_in_files(tmp_path, [password, app_key, header.split(" ", 1)[1]])

    masked = show_json(runner, profile, "xmatters")
    assert masked["secret_store"] == "keyring"
    assert masked["webhook"]["headers"]["Authorization"] == "Basic ****"
    assert masked["settings"]["password"] == "****"
    full = show_json(runner, profile, "xmatters", "--show-secrets")
    assert full["webhook"]["headers"]["Authorization"] == header
    assert full["webhook"]["url"] == f"{XM_URL}?recipients=Cloud%20Devops"
    assert full["settings"]["password"] == password

    # The profile's own variable wins over the stored secret (a named profile never
    # reads the shared BP_INTEGRATE_XMATTERS_PASSWORD), and says so.
    other = fresh_secret("from-env")
    result = invoke(
        runner,
        "--profile",
        profile,
        "show",
        "xmatters",
        "--json",
        "--show-secrets",
        **{env_var("xmatters", "password", profile): other},
    )
    assert json.loads(result.stdout)["settings"]["password"] == other
    assert env_var("xmatters", "password", profile) in result.stderr
    assert stored(profile, "xmatters", "password") == password

    result = invoke(runner, "--profile", profile, "uninstall", "xmatters", "--yes")
    assert result.exit_code == 0, result.stderr
    assert f"keyring entry {profile}/xmatters/password" in result.stdout
    assert stored(profile, "xmatters", "password") is None
    assert stored(profile, "xmatters", "app_key") is None


def test_xmatters_url_api_key_is_split_into_the_keyring(
    runner: CliRunner, profile: str, tmp_path: Path
) -> None:
    api_key = fresh_secret("k+y/=")  # characters that URL-encoding changes
    url = f"{XM_URL}?apiKey={quote(api_key, safe='')}"
    result = invoke(
        runner,
        "--profile",
        profile,
        "install",
        "xmatters",
        "--no-input",
        **{env_var("xmatters", "trigger_url", profile): url},
    )
    assert result.exit_code == 0, result.stderr
    assert api_key not in result.stdout + result.stderr
    assert stored(profile, "xmatters", "trigger_url.apiKey") == api_key
    assert_not_in_files(tmp_path, [api_key])
    config_text = (tmp_path / "config" / "config.yaml").read_text()
    assert "apiKey=****" in config_text

    masked = show_json(runner, profile, "xmatters")
    assert masked["webhook"]["url"] == f"{XM_URL}?apiKey=****"
    full = show_json(runner, profile, "xmatters", "--show-secrets")
    assert full["webhook"]["url"] == url

    result = invoke(runner, "--profile", profile, "uninstall", "xmatters", "--yes")
    assert result.exit_code == 0, result.stderr
    assert stored(profile, "xmatters", "trigger_url.apiKey") is None


def test_pagerduty_and_incidentio_keys_round_trip(
    runner: CliRunner, profile: str, tmp_path: Path
) -> None:
    secret = fresh_secret("iosecret")
    result = invoke(
        runner,
        "--profile",
        profile,
        "install",
        "pagerduty",
        "--no-input",
        **{env_var("pagerduty", "integration_key", profile): PD_KEY},
    )
    assert result.exit_code == 0, result.stderr
    result = invoke(
        runner,
        "--profile",
        profile,
        "install",
        "incidentio",
        "--no-input",
        "--set",
        "callback_url=https://api.incident.io/v2/alert_events/bigpanda/01HX",
        **{env_var("incidentio", "secret", profile): secret},
    )
    assert result.exit_code == 0, result.stderr
    assert stored(profile, "pagerduty", "integration_key") == PD_KEY
    assert stored(profile, "incidentio", "secret") == secret
    assert_not_in_files(tmp_path, [PD_KEY, secret])
    full = show_json(runner, profile, "incidentio", "--show-secrets")
    assert full["webhook"]["headers"]["Authorization"] == f"Bearer {secret}"
    assert (
        show_json(runner, profile, "pagerduty", "--show-secrets")["settings"]["integration_key"]
        == PD_KEY
    )

    for name in ("pagerduty", "incidentio"):
        result = invoke(runner, "--profile", profile, "uninstall", name, "--yes")
        assert result.exit_code == 0, result.stderr
    assert stored(profile, "pagerduty", "integration_key") is None
    assert stored(profile, "incidentio", "secret") is None
