"""Emulator settings: the credentials and fixed ids the emulator accepts, and its URLs.

This module owns :class:`EmulatorConfig` (what the embedded emulator accepts),
the fixed demo identifiers (xMatters function UUIDs, the incident.io alert source
id, BigPanda environments) and :func:`endpoint_urls`, which turns a base URL into
the ready-to-use URLs the CLI prints. Every value here is a demo value: none of
them is a real credential for any real service.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote

#: Function UUID of the emulated xMatters "BigPanda" workflow HTTP trigger.
XMATTERS_BIGPANDA_FUNCTION_ID = "6b7c1f0e-2d4a-4c8e-9f3b-0a1b2c3d4e5f"
#: Function UUID of the emulated xMatters "Panopta Outage Event" inbound integration.
PANOPTA_OUTAGE_FUNCTION_ID = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"
#: Function UUID of the emulated xMatters "Panopta Clear Event" inbound integration.
PANOPTA_CLEAR_FUNCTION_ID = "c1e4a7d0-3b6e-4f92-a5c8-0d3f6b9e2a51"
#: Id of the emulated incident.io BigPanda alert source (a ULID, as incident.io uses).
INCIDENTIO_SOURCE_ID = "01J0BPDEM0S0VRCE0000000000"

#: The BigPanda environments the emulated BigPanda API lists, as (id, name).
DEMO_BIGPANDA_ENVIRONMENTS: tuple[tuple[str, str], ...] = (
    ("64f0c0de0000000000000001", "Production"),
    ("64f0c0de0000000000000002", "Staging"),
)

#: PagerDuty's own body limit for Events API v2 (512 KB, taken as KiB).
PAGERDUTY_MAX_EVENT_BYTES = 512 * 1024


@dataclass(frozen=True)
class EmulatorConfig:
    """What the emulator accepts. The defaults are fixed demo values, not secrets.

    ``pagerduty_rate_limit`` is in accepted events per minute per routing key
    (``None`` turns throttling off). ``max_body_bytes`` bounds every request body
    (larger → 413); PagerDuty's own 512 KB limit applies on its route on top.
    """

    xmatters_api_key: str = "demo-xmatters-api-key"
    xmatters_username: str = "bp-integration"
    xmatters_password: str = "demo-xm-password"
    incidentio_secret: str = "demo-incidentio-secret"
    bigpanda_api_key: str = "demo-bigpanda-user-key"
    pagerduty_rate_limit: int | None = None
    max_body_bytes: int = 1024 * 1024
    xmatters_function_id: str = XMATTERS_BIGPANDA_FUNCTION_ID
    panopta_outage_function_id: str = PANOPTA_OUTAGE_FUNCTION_ID
    panopta_clear_function_id: str = PANOPTA_CLEAR_FUNCTION_ID
    incidentio_source_id: str = INCIDENTIO_SOURCE_ID
    bigpanda_environments: tuple[tuple[str, str], ...] = DEMO_BIGPANDA_ENVIRONMENTS

    def __post_init__(self) -> None:
        if self.max_body_bytes <= 0:
            raise ValueError("max_body_bytes must be positive")
        if self.pagerduty_rate_limit is not None and self.pagerduty_rate_limit < 1:
            raise ValueError("pagerduty_rate_limit must be at least 1 (or None for no limit)")
        if ":" in self.xmatters_username:
            raise ValueError("xmatters_username may not contain ':' (RFC 7617 Basic auth)")
        for name in ("xmatters_api_key", "incidentio_secret", "bigpanda_api_key"):
            if not getattr(self, name):
                raise ValueError(f"{name} may not be empty")

    def secrets(self) -> tuple[str, ...]:
        """Every secret value this config holds, to scrub from anything echoed back."""
        return tuple(
            s
            for s in (
                self.xmatters_api_key,
                self.xmatters_password,
                self.incidentio_secret,
                self.bigpanda_api_key,
            )
            if s
        )


def demo_function_ids() -> dict[str, str]:
    """The fixed demo ids: xMatters function UUIDs and the incident.io source id."""
    return {
        "xmatters_bigpanda": XMATTERS_BIGPANDA_FUNCTION_ID,
        "panopta_outage": PANOPTA_OUTAGE_FUNCTION_ID,
        "panopta_clear": PANOPTA_CLEAR_FUNCTION_ID,
        "incidentio_source": INCIDENTIO_SOURCE_ID,
    }


def xmatters_trigger_path(function_id: str) -> str:
    """Path of an xMatters HTTP trigger for ``function_id``."""
    return f"/api/integration/1/functions/{function_id}/triggers"


def xmatters_trigger_url(
    base_url: str,
    function_id: str,
    *,
    api_key: str | None = None,
    recipients: Iterable[str] = (),
) -> str:
    """An xMatters trigger URL, optionally with ``apiKey`` (URL auth) and ``recipients``.

    Recipient names are URL-encoded (``Cloud Devops`` → ``Cloud%20Devops``) and
    joined by commas, as xMatters expects. The result carries a secret when
    ``api_key`` is given: redact it before showing or storing it.
    """
    params: list[str] = []
    if api_key is not None:
        params.append("apiKey=" + quote(api_key, safe=""))
    names = [r for r in recipients if r]
    if names:
        params.append("recipients=" + ",".join(quote(r, safe="") for r in names))
    url = base_url.rstrip("/") + xmatters_trigger_path(function_id)
    return url + ("?" + "&".join(params) if params else "")


def endpoint_urls(base_url: str, config: EmulatorConfig | None = None) -> dict[str, str]:
    """Ready-to-use URLs of every emulated endpoint under ``base_url`` (no secrets in them)."""
    cfg = config if config is not None else EmulatorConfig()
    base = base_url.rstrip("/")
    return {
        "xmatters_trigger": base + xmatters_trigger_path(cfg.xmatters_function_id),
        "panopta_outage": base + xmatters_trigger_path(cfg.panopta_outage_function_id),
        "panopta_clear": base + xmatters_trigger_path(cfg.panopta_clear_function_id),
        "pagerduty_events": base + "/v2/enqueue",
        "pagerduty_change_events": base + "/v2/change/enqueue",
        "incidentio_callback": base + f"/v2/alert_events/bigpanda/{cfg.incidentio_source_id}",
        "bigpanda_api": base,
        "received": base + "/_received",
        "state": base + "/_state",
    }
