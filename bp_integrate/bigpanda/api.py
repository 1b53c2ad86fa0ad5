"""The BigPanda API calls bp-integrate makes: checking a User API key, and the calls
`verify` makes (Alerts API, Incidents v2 search and get, activities, environments)
through one rate-limited client that honours 429.

BigPanda documents "BigPanda APIs are limited to 5 requests per second" and 429 as
the only signal: `BigPandaClient` spaces its calls at least 0.2 s apart and, on 429,
waits (Retry-After when given, else 1, 2, 4... s) before trying again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bp_integrate.errors import BPError, ExitCode, NetworkError

if TYPE_CHECKING:
    import httpx

ENVIRONMENTS_PATH = "/resources/v2.0/environments"
ALERTS_PATH = "/data/v2/alerts"
INCIDENTS_PATH = "/resources/v2.0/incidents"
#: BigPanda's documented limit: 5 requests per second.
MIN_INTERVAL = 0.2
#: 429s in a row before a call gives up.
MAX_RETRIES_429 = 6


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


@dataclass
class Pacer:
    """Keeps calls at least `interval` apart and waits out 429s (one per API host)."""

    interval: float = MIN_INTERVAL
    sleep: Callable[[float], None] = time.sleep
    _last: float = field(default=0.0, repr=False)
    waited_429: int = 0

    def wait(self) -> None:
        gap = self._last + self.interval - time.monotonic()
        if gap > 0:
            self.sleep(gap)
        self._last = time.monotonic()

    def call(self, send: Callable[[], httpx.Response], what: str, limit: str) -> httpx.Response:
        """`send()` paced; on 429 wait (Retry-After, else doubling) and try again."""
        backoff = 1.0
        for _ in range(MAX_RETRIES_429 + 1):
            self.wait()
            response = send()
            if response.status_code != 429:
                return response
            self.waited_429 += 1
            delay = retry_after(response.headers.get("Retry-After"), backoff)
            backoff = min(backoff * 2, 30.0)
            self.sleep(delay)
        raise APIError(
            f"{what}: still rate limited (429) after {MAX_RETRIES_429} tries.",
            f"{limit} Run again later, or stop other tools that use the same key.",
            429,
        )


def retry_after(header: str | None, default: float) -> float:
    """Seconds from a Retry-After header (delta seconds or an HTTP date, read by the one
    parser the sends use), bounded to 60; else `default`."""
    from bp_integrate.http import retry_after_seconds

    seconds = retry_after_seconds(header)
    return default if seconds is None else min(seconds, 60.0)


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

    def _refused(self, response: httpx.Response, what: str, token_kind: str) -> APIError:
        status = response.status_code
        if status == 401:
            return APIError(
                f"{what}: BigPanda refused the {token_kind} (401).",
                f"Check the {token_kind} and the region: a key of the other region answers "
                "401 here (bp-integrate profile set --region us|eu).",
                status,
            )
        if status == 403:
            return APIError(
                f"{what}: the {token_kind} lacks permission (403).",
                "Give the key's user a role that can read incidents and environments.",
                status,
            )
        return APIError(f"{what}: BigPanda answered {status}.", "Try again later.", status)

    def environments(self) -> list[dict[str, Any]]:
        what = "Listing BigPanda environments"
        response = self._call("GET", ENVIRONMENTS_PATH, self._user_key, what)
        if response.status_code != 200:
            raise self._refused(response, what, "User API key")
        return items_of(self._json(response), "items", "environments")

    def send_alert(self, alert: Mapping[str, Any]) -> int:
        """POST one alert; the status (201/202, or 204 for an exact duplicate)."""
        what = "Sending the canary alert"
        response = self._call("POST", ALERTS_PATH, self._org_token, what, body=dict(alert))
        if response.status_code in (200, 201, 202, 204):
            return response.status_code
        if response.status_code == 400:
            body = self._json(response)
            detail = body.get("message") if isinstance(body, dict) else None
            raise APIError(
                f"{what}: BigPanda refused it (400{': ' + str(detail) if detail else ''}).",
                "Check the canary app key: it must be the App Key of an Alerts REST API "
                "integration (Integrations -> Alerts REST API): bp-integrate profile set "
                "--canary-app-key KEY.",
                400,
            )
        raise self._refused(response, what, "org token")

    def search(self, environment_id: str, query: str) -> list[dict[str, Any]]:
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
        return items_of(self._json(response), "items", "incidents")

    def incident(self, environment_id: str, incident_id: str) -> dict[str, Any]:
        what = f"Reading incident {incident_id}"
        path = f"{ENVIRONMENTS_PATH}/{environment_id}/incidents/{incident_id}"
        response = self._call("GET", path, self._user_key, what)
        if response.status_code != 200:
            raise self._refused(response, what, "User API key")
        body = self._json(response)
        return body if isinstance(body, dict) else {}

    def activities(self, incident_id: str, types: str) -> list[dict[str, Any]]:
        what = f"Reading the activities of incident {incident_id}"
        path = f"{INCIDENTS_PATH}/{incident_id}/activities"
        response = self._call("GET", path, self._user_key, what, params={"types": types})
        if response.status_code != 200:
            raise self._refused(response, what, "User API key")
        return items_of(self._json(response), "items", "activities")
