"""A recorded run as a scenario again (`replay --from-run`): its bodies, re-planned with
today's secrets (history never holds secrets)."""

from __future__ import annotations

from typing import Any

from bp_integrate.bigpanda.webhook import incident_of
from bp_integrate.errors import UsageError
from bp_integrate.scenarios import Scenario


def load_recorded(
    run_id: str, incident_id: str | None = None
) -> tuple[Scenario, list[str], dict[str, Any]]:
    """A scenario of the recorded events of a run (bodies as recorded, the incident id
    replaced by `incident_id` if given), its targets, its options.

    Refused with a UsageError: a storm run (no bodies), a body history cut short, and a
    body holding a masked secret (`****`): history never keeps secrets, and sending the
    mask would be wrong (PagerDuty answers 400 to a routing_key of `****`).
    """
    from bp_integrate import history, scenarios

    path = history.find_run(run_id)
    steps: list[scenarios.ScenarioStep] = []
    targets: list[str] = []
    options: dict[str, Any] = {}
    command = ""
    storm = False
    for record in history.read_records(path):
        kind = record.get("type")
        if kind == "run":
            targets = [str(t) for t in record.get("targets") or []]
            options = dict(record.get("options") or {})
            command = str(record.get("command") or "")
            storm = "count" in options
        elif kind == "event" and record.get("body_truncated"):
            raise UsageError(
                f"Run {path.stem} cannot be sent again: the body of its step "
                f"{len(steps) + 1} ({record.get('event')}) was {record.get('body_bytes')} "
                f"bytes, and history keeps at most {history.BODY_MAX} bytes of a body.",
                f"Send that body from its file again: bp-integrate send-test "
                f"{record.get('event')} --payload FILE.",
            )
        elif kind == "event" and isinstance(record.get("body"), dict):
            body = record["body"]
            masked = masked_paths(body)
            if masked:
                raise UsageError(
                    f"Run {path.stem} cannot be sent again: its step {len(steps) + 1} "
                    f"({record.get('event')}) held a secret at {', '.join(masked[:3])}, and "
                    "history keeps secrets only as ****: sending that would not be the "
                    "same event (a routing key of **** is refused by the target).",
                    "Run the original command again with the secret (it was: bp-integrate "
                    f"{command}, with its --tag or --set), or pick another run "
                    "from `bp-integrate history`.",
                )
            if incident_id is not None:
                incident_of(body)["id"] = incident_id
            steps.append(scenarios.ScenarioStep(str(record["event"]), body=body))
    if not steps:
        why = "storm runs keep no bodies" if storm else "it holds no recorded events"
        raise UsageError(
            f"Run {path.stem} cannot be sent again: {why}.",
            "Re-run the storm itself (bp-integrate replay lifecycle --count N), or pick "
            "another run from `bp-integrate history`.",
        )
    return scenarios.Scenario(f"run {path.stem}", tuple(steps), source=str(path)), targets, options


def masked_paths(node: Any, where: str = "") -> list[str]:
    """Where a recorded body holds a masked value (`incident.alerts[0].tags[3].value`)."""
    from bp_integrate.urls import MASK

    if isinstance(node, str):
        return [where or "the body"] if MASK in node else []
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            found += masked_paths(value, f"{where}.{key}" if where else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += masked_paths(value, f"{where}[{index}]")
    return found
