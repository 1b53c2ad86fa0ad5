"""Embedded emulator of every bp-integrate target: no account, no network needed.

Emulates, on one local HTTP server, every target registered in :mod:`.target`
(one module each: xMatters HTTP triggers with the Panopta forms, PagerDuty
Events API v2, incident.io's BigPanda alert source, the BigPanda API calls the
CLI makes, a generic webhook receiver); plus introspection (``/_received``,
``/_state``, ``/_reset``) and fault injection (``/_faults``). See :mod:`.app`
for what answers (:class:`Emulator`: a plain function of a request to an answer),
:mod:`.server` for running it (HTTP is aiohttp's), and :mod:`.config` for
settings. This package is plain
core: no CLI or terminal UI imports. The names below are re-exported for
callers and tests.
"""

from __future__ import annotations

from bp_integrate.urls import is_loopback_host

from .app import Emulator, build_app
from .bigpanda import DEMO_BIGPANDA_ENVIRONMENTS, BigPandaComment, BigPandaResolution
from .config import EmulatorConfig, endpoint_urls
from .incidentio import INCIDENTIO_SOURCE_ID, IncidentIoAlert
from .pagerduty import (
    PAGERDUTY_MAX_EVENT_BYTES,
    EventsSchema,
    PagerDutyAlert,
    PagerDutyChangeEvent,
    events_schema,
    load_openapi_document,
)
from .records import ReceivedRecord
from .server import (
    EmulatorBindError,
    EmulatorServer,
    check_bind_host,
    serve_forever,
)
from .state import EmulatorState, Fault, RecordCallback
from .target import Target, targets
from .xmatters import (
    PANOPTA_CLEAR_FUNCTION_ID,
    PANOPTA_OUTAGE_FUNCTION_ID,
    XMATTERS_BIGPANDA_FUNCTION_ID,
    PanoptaClear,
    XMattersEvent,
    xmatters_trigger_url,
)


def demo_function_ids() -> dict[str, str]:
    """The fixed demo ids: xMatters function UUIDs and the incident.io source id."""
    return {
        "xmatters_bigpanda": XMATTERS_BIGPANDA_FUNCTION_ID,
        "panopta_outage": PANOPTA_OUTAGE_FUNCTION_ID,
        "panopta_clear": PANOPTA_CLEAR_FUNCTION_ID,
        "incidentio_source": INCIDENTIO_SOURCE_ID,
    }


__all__ = [
    "DEMO_BIGPANDA_ENVIRONMENTS",
    "INCIDENTIO_SOURCE_ID",
    "PAGERDUTY_MAX_EVENT_BYTES",
    "PANOPTA_CLEAR_FUNCTION_ID",
    "PANOPTA_OUTAGE_FUNCTION_ID",
    "XMATTERS_BIGPANDA_FUNCTION_ID",
    "BigPandaComment",
    "BigPandaResolution",
    "Emulator",
    "EmulatorBindError",
    "EmulatorConfig",
    "EmulatorServer",
    "EmulatorState",
    "EventsSchema",
    "Fault",
    "IncidentIoAlert",
    "PagerDutyAlert",
    "PagerDutyChangeEvent",
    "PanoptaClear",
    "ReceivedRecord",
    "RecordCallback",
    "Target",
    "XMattersEvent",
    "build_app",
    "check_bind_host",
    "demo_function_ids",
    "endpoint_urls",
    "events_schema",
    "is_loopback_host",
    "load_openapi_document",
    "serve_forever",
    "targets",
    "xmatters_trigger_url",
]
