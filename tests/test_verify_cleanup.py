"""verify's clean-up is a guarantee, not a path: whatever ends a run (a malformed
answer, Ctrl-C during the canary's POST, a resolve that keeps failing), every canary it
may have opened is resolved or named to close by hand, within a bounded time; and no
back-off outlives a hop's timeout (issue 20, items 1 and 2)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

import httpx
import pytest
from helpers import CFG, MemoryKeyring, cli, install
from test_readback_judging import BigPanda, Reader, record

from bp_integrate.emulator import EmulatorServer
from bp_integrate.errors import BPError
from bp_integrate.integrations import get
from bp_integrate.readback import ReadTarget
from bp_integrate.verify import Verifier, VerifySettings

ENV = "64f0c0de0000000000000001"


def verifier(bp: Any, reader: Any, timeout: float = 0.3) -> Verifier:
    settings = VerifySettings("http://127.0.0.1:1", "u", "o", "app", "env1")
    targets = [ReadTarget(get("pagerduty"), {}, {"readback_api_key": "k"})]
    timeouts = dict.fromkeys(("incident", "shared", "landed", "closed", "resolved"), timeout)
    return Verifier(settings, targets, bp, reader, timeouts)


def resolved_hosts(bp: BigPanda) -> list[str]:
    return [str(a["host"]) for a in bp.alerts if a["status"] == "ok"]


class InterruptedPost(BigPanda):
    """BigPanda takes the canary, then Ctrl-C lands before its answer is read."""

    def send_alert(self, alert: Mapping[str, Any]) -> int:
        super().send_alert(alert)
        if alert["status"] != "ok":
            raise KeyboardInterrupt
        return 201


def test_ctrl_c_during_the_canary_post_still_resolves_it() -> None:
    bp = InterruptedPost(["pagerduty.PagerDuty"])
    run = verifier(bp, Reader([]))
    with pytest.raises(KeyboardInterrupt):
        run.run()
    assert run.report.interrupted
    assert resolved_hosts(bp) == [run.canary_host]
    assert run.report.cleanup == [f"canary alert on {run.canary_host} resolved"]


class MalformedActivities(BigPanda):
    def search(self, env: str, query: str) -> list[dict[str, Any]]:
        return [{"id": None, "status": 7}]

    def incident(self, env: str, incident_id: str) -> dict[str, Any]:
        raise TypeError("'NoneType' object is not subscriptable")


class MalformedRecords(Reader):
    def records(self, *_: Any) -> list[Any]:
        raise AttributeError("'str' object has no attribute 'get'")


def test_a_malformed_answer_is_a_failed_hop_and_clean_up_still_runs() -> None:
    bp = MalformedActivities(["pagerduty.PagerDuty"])
    run = verifier(bp, MalformedRecords([]))
    report = run.run()  # never an "unexpected" crash
    failed = [h for h in report.hops if h.status == "failed"]
    assert failed and all("not what the API documents" in h.detail for h in failed), failed
    assert resolved_hosts(bp) == [run.canary_host]
    assert any("could not read what the canary made there" in line for line in report.cleanup)


class ResolveFails(BigPanda):
    def __init__(self, shares: list[str]) -> None:
        super().__init__(shares)
        self.tries = 0

    def send_alert(self, alert: Mapping[str, Any]) -> int:
        if alert["status"] == "ok":
            self.tries += 1
            raise BPError("Sending the canary alert: BigPanda answered 503.", "Try later.")
        return super().send_alert(alert)


def test_a_resolve_that_keeps_failing_is_named_to_close_by_hand_in_bounded_time() -> None:
    bp = ResolveFails(["pagerduty.PagerDuty"])
    started = time.monotonic()
    run = verifier(bp, Reader([record("P1", "open", time.time() + 1)]))
    report = run.run()
    assert time.monotonic() - started < 15
    assert bp.tries >= 3  # the close in the chain, then clean-up's tries with back-off
    [left] = [line for line in report.cleanup if "could not resolve" in line]
    assert run.canary_host in left and "Close it by hand" in left
    assert "incident inc-1" in left and "env1" in left


def test_verify_under_a_429_storm_ends_within_its_timeout_plus_clean_up(
    emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    """Every incident search answers 429 asking for 60 s: the hop's 4 s bound wins."""
    install(emu, "pagerduty", monkeypatch)
    assert cli("profile", "set", "--region", emu.base_url).exit_code == 0
    monkeypatch.setenv("BP_INTEGRATE_BIGPANDA_API_KEY", CFG.bigpanda_api_key)
    monkeypatch.setenv("BP_INTEGRATE_BIGPANDA_ORG_TOKEN", CFG.bigpanda_org_token)
    storm = {
        "path_prefix": f"/resources/v2.0/environments/{ENV}/incidents",
        "method": "GET",
        "status": 429,
        "headers": {"Retry-After": "60"},
        "times": 1000,
    }
    assert httpx.post(emu.base_url + "/_faults", json=storm).status_code == 201
    started = time.monotonic()
    result = cli(
        "verify",
        "--app-key",
        CFG.bigpanda_app_key,
        "--environment",
        ENV,
        "--json",
        "--timeout",
        "4",
    )
    elapsed = time.monotonic() - started
    assert result.exit_code != 0
    assert elapsed < 4 + 10, elapsed  # the hop's bound, plus a clean-up that is not stormed
    doc = json.loads(result.stdout)
    [incident] = [h for h in doc["hops"] if h["hop"] == "incident"]
    assert incident["status"] == "failed" and "429" in incident["detail"]
    assert any("resolved" in line for line in doc["cleanup"])
