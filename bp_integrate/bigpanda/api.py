"""The BigPanda API calls bp-integrate makes: checking a User API key."""

from __future__ import annotations

from collections.abc import Callable

from bp_integrate.errors import BPError, ExitCode, NetworkError

ENVIRONMENTS_PATH = "/resources/v2.0/environments"


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
