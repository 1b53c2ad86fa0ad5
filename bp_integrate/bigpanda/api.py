"""The BigPanda API calls bp-integrate makes: checking a User API key, and the calls
`verify` makes (Alerts API, Incidents v2 search and get, activities, environments,
maintenance plans) through one rate-limited client that honours 429.

The shapes are those of BigPanda's published API descriptions
(tests/data/reference/bigpanda/; tests/test_bigpanda_contract.py holds the emulator and
this client to them): environments are a bare array, search answers `{"total",
"items"}`, activities a bare array, errors `{"status", "errors": [...]}`. Older
wrappers (`{"items": ...}`, `{"message"}`) are still read.

BigPanda documents "BigPanda APIs are limited to 5 requests per second" and 429 as
the only signal: `BigPandaClient` spaces its calls at least 0.2 s apart and, on 429,
waits (Retry-After when given, else 1, 2, 4... s) before trying again. The same
`Pacer` reads targets back, and PagerDuty's REST API says how long to wait in
`ratelimit-reset` (delta seconds) instead of Retry-After: that is honoured too.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bp_integrate.errors import BPError, ExitCode, NetworkError
from bp_integrate.failures import clipped
from bp_integrate.http import RetryPolicy, asked_wait, retry_after_seconds

if TYPE_CHECKING:
    import httpx

ENVIRONMENTS_PATH = "/resources/v2.0/environments"
ALERTS_PATH = "/data/v2/alerts"
INCIDENTS_PATH = "/resources/v2.0/incidents"
MAINTENANCE_PLANS_PATH = "/resources/v2.0/maintenance-plans"
#: BigPanda's documented limit: 5 requests per second.
MIN_INTERVAL = 0.2
#: 429s in a row before a call gives up.
MAX_RETRIES_429 = 6
#: The BigPanda role permissions (Settings -> Roles Management) a 403 names.
ENVIRONMENTS_PERMISSION = "Manage Environments"
PLANS_PERMISSION = "Plans (full access)"


def check_key(api_url: str, key: str, timeout: float = 10.0) -> int:
    """GET the environments list with the key; return how many environments it sees."""
    import httpx

    from bp_integrate.http import sync_client

    url = api_url.rstrip("/") + ENVIRONMENTS_PATH
    try:
        with sync_client(timeout) as client:
            response = client.get(url, headers={"Authorization": f"Bearer {key}"})
    except (httpx.HTTPError, OSError) as exc:
        raise api_network_error(api_url, exc, timeout) from None
    status = response.status_code
    if status == 200:
        try:
            body = response.json()
        except ValueError:
            return 0
        items = body.get("items", body) if isinstance(body, dict) else body
        return len(items) if isinstance(items, list) else 0
    hints = {
        401: (
            "BigPanda refused the API key (401: invalid or expired).",
            "Create a User API key on a service account (Settings -> Access Management -> "
            "API Keys, no expiry) and paste it again.",
        ),
        403: (
            "The API key lacks permission to list environments (403).",
            "Give the service account a role that can read Environments, or use another key.",
        ),
        429: (
            "BigPanda is rate limiting this key (429).",
            "Wait a minute and try again, or skip the check with --no-verify.",
        ),
    }
    message, hint = hints.get(
        status,
        (
            f"BigPanda answered {status} to the key check.",
            "Check the region (bp-integrate profile set --region), or use --no-verify.",
        ),
    )
    raise BPError(message, hint, ExitCode.REJECTED)


def api_network_error(api_url: str, exc: BaseException, timeout: float) -> NetworkError:
    """A NetworkError for a BigPanda API call that got no answer, in the one failure
    vocabulary (bp_integrate.failures), naming the host and the fix."""
    from bp_integrate.failures import FailureKind, classify

    failure = classify(exc)
    if failure.kind is FailureKind.TIMEOUT:
        message = f"BigPanda ({api_url}) did not answer within {timeout:g} s."
    else:
        message = f"Cannot reach BigPanda at {api_url}: {failure.message}."
    return NetworkError(
        message,
        f"{failure.fix[0].upper()}{failure.fix[1:]}; check the region (bp-integrate profile set "
        "--region us|eu|URL), or skip the check with --no-verify.",
    )


def key_checker(api_url: str) -> Callable[[str], None]:
    def verify(key: str) -> None:
        check_key(api_url, key)

    return verify


_BPQL_TERM = re.compile(
    r"""\s*([A-Za-z_][\w.]*)\s*=\s*"""
    r"""(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|([^\s"'=*/()\[\]]+))\s*"""
)


def parse_bpql(query: str) -> list[tuple[str, str]] | None:
    """BPQL's simplest form, ``host = "a" and check = b`` (values quoted or one bare
    word), as [(name, value)]; None for anything else (or, in, wildcards...)."""
    terms: list[tuple[str, str]] = []
    for part in re.split(r"\s+and\s+", query.strip(), flags=re.IGNORECASE):
        match = _BPQL_TERM.fullmatch(part)
        if match is None:
            return None
        double, single, bare = match.group(2), match.group(3), match.group(4)
        if double is not None:
            value = double.replace('\\"', '"')
        elif single is not None:
            value = single.replace("\\'", "'")
        else:
            value = bare
        terms.append((match.group(1), value))
    return terms


def bpql_object(query: str) -> dict[str, Any]:
    """A BPQL string in BigPanda's BPQL object syntax (what a maintenance plan's
    `condition` takes): `{"=": [tag, value]}`, several joined as `{"AND": [...]}`."""
    terms = parse_bpql(query)
    if not terms:
        raise BPError(
            f"Cannot turn the condition {query!r} into BigPanda's BPQL object syntax.",
            'Write it as tag = "value", several joined by and (e.g. bp_integrate_canary = "true").',
            ExitCode.USAGE,
        )
    parts: list[dict[str, Any]] = [{"=": [name, value]} for name, value in terms]
    return parts[0] if len(parts) == 1 else {"AND": parts}


def error_detail(body: Any) -> str:
    """What an error answer says: BigPanda's `errors` list (or an older `message`)."""
    if not isinstance(body, dict):
        return ""
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        return clipped("; ".join(str(e) for e in errors[:20]))
    message = body.get("message")
    return clipped(str(message)) if message else ""


def items_of(body: Any, *keys: str) -> list[dict[str, Any]]:
    """The objects of a list answer: a bare list, or the first of `keys` that holds one
    (BigPanda's v2 lists say `items`; older pages name the resource)."""
    found: Any = body
    if isinstance(body, dict):
        found = next((body[k] for k in keys if isinstance(body.get(k), list)), None)
    return [i for i in found if isinstance(i, dict)] if isinstance(found, list) else []


class APIError(BPError):
    """BigPanda (or a target's API) answered a call with an error status."""

    def __init__(self, message: str, hint: str, status: int) -> None:
        super().__init__(message, hint, ExitCode.REJECTED)
        self.status = status


#: How the API calls wait out 429s (the one retry decision, `RetryPolicy.next_wait`):
#: Retry-After, else ratelimit-reset, else 1, 2, 4... s up to 30; what the answer asks
#: up to 60 s. Only 429 is retried: network errors and 5xx go to the caller.
API_RETRIES = RetryPolicy(
    retries=MAX_RETRIES_429,
    base_delay=1.0,
    max_delay=30.0,
    retry_after_cap=60.0,
    jitter=False,
    retry_server_errors=False,
    retry_network=False,
)


@dataclass
class Pacer:
    """Keeps calls at least `interval` apart and waits out 429s (one per API host)."""

    interval: float = MIN_INTERVAL
    sleep: Callable[[float], None] = time.sleep
    _last: float = field(default=0.0, repr=False)
    waited_429: int = 0
    policy: RetryPolicy = API_RETRIES
    #: A deadline (time.monotonic()) every call keeps unless it is given its own: a
    #: verify hop sets it, so no back-off outlives the hop's timeout.
    deadline: float | None = None

    def time_left(self, default: float) -> float:
        """Seconds one HTTP call may take: `default`, less when the deadline is near
        (never under a second, so a call still gets its answer's first bytes)."""
        if self.deadline is None:
            return default
        return max(1.0, min(default, self.deadline - time.monotonic()))

    def wait(self) -> None:
        gap = self._last + self.interval - time.monotonic()
        if gap > 0:
            self.sleep(gap)
        self._last = time.monotonic()

    def call(
        self,
        send: Callable[[], httpx.Response],
        what: str,
        limit: str,
        deadline: float | None = None,
    ) -> httpx.Response:
        """`send()` paced; on 429 wait (Retry-After, else ratelimit-reset, else doubling)
        and try again, never past `deadline` (time.monotonic()) when one is given."""
        deadline = self.deadline if deadline is None else deadline
        attempt = 0
        while True:
            attempt += 1
            self.wait()
            response = send()
            if response.status_code != 429:
                return response
            self.waited_429 += 1
            delay = self.policy.next_wait(
                attempt, response.status_code, response.headers, deadline=deadline
            )
            if delay is None:
                break
            self.sleep(delay)
        raise APIError(
            f"{what}: still rate limited (429) after {attempt} tries.",
            f"{limit} Run again later, or stop other tools that use the same key.",
            429,
        )


def retry_after(header: str | None, default: float) -> float:
    """Seconds from a Retry-After header (delta seconds or an HTTP date, read by the one
    parser the sends use), bounded to 60; else `default`."""
    seconds = retry_after_seconds(header)
    return default if seconds is None else min(seconds, API_RETRIES.retry_after_cap)


def rate_limit_wait(headers: Mapping[str, str], default: float) -> float:
    """How long a 429 asks to wait: Retry-After, else PagerDuty REST's
    `ratelimit-reset` (delta seconds), else `default`; bounded to 60."""
    seconds = asked_wait(headers)
    return default if seconds is None else min(seconds, API_RETRIES.retry_after_cap)


class BigPandaClient:
    """The calls verify makes, with the org token (Alerts API) and the User API key
    (everything else). Every call goes through one `Pacer`."""

    def __init__(
        self,
        api_url: str,
        user_key: str,
        org_token: str,
        timeout: float = 15.0,
        pacer: Pacer | None = None,
    ) -> None:
        from bp_integrate.http import sync_client

        self.api_url = api_url.rstrip("/")
        self._user_key = user_key
        self._org_token = org_token
        self.timeout = timeout
        self.pacer = pacer or Pacer()
        self._client = sync_client(timeout)

    def close(self) -> None:
        self._client.close()

    def _call(
        self,
        method: str,
        path: str,
        token: str,
        what: str,
        params: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> httpx.Response:
        import httpx

        url = self.api_url + path

        def send() -> httpx.Response:
            return self._client.request(
                method,
                url,
                params=dict(params or {}),
                json=body,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                timeout=self.pacer.time_left(self.timeout),
            )

        try:
            return self.pacer.call(send, what, "BigPanda allows about 5 requests per second.")
        except (httpx.HTTPError, OSError) as exc:
            raise api_network_error(self.api_url, exc, self.timeout) from None

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            return None

    def _refused(
        self,
        response: httpx.Response,
        what: str,
        token_kind: str,
        permission: str = "Environment - View (the environment's incidents)",
    ) -> APIError:
        status = response.status_code
        detail = error_detail(self._json(response))
        said = f": {detail}" if detail else ""
        if status == 401:
            return APIError(
                f"{what}: BigPanda refused the {token_kind} (401).",
                f"Check the {token_kind} and the region: a key of the other region answers "
                "401 here (bp-integrate profile set --region us|eu).",
                status,
            )
        if status == 403:
            return APIError(
                f"{what}: the {token_kind} lacks permission (403{said}).",
                f"Give the key's user a role with the {permission} permission "
                "(Settings -> Roles Management), or use another key.",
                status,
            )
        if status == 400:
            return APIError(
                f"{what}: BigPanda refused the request (400{said}).",
                "This is a bp-integrate bug if it repeats: report it with this message.",
                status,
            )
        return APIError(f"{what}: BigPanda answered {status}{said}.", "Try again later.", status)

    def environments(self) -> list[dict[str, Any]]:
        """Every environment the key sees (BigPanda answers a bare array)."""
        what = "Listing BigPanda environments"
        response = self._call("GET", ENVIRONMENTS_PATH, self._user_key, what)
        if response.status_code != 200:
            raise self._refused(response, what, "User API key", ENVIRONMENTS_PERMISSION)
        return items_of(self._json(response), "items", "environments")

    def create_environment(self, name: str, filter: str, description: str = "") -> dict[str, Any]:
        """Create an environment whose condition is the BPQL `filter`; the environment
        BigPanda answers, with its `id`."""
        what = f"Creating the BigPanda environment {name!r}"
        body = {"name": name, "description": description, "filter": filter}
        response = self._call("POST", ENVIRONMENTS_PATH, self._user_key, what, body=body)
        if response.status_code == 400:
            detail = error_detail(self._json(response))
            raise APIError(
                f"{what}: BigPanda refused it (400{': ' + detail if detail else ''}).",
                f"Check the environment's condition (BPQL): {filter!r}.",
                400,
            )
        if response.status_code not in (200, 201):
            raise self._refused(response, what, "User API key", ENVIRONMENTS_PERMISSION)
        return self._created(response, what)

    def delete_environment(self, environment_id: str) -> None:
        """Delete an environment (already gone is fine)."""
        what = f"Deleting the BigPanda environment {environment_id}"
        path = f"{ENVIRONMENTS_PATH}/{environment_id}"
        response = self._call("DELETE", path, self._user_key, what)
        if response.status_code not in (200, 202, 204, 404):
            raise self._refused(response, what, "User API key", ENVIRONMENTS_PERMISSION)

    def create_maintenance_plan(
        self, name: str, condition: str, start: int, end: int, description: str = ""
    ) -> dict[str, Any]:
        """A one-time maintenance plan from `start` to `end` (unix seconds) for the
        alerts that match `condition` (BPQL, sent in BigPanda's BPQL object syntax);
        the plan BigPanda answers, with its `id`."""
        what = f"Creating the BigPanda maintenance plan {name!r}"
        body = {
            "name": name,
            "condition": bpql_object(condition),
            "start": int(start),
            "end": int(end),
            "description": description,
        }
        response = self._call("POST", MAINTENANCE_PLANS_PATH, self._user_key, what, body=body)
        if response.status_code == 400:
            detail = error_detail(self._json(response))
            raise APIError(
                f"{what}: BigPanda refused it (400{': ' + detail if detail else ''}).",
                f"Check the plan's condition ({condition!r}) and that it ends after it starts.",
                400,
            )
        if response.status_code not in (200, 201):
            raise self._refused(response, what, "User API key", PLANS_PERMISSION)
        return self._created(response, what)

    def delete_maintenance_plan(self, plan_id: str) -> None:
        """Delete a maintenance plan (already gone, 404, is fine)."""
        what = f"Deleting the BigPanda maintenance plan {plan_id}"
        path = f"{MAINTENANCE_PLANS_PATH}/{plan_id}"
        response = self._call("DELETE", path, self._user_key, what)
        if response.status_code not in (200, 202, 204, 404):
            raise self._refused(response, what, "User API key", PLANS_PERMISSION)

    def _created(self, response: httpx.Response, what: str) -> dict[str, Any]:
        body = self._json(response)
        if not isinstance(body, dict) or not body.get("id"):
            raise APIError(
                f"{what}: BigPanda answered {response.status_code} without the new id.",
                "Check in BigPanda whether it was created, and try again.",
                response.status_code,
            )
        return body

    def send_alert(self, alert: Mapping[str, Any]) -> int:
        """POST one alert; the status (201/202, or 204 for an exact duplicate)."""
        return self._post_alerts(dict(alert), "Sending the canary alert")

    def send_alerts(self, alerts: list[Mapping[str, Any]], app_key: str) -> int:
        """POST alerts in the Alerts API's batch form `{"app_key", "alerts": [...]}`;
        the status (201, or 204 when every alert was an exact duplicate)."""
        body = {"app_key": app_key, "alerts": [dict(a) for a in alerts]}
        return self._post_alerts(body, f"Sending {len(alerts)} alert(s)")

    def _post_alerts(self, body: dict[str, Any], what: str) -> int:
        response = self._call("POST", ALERTS_PATH, self._org_token, what, body=body)
        if response.status_code in (200, 201, 202, 204):
            return response.status_code
        if response.status_code == 400:
            detail = error_detail(self._json(response))
            raise APIError(
                f"{what}: BigPanda refused it (400{': ' + detail if detail else ''}).",
                "Check the canary app key: it must be the App Key of an Alerts REST API "
                "integration (Integrations -> Alerts REST API): bp-integrate profile set "
                "--canary-app-key KEY.",
                400,
            )
        raise self._refused(response, what, "org token", "Integrations")

    def search(self, environment_id: str, query: str) -> list[dict[str, Any]]:
        """The incidents of the environment that match the BPQL `query` (BigPanda
        answers `{"total", "items"}`)."""
        what = f"Searching incidents of environment {environment_id}"
        path = f"{ENVIRONMENTS_PATH}/{environment_id}/incidents"
        response = self._call(
            "GET", path, self._user_key, what, params={"query": query, "page_size": "10"}
        )
        if response.status_code == 500:
            raise APIError(
                f"{what}: BigPanda answered 500.",
                "BigPanda's search answers 500 on environments that use incident tags "
                "(documented): give verify an environment without incident tags that still "
                "matches the canary (bp-integrate profile set --environment ID).",
                500,
            )
        if response.status_code == 404:
            raise APIError(
                f"{what}: no such environment (404).",
                "bp-integrate profile set --environment ID (verify --list-environments "
                "shows the ids).",
                404,
            )
        if response.status_code != 200:
            raise self._refused(response, what, "User API key")
        found = items_of(self._json(response), "items", "incidents")
        for index, item in enumerate(found):
            ident = item.get("id")
            if not isinstance(ident, str) or not ident.strip():
                # Malformed (a ValueError): the hop that searched fails, with this reason,
                # not a later hop that would look for incident "None".
                raise ValueError(
                    f"{what}: item {index} of BigPanda's answer has no incident id "
                    f"(id is {clipped(repr(ident), 40)})"
                )
        return found

    def incident(self, environment_id: str, incident_id: str) -> dict[str, Any]:
        """One incident; its `status` is capitalised ("Critical", "Ok") and `active`
        says whether it is open."""
        what = f"Reading incident {incident_id}"
        path = f"{ENVIRONMENTS_PATH}/{environment_id}/incidents/{incident_id}"
        response = self._call("GET", path, self._user_key, what)
        if response.status_code != 200:
            raise self._refused(response, what, "User API key")
        body = self._json(response)
        return body if isinstance(body, dict) else {}

    def activities(self, incident_id: str, types: str) -> list[dict[str, Any]]:
        """The incident's activities of `types` (comma-separated), newest first: each
        `{id, type, timestamp, created_by, params}` (BigPanda answers a bare array)."""
        what = f"Reading the activities of incident {incident_id}"
        path = f"{INCIDENTS_PATH}/{incident_id}/activities"
        response = self._call(
            "GET", path, self._user_key, what, params={"types": types, "per_page": "100"}
        )
        if response.status_code != 200:
            raise self._refused(response, what, "User API key")
        return items_of(self._json(response), "items", "activities")

    # -- Notifications Webhook v2 (API-only integrations) --------------------------------
    # Held to BigPanda's Notifications API description: every success answers an array
    # of integrations (`webhookv2-200response`), create 201, delete 204.

    def list_integrations(self) -> list[dict[str, Any]]:
        """Every Webhook v2 integration BigPanda holds (`{name, parent_system_id,
        workflow_config}`)."""
        what = "Listing BigPanda's Webhook v2 integrations"
        response = self._call("GET", WEBHOOK_V2_PATH, self._user_key, what)
        if response.status_code != 200:
            raise self._refused(response, what, "User API key", INTEGRATIONS_PERMISSION)
        return items_of(self._json(response), "items", "integrations")

    def get_integration(self, integration_id: str) -> dict[str, Any] | None:
        """One Webhook v2 integration by its id (`webhook_v2.<name>`); None when BigPanda
        has none (404)."""
        what = f"Reading the BigPanda integration {integration_id}"
        response = self._call("GET", f"{WEBHOOK_V2_PATH}/{integration_id}", self._user_key, what)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._refused(response, what, "User API key", INTEGRATIONS_PERMISSION)
        found = items_of(self._json(response), "items", "integrations")
        body = self._json(response)
        return found[0] if found else (body if isinstance(body, dict) else None)

    def create_integration(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create a Webhook v2 integration from `{"name", "parent_system_id",
        "workflow_config"}`; the integration BigPanda answers."""
        what = f"Creating the BigPanda integration {body.get('name')!r}"
        response = self._call("POST", WEBHOOK_V2_PATH, self._user_key, what, body=dict(body))
        if response.status_code == 400:
            detail = error_detail(self._json(response))
            raise APIError(
                f"{what}: BigPanda refused it (400{': ' + detail if detail else ''}).",
                "Check the templates (bp-integrate checks them first) and that no other "
                "integration has this name.",
                400,
            )
        if response.status_code not in (200, 201):
            raise self._refused(response, what, "User API key", INTEGRATIONS_PERMISSION)
        return self._integration(response, dict(body))

    def update_integration(
        self, integration_id: str, workflow_config: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Replace the `workflow_config` of a Webhook v2 integration (PATCH); the
        integration BigPanda answers."""
        what = f"Updating the BigPanda integration {integration_id}"
        path = f"{WEBHOOK_V2_PATH}/{integration_id}"
        body = {"workflow_config": dict(workflow_config)}
        response = self._call("PATCH", path, self._user_key, what, body=body)
        if response.status_code == 404:
            raise APIError(
                f"{what}: BigPanda has no such integration (404).",
                "The id is webhook_v2.<name>: check the name, or install it again to create it.",
                404,
            )
        if response.status_code == 400:
            detail = error_detail(self._json(response))
            raise APIError(
                f"{what}: BigPanda refused it (400{': ' + detail if detail else ''}).",
                "Check the templates (bp-integrate checks them first).",
                400,
            )
        if response.status_code != 200:
            raise self._refused(response, what, "User API key", INTEGRATIONS_PERMISSION)
        return self._integration(response, {"workflow_config": body["workflow_config"]})

    def delete_integration(self, app_key: str) -> bool:
        """Delete a Webhook v2 integration by its App Key; False when it was already
        gone (404)."""
        what = f"Deleting the BigPanda integration {app_key}"
        response = self._call("DELETE", f"{WEBHOOK_V2_PATH}/{app_key}", self._user_key, what)
        if response.status_code == 404:
            return False
        if response.status_code not in (200, 202, 204):
            raise self._refused(response, what, "User API key", INTEGRATIONS_PERMISSION)
        return True

    def dynamic_variables(self) -> dict[str, list[dict[str, Any]]]:
        """The variables Webhook v2 templates may use in this organisation, by category
        (`{"incident": [{"title", "value"}], "incidentTags": [...], ...}`)."""
        what = "Reading BigPanda's dynamic variables"
        response = self._call("GET", DYNAMIC_VARIABLES_PATH, self._user_key, what)
        if response.status_code != 200:
            raise self._refused(response, what, "User API key", INTEGRATIONS_PERMISSION)
        body = self._json(response)
        if not isinstance(body, dict):
            return {}
        return {
            str(category): [i for i in items if isinstance(i, dict)]
            for category, items in body.items()
            if isinstance(items, list)
        }

    def _integration(self, response: httpx.Response, sent: dict[str, Any]) -> dict[str, Any]:
        """The integration in an answer (an array of one, as documented), else what was
        sent (an answer without a body)."""
        found = items_of(self._json(response), "items", "integrations")
        return found[0] if found else sent


#: Notifications Webhook v2 (BigPanda's Notifications API).
WEBHOOK_V2_PATH = "/resources/v2.1/integrations"
DYNAMIC_VARIABLES_PATH = "/resources/v2.1/fields-resolver/workflows"
INTEGRATIONS_PERMISSION = "Integrations (full access)"
