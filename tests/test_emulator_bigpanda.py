"""The emulated BigPanda's behaviour: environments with filters, AutoShare within an
environment, the Alerts API's batch form, activities, and maintenance plans."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from helpers import shares_settled

from bp_integrate.emulator import EmulatorConfig, EmulatorServer

CFG = EmulatorConfig()
ENV = CFG.bigpanda_environments[0][0]
USER = {"Authorization": f"Bearer {CFG.bigpanda_api_key}"}
ORG = {"Authorization": f"Bearer {CFG.bigpanda_org_token}"}
ENVS = "/resources/v2.0/environments"
PLANS = "/resources/v2.0/maintenance-plans"


@pytest.fixture
def client(emu: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.base_url, timeout=10) as c:
        yield c


def alert(host: str, status: str = "critical", **tags: str) -> dict[str, Any]:
    return {"app_key": CFG.bigpanda_app_key, "status": status, "host": host, "check": "c", **tags}


def webhook_rule(emu: EmulatorServer, environment_id: str, **extra: Any) -> dict[str, Any]:
    values = {"url": emu.base_url + "/webhook/demo", "auth_header": "Bearer demo-webhook-token"}
    return {"environment_id": environment_id, "integration": "webhook", "values": values, **extra}


def settled(emu: EmulatorServer, check: Callable[[], Any]) -> Any:
    """`check()` once every share scheduled so far is done (helpers.shares_settled)."""
    shares_settled(emu)
    return check()


def incident_of(client: httpx.Client, env: str, host: str) -> dict[str, Any]:
    r = client.get(f"{ENVS}/{env}/incidents", params={"query": f'host = "{host}"'}, headers=USER)
    assert r.status_code == 200, r.text
    [found] = r.json()["items"]
    return dict(found)


def activities(client: httpx.Client, incident_id: str, **params: str) -> list[dict[str, Any]]:
    r = client.get(
        f"/resources/v2.0/incidents/{incident_id}/activities", params=params, headers=USER
    )
    assert r.status_code == 200, r.text
    return list(r.json())


def webhook_bodies(emu: EmulatorServer) -> int:
    return sum(r["received"] for r in emu.state.snapshot()["webhook"]["receivers"])


def shares(emu: EmulatorServer) -> list[dict[str, Any]]:
    return list(emu.state.snapshot()["bigpanda"]["shares"])


# ---------------------------------------------------------------- environments
def test_environments_are_created_read_updated_and_deleted(client: httpx.Client) -> None:
    r = client.post(
        ENVS, json={"name": "Canary", "filter": 'bp_integrate_canary = "true"'}, headers=USER
    )
    assert r.status_code == 200
    created = r.json()
    assert created["filter"] == 'bp_integrate_canary = "true"'
    assert created["id"] in [e["id"] for e in client.get(ENVS, headers=USER).json()]
    one = f"{ENVS}/{created['id']}"
    r = client.patch(one, json={"name": "Canary", "description": "verify"}, headers=USER)
    assert (r.status_code, r.json()["description"]) == (202, "verify")
    assert client.get(one, headers=USER).json()["description"] == "verify"
    assert client.delete(one, headers=USER).json() == {"status": 200, "data": {}}
    r = client.get(one, headers=USER)
    assert (r.status_code, r.json()["status"]) == (404, 404)
    bad = client.post(ENVS, json={"name": "x", "filter": "host = a or host = b"}, headers=USER)
    assert bad.status_code == 400 and "BPQL" in bad.json()["errors"][0]
    assert client.post(ENVS, json={"filter": ""}, headers=USER).status_code == 400


def test_an_environment_holds_only_the_incidents_its_filter_matches(client: httpx.Client) -> None:
    canary = client.post(
        ENVS, json={"name": "Canary", "filter": "bp_integrate_canary = true"}, headers=USER
    ).json()["id"]
    client.post("/data/v2/alerts", json=alert("canary-1", bp_integrate_canary="true"), headers=ORG)
    client.post("/data/v2/alerts", json=alert("real-1"), headers=ORG)
    everything = client.get(f"{ENVS}/{ENV}/incidents", headers=USER).json()
    assert everything["total"] == 2  # the demo environments match every incident
    assert client.get(f"{ENVS}/{canary}/incidents", headers=USER).json()["total"] == 1
    found = incident_of(client, canary, "canary-1")
    assert sorted(found["environments"]) == sorted([ENV, CFG.bigpanda_environments[1][0], canary])
    r = client.get(f"{ENVS}/{canary}/incidents", params={"query": 'host = "real-1"'}, headers=USER)
    assert r.json() == {"total": 0, "items": []}
    real = incident_of(client, ENV, "real-1")
    assert client.get(f"{ENVS}/{canary}/incidents/{real['id']}", headers=USER).status_code == 404


def test_autoshare_shares_only_incidents_of_its_environment(
    emu: EmulatorServer, client: httpx.Client
) -> None:
    canary = client.post(
        ENVS, json={"name": "Canary", "filter": 'bp_integrate_canary = "true"'}, headers=USER
    ).json()["id"]
    rule = webhook_rule(emu, canary, bigpanda_name="incidentio")
    r = client.post("/_bigpanda/autoshare", json=rule)
    assert (r.status_code, r.json()["bigpanda_name"]) == (201, "incidentio")
    client.post("/data/v2/alerts", json=alert("real-2"), headers=ORG)
    client.post("/data/v2/alerts", json=alert("canary-2", bp_integrate_canary="true"), headers=ORG)
    [share] = settled(emu, lambda: shares(emu))
    assert share["share_target"] == "webhook.incidentio"
    found = incident_of(client, canary, "canary-2")
    assert share["incident_id"] == found["id"]
    [shared] = settled(emu, lambda: activities(client, found["id"], types="incident_shared"))
    assert shared["params"] == {"share_target": "webhook.incidentio", "share_auto": True}
    real = incident_of(client, ENV, "real-2")
    assert activities(client, real["id"], types="incident_shared") == []
    assert incident_of(client, canary, "canary-2")["shared"] is True


# ---------------------------------------------------------------------- alerts
def test_the_batch_form_and_access_token_are_taken(client: httpx.Client) -> None:
    batch = {
        "app_key": CFG.bigpanda_app_key,
        "alerts": [{"status": "critical", "host": "b-1"}, {"status": "warning", "host": "b-2"}],
    }
    r = client.post("/data/v2/alerts", json=batch, headers=ORG)
    assert r.status_code == 201
    assert client.post("/data/v2/alerts", json=batch, headers=ORG).status_code == 204
    r = client.post(
        "/data/v2/alerts", params={"access_token": CFG.bigpanda_org_token}, json=alert("q-1")
    )
    assert r.status_code == 201
    r = client.post("/data/v2/alerts", params={"access_token": "wrong"}, json=alert("q-2"))
    assert r.json() == {"status": 401, "errors": ["Unauthorized"]}
    got = client.get(f"{ENVS}/{ENV}/incidents", headers=USER).json()
    assert got["total"] == 3
    assert {i["status"] for i in got["items"]} == {"Critical", "Warning"}


def test_a_batch_with_one_bad_alert_is_refused_whole(client: httpx.Client) -> None:
    batch = {
        "app_key": CFG.bigpanda_app_key,
        "alerts": [{"status": "critical", "host": "ok-1"}, {"status": "bad", "host": "x"}],
    }
    r = client.post("/data/v2/alerts", json=batch, headers=ORG)
    assert r.status_code == 400
    assert r.json()["errors"][0].startswith("alerts[1]: status must be one of")
    assert client.get(f"{ENVS}/{ENV}/incidents", headers=USER).json()["total"] == 0
    r = client.post("/data/v2/alerts", json={**batch, "app_key": "nope"}, headers=ORG)
    assert r.status_code == 400
    r = client.post("/data/v2/alerts", json={"status": "critical", "service": "s"}, headers=ORG)
    assert r.status_code == 400  # no app_key


def test_the_primary_property_may_be_another_tag(client: httpx.Client) -> None:
    body = {**alert("unused"), "primary_property": "service", "service": "billing"}
    del body["host"]
    assert client.post("/data/v2/alerts", json=body, headers=ORG).status_code == 201
    found = client.get(
        f"{ENVS}/{ENV}/incidents", params={"query": 'service = "billing"'}, headers=USER
    ).json()
    assert found["total"] == 1


# ------------------------------------------------------------------ activities
def test_activities_are_documented_newest_first_and_paged(
    emu: EmulatorServer, client: httpx.Client
) -> None:
    client.post("/_bigpanda/autoshare", json=webhook_rule(emu, ENV))
    client.post("/data/v2/alerts", json=alert("a-1"), headers=ORG)
    found = incident_of(client, ENV, "a-1")
    shares_settled(emu)
    one = f"{ENVS}/{ENV}/incidents/{found['id']}"
    assert client.post(one + "/comments", json={"comment": "seen"}, headers=USER).status_code == 204
    client.post("/data/v2/alerts", json=alert("a-1", "ok"), headers=ORG)
    got = activities(client, found["id"])
    assert [a["type"] for a in got] == [
        "incident_resolved_by_alerts",
        "incident_commented",
        "incident_shared",
        "incident_created",
    ]
    assert got[1]["params"] == {"comment": "seen"}
    assert [a["type"] for a in activities(client, found["id"], per_page="1", page="2")] == [
        "incident_commented"
    ]
    assert activities(client, found["id"], types="incident_created,incident_commented")[0][
        "type"
    ] == ("incident_commented")
    closed = client.get(one, headers=USER).json()
    assert (closed["status"], closed["severity"], closed["active"]) == ("Ok", "Critical", False)
    assert isinstance(closed["end"], int)
    # The close is shared too (an update to the share: no activity type of its own).
    assert settled(emu, lambda: [s for s in shares(emu) if s["event"] == "incident#closed"])
    r = client.get(f"/resources/v2.0/incidents/{found['id']}/activities?page=0", headers=USER)
    assert r.status_code == 400


def test_resolving_through_the_api_closes_the_incident(client: httpx.Client) -> None:
    client.post("/data/v2/alerts", json=alert("r-1"), headers=ORG)
    found = incident_of(client, ENV, "r-1")
    one = f"{ENVS}/{ENV}/incidents/{found['id']}"
    assert client.post(one + "/resolve", json={}, headers=USER).status_code == 400
    r = client.post(one + "/resolve", json={"comments": "done"}, headers=USER)
    assert r.json() == {"status": 202, "data": {}}
    assert client.get(one, headers=USER).json()["active"] is False
    [resolved] = activities(client, found["id"], types="incident_resolved_api")
    assert resolved["params"] == {"annotation": "done"}


# ----------------------------------------------------------- maintenance plans
def plan_body(condition: dict[str, Any], start: int, end: int) -> dict[str, Any]:
    return {"name": "maint", "condition": condition, "start": start, "end": end}


def test_an_alert_in_maintenance_makes_an_incident_that_is_not_shared(
    emu: EmulatorServer, client: httpx.Client
) -> None:
    client.post("/_bigpanda/autoshare", json=webhook_rule(emu, ENV))
    now = int(time.time())
    condition = {"=": ["host", "m-1"]}
    r = client.post(PLANS, json=plan_body(condition, now - 60, now + 600), headers=USER)
    assert r.status_code == 201
    plan = r.json()
    assert (plan["status"], plan["condition"]) == ("running", condition)
    client.post("/data/v2/alerts", json=alert("m-1"), headers=ORG)
    client.post("/data/v2/alerts", json=alert("free-1"), headers=ORG)
    shares_settled(emu)  # done: free-1's share, and m-1's too had it been scheduled
    assert [s["incident_id"] for s in shares(emu)] == [incident_of(client, ENV, "free-1")["id"]]
    assert webhook_bodies(emu) == 1
    held = incident_of(client, ENV, "m-1")
    assert held["folders"] == ["maintenance"] and held["shared"] is False
    assert held["maintenance"] == {"plan_ids": [plan["id"]]}
    assert activities(client, held["id"], types="incident_shared") == []
    in_folder = client.get(
        f"{ENVS}/{ENV}/incidents", params={"folder": "maintenance"}, headers=USER
    ).json()
    assert [i["id"] for i in in_folder["items"]] == [held["id"]]
    # Stopped, the next update takes the incident out of maintenance: now it is shared.
    assert client.post(f"{PLANS}/{plan['id']}/stop", headers=USER).status_code == 204
    assert client.get(f"{PLANS}/{plan['id']}", headers=USER).json()["status"] == "done"
    client.post("/data/v2/alerts", json=alert("m-1", "warning"), headers=ORG)
    assert settled(emu, lambda: activities(client, held["id"], types="incident_shared"))


def test_plan_conditions_and_windows(emu: EmulatorServer, client: httpx.Client) -> None:
    now = int(time.time())
    later = plan_body({"=": ["host", "p-1"]}, now + 600, now + 1200)
    assert client.post(PLANS, json=later, headers=USER).json()["status"] == "planned"
    wildcard = plan_body(
        {"AND": [{"=": ["HOST", {"type": "regex", "value": "w-*"}]}, {"IN": ["check", ["c"]]}]},
        now - 10,
        now + 600,
    )
    assert client.post(PLANS, json=wildcard, headers=USER).status_code == 201
    client.post("/data/v2/alerts", json=alert("p-1"), headers=ORG)
    client.post("/data/v2/alerts", json=alert("w-7"), headers=ORG)
    assert incident_of(client, ENV, "p-1")["folders"] == ["active"]  # not started yet
    assert incident_of(client, ENV, "w-7")["folders"] == ["maintenance"]
    for bad in (
        {**later, "condition": "host = p-1"},
        {**later, "condition": {"LIKE": ["host", "x"]}},
        {**later, "end": later["start"]},
        {**later, "frequency": "daily"},
        {"name": "x"},
    ):
        r = client.post(PLANS, json=bad, headers=USER)
        assert r.status_code == 400 and r.json()["status"] == 400, bad
    listed = client.get(
        "/resources/v2.0/ordered-maintenance-plans", params={"status": "planned"}, headers=USER
    ).json()
    assert [p["name"] for p in listed] == ["maint"]


def test_a_running_plan_changes_only_its_end(client: httpx.Client) -> None:
    now = int(time.time())
    body = plan_body({"=": ["host", "e-1"]}, now - 10, now + 600)
    plan = client.post(PLANS, json=body, headers=USER).json()
    one = f"{PLANS}/{plan['id']}"
    assert client.patch(one, json={**body, "name": "other"}, headers=USER).status_code == 400
    assert client.patch(one, json={**body, "end": now + 900}, headers=USER).status_code == 204
    assert client.get(one, headers=USER).json()["end"] == now + 900
    assert client.delete(one, headers=USER).status_code == 204
    assert client.delete(one, headers=USER).status_code == 404
    assert client.post(one + "/stop", headers=USER).status_code == 404
