"""Every PagerDuty body bp-integrate plans is valid against PagerDuty's own OpenAPI schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import PD_KEY, cli
from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

import bp_integrate
from bp_integrate.bigpanda.events import EVENTS

SCHEMA_FILE = Path(bp_integrate.__file__).parent / "emulator" / "pagerduty-events-v2.openapi.json"
URI = "urn:pagerduty-events-v2"
POINTER = "/paths/~1enqueue/post/requestBody/content/application~1json/schema"
PLANNED = (
    "incident#new",
    "incident#updated",
    "incident#closed",
    "incident#reopen",
    "incident#become-flapping",
)


def _nullable(node: Any) -> Any:
    """OpenAPI 3.0's `nullable` as JSON Schema (the only quirk this document uses)."""
    if isinstance(node, dict):
        out = {k: _nullable(v) for k, v in node.items()}
        if out.pop("nullable", False) and isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        return out
    if isinstance(node, list):
        return [_nullable(v) for v in node]
    return node


@pytest.fixture(scope="module")
def validator() -> Draft4Validator:
    document = _nullable(json.loads(SCHEMA_FILE.read_text()))
    registry: Registry[Any] = Registry().with_resource(URI, DRAFT4.create_resource(document))
    _ = Resource  # the document is one draft-4 resource; refs resolve inside it
    return Draft4Validator({"$ref": f"{URI}#{POINTER}"}, registry=registry)


def _install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY", PD_KEY)
    result = cli(
        "install",
        "pagerduty",
        "--no-input",
        "--secret-store",
        "env",
        "--set",
        "field_map=component=check,group=service",
    )
    assert result.exit_code == 0, result.stderr


def test_schema_rejects_a_bad_event(validator: Draft4Validator) -> None:
    assert list(validator.iter_errors({"routing_key": PD_KEY, "event_action": "explode"}))
    assert not list(
        validator.iter_errors({"routing_key": PD_KEY, "event_action": "resolve", "dedup_key": "x"})
    )


