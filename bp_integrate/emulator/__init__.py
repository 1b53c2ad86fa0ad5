"""Embedded emulator of every bp-integrate target: no account, no network needed.

Emulates, on one local HTTP server: xMatters HTTP triggers (the BigPanda
workflow, Panopta Outage and Clear), PagerDuty Events API v2, incident.io's
BigPanda alert source, and the BigPanda API calls the CLI makes; plus
introspection (``/_received``, ``/_state``, ``/_reset``) and fault injection
(``/_faults``). See :mod:`.app` for routes and :mod:`.config` for the demo
credentials. This package is plain core: no CLI or terminal UI imports.
"""

from __future__ import annotations

from bp_integrate.urls import is_loopback_host

from .app import build_app
from .config import (
    DEMO_BIGPANDA_ENVIRONMENTS,
    INCIDENTIO_SOURCE_ID,
    PAGERDUTY_MAX_EVENT_BYTES,
    PANOPTA_CLEAR_FUNCTION_ID,
    PANOPTA_OUTAGE_FUNCTION_ID,
    XMATTERS_BIGPANDA_FUNCTION_ID,
    EmulatorConfig,
    demo_function_ids,
    endpoint_urls,
    xmatters_trigger_url,
)
from .pagerduty import EventsSchema, events_schema, load_openapi_document
from .records import ReceivedRecord
from .server import (
    EmulatorBindError,
    EmulatorServer,
    check_bind_host,
    serve_forever,
)
from .state import (
    BigPandaComment,
    BigPandaResolution,
    EmulatorState,
    Fault,
    IncidentIoAlert,
    PagerDutyAlert,
    PagerDutyChangeEvent,
    PanoptaClear,
    RecordCallback,
    XMattersEvent,
)

__all__ = [
    "DEMO_BIGPANDA_ENVIRONMENTS",
    "INCIDENTIO_SOURCE_ID",
    "PAGERDUTY_MAX_EVENT_BYTES",
    "PANOPTA_CLEAR_FUNCTION_ID",
    "PANOPTA_OUTAGE_FUNCTION_ID",
    "XMATTERS_BIGPANDA_FUNCTION_ID",
    "BigPandaComment",
    "BigPandaResolution",
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
    "XMattersEvent",
    "build_app",
    "check_bind_host",
    "demo_function_ids",
    "endpoint_urls",
    "events_schema",
    "is_loopback_host",
    "load_openapi_document",
    "serve_forever",
    "xmatters_trigger_url",
]
