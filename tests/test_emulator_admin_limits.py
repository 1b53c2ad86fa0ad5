"""What the emulator's admin APIs make is bounded: past MAX_ADMIN_OBJECTS of a kind a
create is refused in the vendor's error shape (and recorded as invalid), while changing
or deleting what exists still works. Through a real server, with the limit lowered."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bp_integrate.emulator import EmulatorConfig, EmulatorServer, bigpanda, incidentio, pagerduty
from bp_integrate.integrations import webhook_v2

LIMIT = 3
CFG = EmulatorConfig()
USER = {"Authorization": f"Bearer {CFG.bigpanda_api_key}"}
PAGERDUTY = {
    "Authorization": f"Token token={CFG.settings('pagerduty').pagerduty_rest_api_key}",
}
INCIDENTIO = {"Authorization": f"Bearer {CFG.incidentio_api_key}"}
PLANS = "/resources/v2.0/maintenance-plans"
V2 = "/resources/v2.1/integrations"


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[httpx.Client]:
    for module in (bigpanda, incidentio, pagerduty):
        monkeypatch.setattr(module, "MAX_ADMIN_OBJECTS", LIMIT)
    with EmulatorServer() as emu, httpx.Client(base_url=emu.base_url, timeout=10) as c:
        yield c


def _refused(answer: httpx.Response, status: int) -> str:
    assert answer.status_code == status, answer.text
    text = answer.text
    assert f"the emulator keeps at most {LIMIT} " in text
    assert "POST /_reset" in text
    return text


def _last_record(client: httpx.Client) -> dict[str, Any]:
    record: dict[str, Any] = client.get("/_received").json()[-1]
    return record


def test_maintenance_plans_past_the_limit_are_refused_and_changes_still_work(
    client: httpx.Client,
) -> None:
    now = int(time.time())
    body = {"name": "m", "condition": {"=": ["host", "h"]}, "start": now - 60, "end": now + 600}
    made = [client.post(PLANS, json=body, headers=USER) for _ in range(LIMIT)]
    assert [r.status_code for r in made] == [201] * LIMIT
    assert _refused(client.post(PLANS, json=body, headers=USER), 400).startswith('{"status":400')
    assert _last_record(client)["valid"] is False
    first = made[0].json()["id"]
    stopped = client.post(f"{PLANS}/{first}/stop", headers=USER)  # a change at the limit
    assert stopped.status_code == 204
    assert client.delete(f"{PLANS}/{first}", headers=USER).status_code == 204
    assert client.post(PLANS, json=body, headers=USER).status_code == 201  # room again


def test_webhook_v2_integrations_past_the_limit_are_refused(client: httpx.Client) -> None:
    def body(name: str) -> dict[str, Any]:
        values = {
            "name": name,
            "base_url": "https://tickets.example.com/hook",
            "authorization": "Bearer t",
        }
        return webhook_v2.create_body(values)

    made = [client.post(V2, json=body(f"tix{n}"), headers=USER) for n in range(LIMIT)]
    assert [r.status_code for r in made] == [201] * LIMIT, made[-1].text
    _refused(client.post(V2, json=body("one-more"), headers=USER), 400)
    ident = webhook_v2.integration_id("tix0")
    update = {"workflow_config": body("tix0")["workflow_config"]}
    assert client.patch(f"{V2}/{ident}", json=update, headers=USER).status_code == 200


def test_autoshare_rules_past_the_limit_are_refused(client: httpx.Client) -> None:
    rule = {
        "environment_id": CFG.bigpanda_environments[0][0],
        "integration": "webhook",
        "values": {"url": "http://127.0.0.1:9/webhook/demo", "auth_header": "Bearer t"},
    }
    made = [client.post("/_bigpanda/autoshare", json=rule) for _ in range(LIMIT)]
    assert [r.status_code for r in made] == [201] * LIMIT, made[-1].text
    _refused(client.post("/_bigpanda/autoshare", json=rule), 400)


def test_incidentio_alert_sources_past_the_limit_are_refused(client: httpx.Client) -> None:
    from bp_integrate.integrations.incidentio import SOURCE_TYPE, TEMPLATE

    body = {"name": "BigPanda", "source_type": SOURCE_TYPE, "template": TEMPLATE}
    # The demo source is seeded: it counts.
    answers = [client.post("/v2/alert_sources", json=body, headers=INCIDENTIO) for _ in range(5)]
    codes = [r.status_code for r in answers]
    assert codes[: LIMIT - 1] == [200] * (LIMIT - 1) and 422 in codes, codes
    refused = answers[codes.index(422)].json()
    assert refused["type"] == "validation_error"
    assert f"at most {LIMIT} alert sources" in refused["errors"][0]["message"]


def test_pagerduty_service_integrations_past_the_limit_are_refused(client: httpx.Client) -> None:
    service = pagerduty.service_id_of("Checkout")
    body = {
        "integration": {
            "type": "events_api_v2_inbound_integration",
            "name": "BigPanda",
            "service": {"id": service, "type": "service_reference"},
        }
    }
    url = f"/services/{service}/integrations"
    made = [client.post(url, json=body, headers=PAGERDUTY) for _ in range(LIMIT)]
    assert [r.status_code for r in made] == [201] * LIMIT, made[-1].text
    refused = client.post(url, json=body, headers=PAGERDUTY)
    _refused(refused, 400)
    assert refused.json()["error"]["code"] == 2001  # PagerDuty's "Invalid Input Provided"
