"""Read-back and verify judge only what the run made: the newest record created at or
after the run's first send, never "any record in the wanted state"; shares are read
from BigPanda's documented `params.share_target`, and a share that names no target is
unknown, never counted for every target."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import pytest

from bp_integrate.integrations import get
from bp_integrate.integrations.base import TargetRecord, records_of, timestamp
from bp_integrate.readback import CLOCK_SKEW, ReadBackWatch, ReadTarget, judged
from bp_integrate.verify import (
    Verifier,
    VerifySettings,
    share_target_of,
    shared_targets,
)

T0 = 1_800_000_000.0


def record(rid: str, state: str, created: float | None) -> TargetRecord:
    return TargetRecord(rid, state, state, created)  # type: ignore[arg-type]


def test_the_newest_record_made_by_the_run_is_judged() -> None:
    stale = record("old", "resolved", T0 - 3600)
    first = record("first", "resolved", T0 + 1)
    second = record("second", "open", T0 + 5)
    assert judged([stale, first, second], T0) is second
    assert judged([second, first], T0) is second  # order of the answer does not matter
    assert judged([stale], T0) is None  # older than the run: never the run's
    assert judged([record("skewed", "open", T0 - CLOCK_SKEW + 1)], T0) is not None
    # A target that gives no creation time cannot show the record is the run's.
    assert judged([record("undated", "resolved", None)], T0) is None
    # Same second: the one listed later is taken as the newer.
    a, b = record("a", "open", T0 + 2), record("b", "resolved", T0 + 2)
    assert judged([a, b], T0) is b


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2027-01-15T08:00:00Z", 1800000000.0),
        ("2027-01-15T09:00:00+01:00", 1800000000.0),
        ("2027-01-15T08:00:00", 1800000000.0),
        (1800000000, 1800000000.0),
        ("yesterday", None),
        (None, None),
        (True, None),
        ({"at": 1}, None),
    ],
)
def test_creation_times_are_read_from_what_targets_write(raw: Any, expected: float | None) -> None:
    assert timestamp(raw) == expected


def test_records_of_carries_the_creation_time() -> None:
    answer = {
        "incidents": [{"id": "P1", "status": "resolved", "created_at": "2027-01-15T08:00:00Z"}]
    }
    [found] = records_of(answer, "incidents", "resolved")
    assert (found.id, found.state, found.created_at) == ("P1", "resolved", T0)


class Reader:
    """A target that answers read-back from a list the test controls."""

    def __init__(self, records: list[TargetRecord]) -> None:
        self.listed = records
        self.terminated: list[str] = []
        self.deadline: float | None = None

    def records(self, *_: Any) -> list[TargetRecord]:
        return list(self.listed)

    def terminate(self, _i: Any, rec: TargetRecord, *_: Any) -> bool:
        self.terminated.append(rec.id)
        return True

    def close(self) -> None:
        pass


def pagerduty_target() -> ReadTarget:
    values = {"integration_key": "a" * 32}
    return ReadTarget(get("pagerduty"), values, {"readback_api_key": "k"})


def test_a_stale_resolved_record_beside_an_open_one_fails_read_back() -> None:
    """new -> closed -> reopen -> closed at PagerDuty: the first incident resolved, the
    second left triggered. 'Any resolved incident' passed this; the newest fails it."""
    now = time.time()
    reader = Reader([record("PFIRST", "resolved", now + 1), record("PSECOND", "open", now + 3)])
    watch = ReadBackWatch([pagerduty_target()], lambda step, name: None, 0.1, reader, now)  # type: ignore[arg-type]
    watch.check(4, "incident#closed", "inc-1", ["pagerduty"])
    [result] = watch.results
    assert result.status == "failed"
    assert "expected resolved" in result.detail and "PSECOND open" in result.detail
    assert [r["id"] for r in result.records if r["judged"] == "yes"] == ["PSECOND"]
    # And once the newest is resolved, it passes.
    reader.listed[1] = record("PSECOND", "resolved", now + 3)
    watch.check(4, "incident#closed", "inc-1", ["pagerduty"])
    assert watch.results[-1].status == "passed"


def test_records_older_than_the_run_are_never_judged() -> None:
    now = time.time()
    reader = Reader([record("PLAST_WEEK", "open", now - 7 * 86400)])
    watch = ReadBackWatch([pagerduty_target()], lambda step, name: None, 0.1, reader, now)  # type: ignore[arg-type]
    watch.check(1, "incident#new", "inc-1", ["pagerduty"])
    [result] = watch.results
    assert result.status == "failed"
    assert "only records older than this run (PLAST_WEEK)" in result.detail


# ---------------------------------------------------------------- shares, as documented
def targets(*names: str) -> list[ReadTarget]:
    return [ReadTarget(get(n), {}, {}) for n in names]


def test_share_target_is_read_from_params() -> None:
    documented = {
        "id": "161b4dc6c33740283e5416b0e6d6c70b",
        "type": "incident_shared",
        "timestamp": 1643700751,
        "created_by": "61950bc8c481fd1100abc3a3",
        "params": {"share_target": "webhook.whtest", "share_auto": False},
    }
    assert share_target_of(documented) == "webhook.whtest"
    assert share_target_of({"type": "incident_shared", "data": {"target": "pagerduty"}}) is None
    assert share_target_of({"params": "webhook.x"}) is None


def test_one_share_marks_one_target_never_every_target() -> None:
    three = targets("pagerduty", "xmatters", "incidentio")
    assert shared_targets("webhook.whtest", three) == {"incidentio"}
    assert shared_targets("pagerduty.PagerDuty", three) == {"pagerduty"}
    assert shared_targets("servicenow.snow", three) == set()
    # Two webhooks: the BigPanda name must say which; otherwise the share is unknown.
    both = targets("incidentio", "webhook")
    assert shared_targets("webhook.whtest", both) == set()
    assert shared_targets("webhook.incidentio", both) == {"incidentio"}
    assert shared_targets("webhook.whtest", both, {"webhook": "whtest"}) == {"webhook"}


class BigPanda:
    """BigPanda as verify sees it, answering in the documented shapes."""

    def __init__(self, shares: list[str]) -> None:
        from bp_integrate.bigpanda.api import Pacer

        self.shares = shares
        self.alerts: list[Mapping[str, Any]] = []
        self.plans: list[str] = []
        self.pacer = Pacer()

    def environments(self) -> list[dict[str, Any]]:
        return [{"id": "env1", "name": "bp-integrate canary", "filter": ""}]

    def send_alert(self, alert: Mapping[str, Any]) -> int:
        self.alerts.append(alert)
        return 201

    def search(self, env: str, query: str) -> list[dict[str, Any]]:
        return [{"id": "inc-1", "status": "Critical"}]

    def activities(self, incident_id: str, types: str) -> list[dict[str, Any]]:
        return [
            {"id": str(i), "type": "incident_shared", "timestamp": 1, "params": {"share_target": t}}
            for i, t in enumerate(self.shares)
        ]

    def incident(self, env: str, incident_id: str) -> dict[str, Any]:
        return {"id": incident_id, "status": "Ok", "active": False}


def run_verify(bp: BigPanda, reader: Reader, names: tuple[str, ...]) -> Any:
    settings = VerifySettings("http://127.0.0.1:1", "u", "o", "app", "env1")
    values = {"callback_url": "https://api.incident.io/v2/alert_events/bigpanda/01H"}
    target_list = [ReadTarget(get(n), values, {"readback_api_key": "k"}) for n in names]
    timeouts = dict.fromkeys(("incident", "shared", "landed", "closed", "resolved"), 0.3)
    return Verifier(settings, target_list, bp, reader, timeouts).run()  # type: ignore[arg-type]


def test_verify_fails_resolved_when_only_a_stale_record_is_resolved() -> None:
    later = time.time() + 2  # made by this run
    reader = Reader([record("PSTALE", "resolved", later), record("PNEW", "open", later + 1)])
    report = run_verify(BigPanda(["pagerduty.PagerDuty"]), reader, ("pagerduty",))
    verdicts = {h.name: h.status for h in report.hops}
    assert verdicts["landed"] == "passed"
    assert verdicts["resolved"] == "failed"
    assert not report.ok
    # Clean-up ends what the canary made and left open, not the stale record.
    assert reader.terminated == ["PNEW"]


def test_an_unknown_share_fails_only_its_hop_and_says_what_was_shared() -> None:
    reader = Reader([])
    report = run_verify(BigPanda(["webhook.whtest"]), reader, ("pagerduty", "incidentio"))
    shared = {h.integration: h for h in report.hops if h.name == "shared"}
    assert shared["incidentio"].status == "passed"
    assert shared["pagerduty"].status == "failed"
    # Nothing is counted for PagerDuty from another target's share.
    landed = {h.integration: h.status for h in report.hops if h.name == "landed"}
    assert landed["pagerduty"] == "not_checked"


def test_no_hint_proposes_changing_an_existing_environment() -> None:
    report = run_verify(BigPanda([]), Reader([]), ("pagerduty",))
    [shared] = [h for h in report.hops if h.name == "shared"]
    assert shared.status == "failed" and shared.hint
    assert "verify-setup" in shared.hint
    assert "a canary-only environment (Settings -> Environments" not in shared.hint
    assert "never change" in shared.hint.lower()
