"""What watches a run: the base every consumer of the engine's step reports extends.

Its own module, with nothing heavy imported, so the commands that declare their
consumers (the timeline, the storm progress bar) can be imported for `--help`
without loading the engine, asyncio or the HTTP clients (`engine.run` re-exports it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bp_integrate.engine.run import StepReport


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
