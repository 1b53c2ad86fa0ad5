"""The client's calls for verify's set-up and maintenance step, against the emulated
BigPanda, and the Pacer's waits (Retry-After, else PagerDuty's ratelimit-reset)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest
from helpers import shares_settled

from bp_integrate.bigpanda.api import (
    APIError,
    BigPandaClient,
    Pacer,
    bpql_object,
    rate_limit_wait,
)
from bp_integrate.emulator import EmulatorConfig, EmulatorServer
from bp_integrate.errors import BPError

CFG = EmulatorConfig()
ENV = CFG.bigpanda_environments[0][0]


@pytest.fixture
def bp(emu: EmulatorServer) -> Iterator[BigPandaClient]:
    client = BigPandaClient(
        emu.base_url, CFG.bigpanda_api_key, CFG.bigpanda_org_token, pacer=Pacer(interval=0)
    )
    yield client
    client.close()


def fault(emu: EmulatorServer, prefix: str, status: int, body: object = None) -> None:
    spec = {"path_prefix": prefix, "status": status, "times": 1, "body": body}
    assert httpx.post(emu.base_url + "/_faults", json=spec).status_code == 201


# ------------------------------------------------------------------------ BPQL
def test_a_bpql_string_becomes_bpql_object_syntax() -> None:
    assert bpql_object('host = "prod-api-1"') == {"=": ["host", "prod-api-1"]}
    assert bpql_object("host = a and check = 'cpu load'") == {
        "AND": [{"=": ["host", "a"]}, {"=": ["check", "cpu load"]}]
    }
    for outside in ("", "host = a or host = b", "host != a"):
        with pytest.raises(BPError) as caught:
            bpql_object(outside)
        assert 'tag = "value"' in (caught.value.hint or "")


# ------------------------------------------------------------- environments
def test_environments_are_created_listed_and_deleted(
    emu: EmulatorServer, bp: BigPandaClient
) -> None:
    made = bp.create_environment("bp-integrate canary", 'bp_integrate_canary = "true"', "verify")
    assert made["filter"] == 'bp_integrate_canary = "true"'
    assert made["id"] in [e["id"] for e in bp.environments()]
    bp.delete_environment(made["id"])
    bp.delete_environment(made["id"])  # already gone: fine
    assert made["id"] not in [e["id"] for e in bp.environments()]
    with pytest.raises(APIError) as caught:
        bp.create_environment("x", "host = a or host = b")
    assert caught.value.status == 400
    assert "host = a or host = b" in (caught.value.hint or "")


def test_a_403_names_the_missing_permission(emu: EmulatorServer, bp: BigPandaClient) -> None:
    fault(emu, "/resources/v2.0/environments", 403, {"status": 403, "errors": ["Forbidden"]})
    with pytest.raises(APIError) as caught:
        bp.create_environment("x", "")
    assert caught.value.status == 403
    assert "Manage Environments" in (caught.value.hint or "")
    fault(emu, "/resources/v2.0/maintenance-plans", 403)
    with pytest.raises(APIError) as caught:
        bp.delete_maintenance_plan("p")
    assert "Plans (full access)" in (caught.value.hint or "")


def test_the_old_items_wrapper_is_still_read(emu: EmulatorServer, bp: BigPandaClient) -> None:
    fault(emu, "/resources/v2.0/environments", 200, {"items": [{"id": "e", "name": "E"}]})
    assert bp.environments() == [{"id": "e", "name": "E"}]


# --------------------------------------------------------- maintenance plans
def test_a_maintenance_plan_keeps_a_canary_from_being_shared(
    emu: EmulatorServer, bp: BigPandaClient
) -> None:
    values = {"url": emu.base_url + "/webhook/demo", "auth_header": "Bearer demo-webhook-token"}
    rule = {"environment_id": ENV, "integration": "webhook", "values": values}
    assert httpx.post(emu.base_url + "/_bigpanda/autoshare", json=rule).status_code == 201
    now = int(time.time())
    plan = bp.create_maintenance_plan("verify", 'host = "canary-m"', now - 60, now + 600)
    assert plan["status"] == "running"
    assert plan["condition"] == {"=": ["host", "canary-m"]}
    canary: Mapping[str, Any] = {"status": "critical", "host": "canary-m", "check": "verify"}
    assert bp.send_alerts([canary], CFG.bigpanda_app_key) == 201
    [incident] = bp.search(ENV, 'host = "canary-m"')
    assert incident["folders"] == ["maintenance"]
    shares_settled(emu)  # any share the alert scheduled is done: there was none
    assert bp.activities(incident["id"], "incident_shared") == []
    assert emu.state.snapshot()["bigpanda"]["shares"] == []
    bp.delete_maintenance_plan(plan["id"])
    bp.delete_maintenance_plan(plan["id"])  # already gone: a 404, not an error
    with pytest.raises(APIError) as caught:
        bp.create_maintenance_plan("bad", 'host = "x"', now, now - 1)
    assert caught.value.status == 400 and "end must be after start" in caught.value.message


def test_a_batch_of_exact_duplicates_is_204(bp: BigPandaClient) -> None:
    alerts: list[Mapping[str, Any]] = [
        {"status": "warning", "host": "d-1"},
        {"status": "warning", "host": "d-2"},
    ]
    assert bp.send_alerts(alerts, CFG.bigpanda_app_key) == 201
    assert bp.send_alerts(alerts, CFG.bigpanda_app_key) == 204
    with pytest.raises(APIError) as caught:
        bp.send_alerts(alerts, "not-the-app-key")
    assert caught.value.status == 400 and "--canary-app-key" in (caught.value.hint or "")


# ---------------------------------------------------------------------- Pacer
def answers(*headers: dict[str, str]) -> list[httpx.Response]:
    return [httpx.Response(429, headers=h) for h in headers] + [httpx.Response(200)]


def test_pagerduty_ratelimit_reset_is_waited_out() -> None:
    slept: list[float] = []
    queue = answers({"ratelimit-reset": "7"}, {"ratelimit-reset": "2.5"})
    pacer = Pacer(interval=0.0, sleep=slept.append)
    assert pacer.call(lambda: queue.pop(0), "Reading PagerDuty", "").status_code == 200
    assert slept == [7.0, 2.5]


def test_retry_after_wins_over_ratelimit_reset_and_doubling_is_the_last_resort() -> None:
    slept: list[float] = []
    queue = answers(
        {"Retry-After": "3", "ratelimit-reset": "9"},
        {"ratelimit-reset": "soon"},
        {},
    )
    pacer = Pacer(interval=0.0, sleep=slept.append)
    pacer.call(lambda: queue.pop(0), "x", "")
    assert slept == [3.0, 2.0, 4.0]  # the doubling goes on from the first wait's 1 s


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"ratelimit-reset": "9999"}, 60.0),
        ({"ratelimit-reset": "-1"}, 1.5),
        ({"RateLimit-Reset": "4"}, 4.0),
        ({}, 1.5),
    ],
)
def test_rate_limit_wait(headers: dict[str, str], expected: float) -> None:
    assert rate_limit_wait(httpx.Headers(headers), 1.5) == expected
