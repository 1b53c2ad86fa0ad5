"""The answers files in examples/answers/ install as their comments say.

Each file names, in its opening comment, the environment variables that carry the
secrets (`export BP_INTEGRATE_...`); this test sets exactly the required ones and
checks the exact Callback URL and headers an admin would paste.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from helpers import PD_KEY, invoke, pasted
from typer.testing import CliRunner

ANSWERS = Path(__file__).resolve().parent.parent / "examples" / "answers"
EXPORT = re.compile(r"^#\s+export (BP_INTEGRATE_[A-Z0-9_]+)=.*$")

XM_PASSWORD = "correct:horse battery"
IO_SECRET = "io-source-secret-123"
OUTAGE = "https://acme.xmatters.com/api/integration/1/functions/11111111-2222-4333-8444-555555555555/triggers"

#: The required secrets of each example, as the file's comment names them.
ENV: dict[str, dict[str, str]] = {
    "xmatters": {"BP_INTEGRATE_XMATTERS_PASSWORD": XM_PASSWORD},
    "pagerduty": {"BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY": PD_KEY},
    "incidentio": {"BP_INTEGRATE_INCIDENTIO_SECRET": IO_SECRET},
    "panopta": {"BP_INTEGRATE_PANOPTA_TRIGGER_URL": f"{OUTAGE}?apiKey=outage-key"},
    "webhook": {"BP_INTEGRATE_WEBHOOK_AUTH_HEADER": "Bearer wh-example-token"},
}

XM_TRIGGER = (
    "https://acme.xmatters.com/api/integration/1/functions/"
    "0f6c8e8a-1b2c-4d3e-8f9a-0123456789ab/triggers"
)
EXPECTED: dict[str, tuple[str, dict[str, str]]] = {
    "xmatters": (
        f"{XM_TRIGGER}?recipients=Cloud%20Devops,alice",
        {
            "Content-Type": "application/json",
            "Authorization": "Basic "
            + base64.b64encode(f"bigpanda-integration:{XM_PASSWORD}".encode()).decode(),
        },
    ),
    "pagerduty": (
        "https://events.pagerduty.com/v2/enqueue",
        {
            "x-bp-config-pdfield": "pd_routing_key",
            "x-bp-field-component": "service",
            "x-bp-field-group": "team",
            "x-bp-field-custom_details.runbook": "runbook_url",
        },
    ),
    "incidentio": (
        "https://api.incident.io/v2/alert_events/bigpanda/01HZX4Q7Y8B2V3N5M6K7J8H9G0",
        {"Content-Type": "application/json", "Authorization": f"Bearer {IO_SECRET}"},
    ),
    "panopta": (f"{OUTAGE}?apiKey=outage-key&recipients=Cloud%20Devops,alice", {}),
    "webhook": (
        "https://eda.example.com/endpoint/bigpanda",
        {
            "Content-Type": "application/json",
            "Authorization": "Bearer wh-example-token",
            "X-Team": "ops",
            "X-Source": "bigpanda",
        },
    ),
}


def documented_env(path: Path) -> tuple[set[str], set[str]]:
    """(required, optional or alternative) variables named in `# export ...` lines."""
    required: set[str] = set()
    optional: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        match = EXPORT.match(line)
        if match:
            alternative = "optional" in line or line.rstrip().endswith("# instead")
            (optional if alternative else required).add(match.group(1))
    return required, optional


def test_every_integration_has_an_example() -> None:
    from bp_integrate.integrations import NAMES

    assert sorted(p.stem for p in ANSWERS.glob("*.yaml")) == sorted(NAMES)


@pytest.mark.parametrize("name", sorted(ENV))
def test_example_installs_as_documented(
    name: str, runner: CliRunner, memory_keyring: object
) -> None:
    path = ANSWERS / f"{name}.yaml"
    required, _ = documented_env(path)
    assert required == set(ENV[name]), f"{path}: its comment names {sorted(required)}"

    result = invoke(
        runner, "install", name, "--no-input", "--answers", str(path), "--json", **ENV[name]
    )
    assert result.exit_code == 0, result.stderr

    result = invoke(runner, "show", name, "--json", "--show-secrets")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    url, headers = EXPECTED[name]
    assert doc["webhook"]["url"] == url
    assert doc["webhook"]["headers"] == headers
    if name == "pagerduty":
        assert doc["settings"]["integration_key"] == PD_KEY
    if name == "panopta":
        assert pasted(doc, "outage.payload")["fqdn"] == "$fqdn"
        assert not [i for i in doc["paste"] if i["key"].startswith("clear.")]  # one webhook

    # Masked by default: no secret in plain `show`.
    masked = invoke(runner, "show", name, "--json").stdout
    for secret in ENV[name].values():
        assert secret not in masked


def test_answers_files_hold_no_secret(runner: CliRunner, memory_keyring: object) -> None:
    """The examples are settings only; an apiKey in a URL would be a secret in a file."""
    for path in ANSWERS.glob("*.yaml"):
        body = "\n".join(
            line
            for line in path.read_text(encoding="utf-8").splitlines()
            if not line.lstrip().startswith("#")
        )
        assert "apiKey" not in body, path


def test_xmatters_url_authentication_variant(
    runner: CliRunner, memory_keyring: object, tmp_path: Path
) -> None:
    """The variant the xMatters example describes: the keyed URL from the environment."""
    import yaml

    answers = yaml.safe_load((ANSWERS / "xmatters.yaml").read_text(encoding="utf-8"))
    for key in ("trigger_url", "auth", "username"):
        del answers[key]
    path = tmp_path / "xmatters-url-auth.yaml"
    path.write_text(yaml.safe_dump(answers), encoding="utf-8")
    env = {"BP_INTEGRATE_XMATTERS_TRIGGER_URL": f"{XM_TRIGGER}?apiKey=k3y"}
    result = invoke(runner, "install", "xmatters", "--no-input", "--answers", str(path), **env)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(invoke(runner, "show", "xmatters", "--json", "--show-secrets").stdout)
    assert doc["webhook"]["url"] == f"{XM_TRIGGER}?apiKey=k3y&recipients=Cloud%20Devops,alice"
    assert doc["webhook"]["headers"] == {"Content-Type": "application/json"}
    assert ("bp-integrate", "default/xmatters/trigger_url.apiKey") in memory_keyring.entries  # type: ignore[attr-defined]
