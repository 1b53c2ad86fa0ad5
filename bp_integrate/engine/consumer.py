"""What watches a run: the base every consumer of the engine's step reports extends.

Its own module, with nothing heavy imported, so the commands that declare their
consumers (the timeline, the storm progress bar) can be imported for `--help`
without loading the engine, asyncio or the HTTP clients; with it the `StepReport` a
consumer is handed, so this module needs nothing of `engine.run`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bp_integrate.engine.send import SendResult
    from bp_integrate.integrations.base import Skipped


@dataclass
class StepReport:
    """What one step did: per request results, skips, and whether it met expectations."""

    index: int
    event: str
    incident_id: str
    results: list[SendResult]
    skipped: list[Skipped]
    problems: list[str]
    cleanup: bool = False
    seq: int = 0

    @property
    def passed(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        from bp_integrate.engine.plan import skipped_json

        return {
            "type": "cleanup" if self.cleanup else "step",
            "step": self.index,
            "event": self.event,
            "incident_id": self.incident_id,
            "passed": self.passed,
            "problems": self.problems,
            "results": [r.to_json() for r in self.results],
            "skipped": [skipped_json(s) for s in self.skipped],
        }


class Consumer:
    """Something that watches a run (and never sends). Override what you need."""

    #: Ask the engine to call `tick()` about once a second (a buffered writer).
    wants_ticks = False
    #: Ask the engine to await `after_step()` before the next step (read-back).
    awaits_steps = False

    def started(self, seq: int, event: str, incident_id: str, body: dict[str, Any]) -> None:
        """A step's body is about to be sent (it may be cut short)."""

    def step(self, report: StepReport) -> None:
        """A step (or a cleanup step) is done."""

    async def after_step(self, report: StepReport) -> None:
        """Awaited after `step()` when `awaits_steps`: the next step waits for it (it may
        read the targets back; it never sends to them)."""

    def incident_done(self, done: int) -> None:
        """`done` incidents have gone through the whole scenario."""

    def tick(self) -> None:
        """About once a second while the run goes on (only if `wants_ticks`)."""

    def stop(self) -> None:
        """The run is over (or was cut short): let go of what it holds (a live table)."""
