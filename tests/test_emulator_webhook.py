"""The emulated generic webhook receiver: found by the registry, checks its header."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from bp_integrate.emulator import EmulatorConfig, EmulatorServer, targets
from bp_integrate.emulator.webhook import WebhookState

TOKEN = "Bearer demo-webhook-token"
BODY = {"incident": {"id": "inc-9", "status": "critical"}, "metadata": {"environment_id": "e"}}


@pytest.fixture
def client(emu: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.base_url, timeout=5) as c:
        yield c


def test_the_registry_finds_it_and_hands_out_its_url(emu: EmulatorServer) -> None:
    assert "webhook" in [t.name for t in targets()]
    assert emu.urls["webhook"] == emu.base_url + "/webhook/demo"
    values = next(t for t in targets() if t.name == "webhook").install_values(
        emu.base_url, emu.config
    )
    assert values == {"webhook": {"url": emu.base_url + "/webhook/demo", "auth_header": TOKEN}}


def test_accepts_any_json_with_the_right_header(emu: EmulatorServer, client: httpx.Client) -> None:
    first = client.post("/webhook/demo", json=BODY, headers={"Authorization": TOKEN})
    assert first.status_code == 202
    assert first.json() == {"status": "accepted", "receiver_id": "demo", "received": 1}
    second = client.post("/webhook/demo", json=[1, 2], headers={"Authorization": TOKEN})
    assert second.json()["received"] == 2
    assert emu.state.target(WebhookState).webhook_bodies("demo") == [BODY, [1, 2]]
    record = emu.state.records()[0]
    assert (record.target, record.route, record.key, record.valid) == (
        "webhook",
        "webhook_receive",
        "inc-9",
        True,
    )
    assert "demo-webhook-token" not in repr(record.to_json())
    assert emu.state.snapshot()["webhook"]["receivers"][0]["received"] == 2


@pytest.mark.parametrize("header", [None, "Bearer wrong", "demo-webhook-token"])
def test_refuses_a_wrong_or_missing_header(
    emu: EmulatorServer, client: httpx.Client, header: str | None
) -> None:
    headers = {"Authorization": header} if header else {}
    r = client.post("/webhook/demo", json=BODY, headers=headers)
    assert r.status_code == 401
    assert emu.state.target(WebhookState).webhook_bodies("demo") == []


def test_a_body_that_is_not_json_is_400(client: httpx.Client) -> None:
    r = client.post("/webhook/demo", content=b"{nope", headers={"Authorization": TOKEN})
    assert r.status_code == 400
    assert "not valid JSON" in r.json()["message"]


def test_no_header_required_when_configured_so() -> None:
    with (
        EmulatorServer(config=EmulatorConfig(webhook_auth_header="")) as emu,
        httpx.Client(base_url=emu.base_url, timeout=5) as c,
    ):
        assert c.post("/webhook/any-id", json=BODY).status_code == 202
        assert emu.state.target(WebhookState).webhook_bodies("any-id") == [BODY]


def test_the_event_is_read_from_any_envelope(emu: EmulatorServer, client: httpx.Client) -> None:
    shares = [
        {"metadata": {"event": "incident#new"}, "incident": {"id": "i-1"}},  # the default share
        {"event_type": "incident#closed", "incident": {"id": "i-1"}},
    ]
    for body in shares:
        client.post("/webhook/demo", json=body, headers={"Authorization": TOKEN})
    assert [r.action for r in emu.state.records()] == ["incident#new", "incident#closed"]
