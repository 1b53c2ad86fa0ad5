"""Compatibility re-exports: the webhook body now lives in `bp_integrate.bigpanda` and
`bp_integrate.jsonpath` (events, simulator, testmark, webhook; the --set language).

Kept only so modules not yet moved keep importing these names; the lead deletes this
module when merging. New code imports from the owning module.
"""

from __future__ import annotations

from bp_integrate.bigpanda.events import (
    BUILTIN_SCENARIOS,
    EVENTS,
    LIFECYCLE_ORDER,
    STATUSES,
    resolve_event,
    severity_to_pagerduty,
    status_rank,
)
from bp_integrate.bigpanda.simulator import SNOOZE_SECONDS, IncidentSimulator, new_incident_id
from bp_integrate.bigpanda.testmark import DESCRIPTION_MAX, TEST_MARKER_TAG, mark_as_test
from bp_integrate.bigpanda.webhook import (
    ENVELOPE_SHAPES,
    SUMMARY_MAX,
    EnvelopeShape,
    envelope,
    load_payload_file,
    summary,
)
from bp_integrate.integrations.common import TAG_NAME_MAX, validate_tag_name
from bp_integrate.jsonpath import parse_assignment, set_path

__all__ = [
    "BUILTIN_SCENARIOS",
    "DESCRIPTION_MAX",
    "ENVELOPE_SHAPES",
    "EVENTS",
    "LIFECYCLE_ORDER",
    "SNOOZE_SECONDS",
    "STATUSES",
    "SUMMARY_MAX",
    "TAG_NAME_MAX",
    "TEST_MARKER_TAG",
    "EnvelopeShape",
    "IncidentSimulator",
    "envelope",
    "load_payload_file",
    "mark_as_test",
    "new_incident_id",
    "parse_assignment",
    "resolve_event",
    "set_path",
    "severity_to_pagerduty",
    "status_rank",
    "summary",
    "validate_tag_name",
]
