"""The emulated incident.io alert source as incident.io documents it and its SDK reads it."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest

from bp_integrate.emulator import INCIDENTIO_SOURCE_ID, EmulatorConfig, EmulatorServer

SECRET = EmulatorConfig().incidentio_secret
BODY = {"event_type": "incident#new", "incident": {"id": "inc-7", "status": "critical"}}


@pytest.fixture
def client(emu: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.base_url, timeout=5) as c:
        yield c


def path(source_type: str = "big_panda") -> str:
    return f"/v2/alert_events/{source_type}/{INCIDENTIO_SOURCE_ID}"


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.mark.parametrize("source_type", ["big_panda", "bigpanda"])
@pytest.mark.parametrize(
    ("headers", "params"),
    [
        ({"Authorization": f"Bearer {SECRET}"}, {}),
        (basic("anyone", SECRET), {}),
        (basic("", SECRET), {}),
        ({}, {"token": SECRET}),
    ],
    ids=["bearer", "basic", "basic-no-user", "token-query"],
)
def test_every_documented_way_to_send_the_secret_is_accepted(
    emu: EmulatorServer,
    client: httpx.Client,
    source_type: str,
    headers: dict[str, str],
    params: dict[str, str],
) -> None:
    r = client.post(path(source_type), json=BODY, headers=headers, params=params)
    assert r.status_code == 202, r.text
    assert r.json()["deduplication_key"] == "inc-7"
    record = emu.state.records()[-1]
    assert record.valid
    assert SECRET not in repr(record.to_json())


@pytest.mark.parametrize(
    ("headers", "params"),
    [
        ({"Authorization": "Bearer wrong"}, {}),
        (basic("anyone", "wrong"), {}),
        ({"Authorization": "Basic !!!notbase64"}, {}),
        ({}, {"token": "wrong"}),
        ({}, {}),
    ],
)
def test_a_wrong_or_missing_secret_is_401(
    client: httpx.Client, headers: dict[str, str], params: dict[str, str]
) -> None:
    r = client.post(path(), json=BODY, headers=headers, params=params)
    assert r.status_code == 401
    assert r.json()["type"] == "authentication_error"


def test_another_source_type_is_404_in_incident_io_shape(client: httpx.Client) -> None:
    r = client.post(path("datadog"), json=BODY, headers={"Authorization": f"Bearer {SECRET}"})
    assert r.status_code == 404
    assert r.json()["type"] == "not_found"


def test_incident_io_sdk_parses_every_error_answer(client: httpx.Client) -> None:
    models = pytest.importorskip("incident_io.models")
    auth = {"Authorization": f"Bearer {SECRET}"}
    answers = [
        client.post(path(), json={"incident": {"status": "ok"}}, headers=auth),  # 422
        client.post(path(), json={"status": "ok"}, headers=auth),  # 422, bare incident
        client.post(path(), content=b"nope", headers=auth),  # 400
        client.post(path(), json=BODY),  # 401
        client.post(path("datadog"), json=BODY, headers=auth),  # 404
    ]
    assert [a.status_code for a in answers] == [422, 422, 400, 401, 404]
    for answer in answers:
        parsed = models.ErrorResponse.from_dict(answer.json())
        assert parsed.status == answer.status_code
        assert parsed.request_id
        assert parsed.errors[0].message
    wrapped = models.ErrorResponse.from_dict(answers[0].json())
    assert str(wrapped.type_) == "validation_error"
    assert wrapped.errors[0].code == "is_required"
    assert (wrapped.errors[0].source.field, wrapped.errors[0].source.pointer) == (
        "incident.id",
        "/incident/id",
    )
    bare = models.ErrorResponse.from_dict(answers[1].json())
    assert (bare.errors[0].source.field, bare.errors[0].source.pointer) == ("id", "/id")


def test_incident_io_sdk_parses_the_accepted_answer(client: httpx.Client) -> None:
    models = pytest.importorskip("incident_io.models")
    r = client.post(path(), json=BODY, headers={"Authorization": f"Bearer {SECRET}"})
    assert r.status_code == 202
    result = models.AlertEventsCreateHTTPResultV2.from_dict(r.json())
    assert result.deduplication_key == "inc-7"