@pytest.mark.parametrize("event", PLANNED)
def test_lifecycle_bodies_are_valid(
    event: str, validator: Draft4Validator, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install(monkeypatch)
    result = cli(
        "send-test",
        event,
        "--dry-run",
        "--json",
        "--show-secrets",
        "--incident-id",
        "inc-77",
        "--tag",
        "service=payments",
    )
    assert result.exit_code == 0, result.stderr
    [request] = json.loads(result.stdout)["requests"]
    body = request["body"]
    errors = [e.message for e in validator.iter_errors(body)]
    assert errors == []
    assert body["routing_key"] == PD_KEY and body["dedup_key"] == "inc-77"
    if event == "incident#closed":
        assert body["event_action"] == "resolve"
        assert "payload" not in body
    else:
        assert body["event_action"] == "trigger"
        payload = body["payload"]
        assert payload["severity"] in ("critical", "error", "warning", "info")
        assert 0 < len(payload["summary"]) <= 1024
        assert payload["group"] == "payments"  # field_map group=service


@pytest.mark.parametrize(
    "status,severity",
    [("critical", "critical"), ("warning", "warning"), ("unknown", "error"), ("ok", "info")],
)
def test_severity_enum(
    status: str, severity: str, validator: Draft4Validator, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install(monkeypatch)
    result = cli(
        "send-test", "updated", "--dry-run", "--json", "--set", f"incident.status={status}"
    )
    body = json.loads(result.stdout)["requests"][0]["body"]
    assert body["payload"]["severity"] == severity
    assert not list(validator.iter_errors(body))


def test_unmapped_events_are_skipped_with_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    _install(monkeypatch)
    for event in set(EVENTS) - set(PLANNED) - {"manual"}:
        doc = json.loads(cli("send-test", event, "--dry-run", "--json").stdout)
        assert doc["requests"] == []
        [skip] = doc["skipped"]
        assert skip["integration"] == "pagerduty" and skip["reason"]


def test_override_tag_routes_to_the_other_key(monkeypatch: pytest.MonkeyPatch) -> None:
    other = "fedcba9876543210fedcba9876543210"
    monkeypatch.setenv("BP_INTEGRATE_PAGERDUTY_INTEGRATION_KEY", PD_KEY)
    assert (
        cli(
            "install",
            "pagerduty",
            "--no-input",
            "--secret-store",
            "env",
            "--set",
            "override_tag=pd_key",
        ).exit_code
        == 0
    )
    doc = json.loads(
        cli("send-test", "new", "--dry-run", "--json", "--tag", f"pd_key={other}").stdout
    )
    body = doc["requests"][0]["body"]
    assert body["routing_key"] == "****"  # the override key is a secret too
    shown = json.loads(
        cli(
            "send-test", "new", "--dry-run", "--json", "--show-secrets", "--tag", f"pd_key={other}"
        ).stdout
    )
    assert shown["requests"][0]["body"]["routing_key"] == other


# ------------------------------------------------------------------ issue 7: what PD gets


def _install_pd(emu: Any, monkeypatch: pytest.MonkeyPatch, *sets: str) -> None:
    from helpers import install

    install(emu, "pagerduty", monkeypatch, override_tag="pd_key")
    for item in sets:
        result = cli("install", "pagerduty", "--no-input", "--no-verify", "--set", item)
        assert result.exit_code == 0, result.stderr


def test_a_dedup_key_over_255_characters_is_refused_before_sending(
    emu: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from helpers import sends

    _install_pd(emu, monkeypatch)
    result = cli("send-test", "new", "--incident-id", "x" * 256)
    assert result.exit_code == 2
    assert "PagerDuty's dedup_key takes at most 255" in result.stderr
    assert sends(emu) == []
    assert cli("send-test", "new", "--incident-id", "x" * 255).exit_code == 0


def test_the_override_key_is_never_a_custom_detail(
    emu: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = "fedcba9876543210fedcba9876543210"
    _install_pd(emu, monkeypatch)
    result = cli("send-test", "new", "--tag", f"pd_key={other}", "--tag", "team=db",
                 "--dry-run", "--json", "--show-secrets")  # fmt: skip
    [request] = json.loads(result.stdout)["requests"]
    assert request["body"]["routing_key"] == other  # it routes the event...
    details = request["body"]["payload"]["custom_details"]
    assert "pd_key" not in details["tags"] and details["tags"]["team"] == "db"  # ...only
    assert other not in json.dumps(request["body"]["payload"])


def test_field_map_style_mapping_header(emu: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _install_pd(emu, monkeypatch, "field_map=component=service,group=team")
    doc = json.loads(cli("show", "pagerduty", "--json").stdout)
    assert doc["webhook"]["headers"] == {
        "x-bp-config-pdfield": "pd_key",
        "x-bp-field-component": "service",
        "x-bp-field-group": "team",
    }
    result = cli("install", "pagerduty", "--no-input", "--no-verify",
                 "--set", "field_map_style=mapping-header")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    doc = json.loads(cli("show", "pagerduty", "--json").stdout)
    assert doc["webhook"]["headers"] == {
        "x-bp-config-pdfield": "pd_key",
        "x-bp-mapping-fields": "service=component,team=group",
    }
    bad = cli("install", "pagerduty", "--no-input", "--no-verify",
              "--set", "field_map_style=both")  # fmt: skip
    assert bad.exit_code == 2 and "per-field, mapping-header" in bad.stderr


@pytest.mark.parametrize(
    ("body", "refused"),
    [
        ({"incident": "x"}, "incident is a string, not an object"),
        ({"incident": {"id": "a", "alerts": ["x", 5]}}, "incident.alerts[0] is a string"),
        ({"alerts": [{"tags": [1]}]}, None),
    ],
)
def test_a_hand_edited_payload_of_any_shape_is_planned_or_refused_not_crashed(
    body: dict[str, Any],
    refused: str | None,
    tmp_path: Path,
    emu: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An incident or an alert that is not an object is refused where the file is read,
    naming the place (issue 20); any other odd shape is planned as it is."""
    from helpers import install

    install(emu, "pagerduty", monkeypatch)
    path = tmp_path / "p.json"
    path.write_text(json.dumps(body))
    result = cli("send-test", "new", "--payload", str(path), "--dry-run", "--json")
    if refused is not None:
        assert result.exit_code == 2 and refused in result.stderr, result.stderr
        assert "unexpected" not in result.stderr.lower()
        return
    assert result.exit_code == 0, result.stderr
    [request] = json.loads(result.stdout)["requests"]
    assert request["body"]["event_action"] == "trigger"
