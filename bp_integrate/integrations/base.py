"""What an integration is: its fields, its install and uninstall steps, what to paste
into BigPanda, and how a BigPanda event turns into requests to the target.

An integration is one module in this package defining a subclass of `Integration`
named `INTEGRATION`; the registry finds it by module name.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from bp_integrate.errors import UsageError
from bp_integrate.redact import mask_header_value
from bp_integrate.urls import (
    MASK,
    has_masked_secret,
    mask_url,
    split_url_secrets,
    wire_problem,
)

Confidence = Literal["C", "S", "G"]
Checker = Callable[[str, Mapping[str, str]], str]


@dataclass(frozen=True)
class Field:
    """One value the admin supplies. `check` normalises it or raises UsageError."""

    name: str
    label: str
    help: str
    secret: bool = False
    required: bool = True
    default: str | None = None
    choices: tuple[str, ...] = ()
    check: Checker | None = None
    when: Callable[[Mapping[str, str]], bool] | None = None
    default_from: Callable[[Mapping[str, str]], str | None] | None = None
    #: A URL whose credential-like query parameters (`apiKey`, `token`, `sig`...: whatever
    #: `is_secret_name` says) are secrets: split off into the secret store (the YAML keeps
    #: `?token=****`), refused on argv and in answers files, masked wherever shown. Every
    #: URL setting is one (`is_url_setting`); nothing needs to say so.
    url_with_secrets: bool = False
    #: A BigPanda User API key: checked against BigPanda before it is stored.
    bigpanda_key: bool = False
    #: May span lines (a JSON document); every other value is one line.
    multiline: bool = False
    #: A comma-separated list of names (recipients): an answers file may give a YAML
    #: list, and the value is stored normalised (`a, b`: no blanks, no empty names).
    list_value: bool = False
    confidence: Confidence = "C"
    #: False: never asked at a prompt; given (flag, file, environment, the target's API),
    #: else kept, else its default (a record such as the service it was made on).
    asked: bool = True
    #: For a value that is the identity of what install makes on the target's side (Webhook
    #: v2's name, whose id in BigPanda is `webhook_v2.<name>`): what a value names there. A
    #: re-install that changes it is refused: it would make a second one and leave the
    #: first with nothing here to remove it (`wizard.identity_changed`).
    identifies: Callable[[str], str] | None = None

    def __post_init__(self) -> None:
        if not self.secret and is_url_setting(self.name):
            object.__setattr__(self, "url_with_secrets", True)

    def applies(self, values: Mapping[str, str]) -> bool:
        return self.when is None or self.when(values)

    def default_for(self, values: Mapping[str, str]) -> str | None:
        if self.default_from is not None:
            found = self.default_from(values)
            if found is not None:
                return found
        return self.default

    def validate(self, raw: str, values: Mapping[str, str]) -> str:
        # Surrounding blanks are never part of a value (a pasted secret often brings a
        # space or a newline with it); blanks inside are kept (and checked).
        value = raw.strip()
        if not self.multiline and any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise UsageError(
                f"{self.label} contains a line break or another control character.",
                "Paste the value on one line (a stray newline usually means a bad copy).",
            )
        problem = wire_problem(self.name, value, self.secret, self.multiline)
        if problem:
            raise UsageError(f"{self.label} {problem}", "Check that the whole value was copied.")
        if not value:
            if self.required:
                raise UsageError(f"{self.label} is required.", self.help)
            return ""
        if self.choices and value not in self.choices:
            from bp_integrate.errors import nearest

            guess = nearest(value, list(self.choices))
            raise UsageError(
                f"{self.name} must be one of {', '.join(self.choices)}, not {value!r}.",
                (f"Did you mean {guess!r}? " if guess else "") + self.help,
            )
        if self.check is None:
            return value
        try:
            return self.check(value, values)
        except ValueError as exc:  # e.g. urlsplit: "Invalid IPv6 URL" for "https://[x/"
            detail = "" if self.secret else f": {exc}"
            raise UsageError(f"{self.label} is not valid{detail}.", self.help) from None


def is_url_setting(name: str) -> bool:
    """Whether a field holds a URL (`url`, `trigger_url`, `events_url`...): any URL may
    carry a key in its query (`?token=`, `?apiKey=`), so every URL setting splits its
    secrets off the same way (`Field.url_with_secrets`)."""
    return name == "url" or name.endswith("_url")


@dataclass(frozen=True)
class Step:
    """One thing the admin does, on one system. `text` may name fields as {field}."""

    system: str
    title: str
    text: str
    asks: tuple[str, ...] = ()
    checkpoint: bool = False
    confidence: Confidence = "C"
    #: The step where the admin pastes: the walkthrough shows the values before "Done?".
    shows_paste: bool = False
    #: Only for some settings (one of two setups, say); decided when the step comes up.
    when: Callable[[Mapping[str, str]], bool] | None = None

    def applies(self, values: Mapping[str, str]) -> bool:
        return self.when is None or self.when(values)


@dataclass(frozen=True)
class PasteItem:
    """One value the admin pastes somewhere (BigPanda, or Panopta for Panopta).

    `key` names it for `show INTEGRATION --field KEY` (`url`, `header:Authorization`,
    `integration_key`, `outage.payload`...); `value` is text, or JSON data for a payload;
    `group` is a heading it sits under (one Panopta webhook of two, say).
    """

    key: str
    label: str
    value: Any
    secret: bool = False
    group: str = ""

    @property
    def header(self) -> str | None:
        """The header's name, for a header item."""
        kind, sep, name = self.key.partition(":")
        return name if sep and kind == "header" else None

    def shown(self, show_secrets: bool) -> Any:
        """The value as shown: masked (`Basic ****`, `...?apiKey=****`) unless asked."""
        if show_secrets or not self.secret or not isinstance(self.value, str):
            return self.value
        if self.header is not None:
            return mask_header_value(self.value)
        if self.value.startswith(("http://", "https://")):
            return mask_url(self.value)
        return MASK

    def to_json(self, show_secrets: bool) -> dict[str, Any]:
        """The item as `--json` gives it; `missing` is true (and `value` null) where a
        secret it holds is not set (`show`, bp_integrate.wizard.paste)."""
        return {
            "key": self.key,
            "label": self.label,
            "value": self.shown(show_secrets),
            "secret": self.secret,
            "group": self.group,
            "missing": False,
        }


@dataclass(frozen=True)
class Webhook:
    """What to paste into BigPanda: the URL and every header."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    secret_headers: frozenset[str] = frozenset()

    def masked(self) -> Webhook:
        headers = {
            name: mask_header_value(value) if name in self.secret_headers else value
            for name, value in self.headers.items()
        }
        return Webhook(mask_url(self.url), headers, self.secret_headers)


def webhook_url_item(hook: Webhook, label: str = "Callback URL", key: str = "url") -> PasteItem:
    secret = bool(split_url_secrets(hook.url)[1]) or has_masked_secret(hook.url)
    return PasteItem(key, label, hook.url, secret=secret)


def header_items(hook: Webhook, group: str = "") -> list[PasteItem]:
    return [
        PasteItem(f"header:{name}", name, value, name in hook.secret_headers, group)
        for name, value in hook.headers.items()
        if name.lower() != "content-type"
    ]


def basic_auth(username: str, password: str) -> str:
    """`Basic ` + base64(UTF-8 `user:password`), per RFC 7617."""
    if ":" in username:
        raise UsageError(
            f"The user name {username!r} contains ':', which Basic auth cannot carry "
            "(RFC 7617: the user-id ends at the first colon).",
            "Use the integration user's name without ':'; the password may contain ':'.",
        )
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


@dataclass(frozen=True)
class SendOptions:
    """How a replayed event is sent (set by send-test / replay)."""

    test_marker: bool = True


@dataclass(frozen=True)
class PlannedRequest:
    """One HTTP request exactly as it will go on the wire."""

    integration: str
    event: str
    method: str
    url: str
    headers: dict[str, str]
    body: Any
    response_id_key: str | None = None
    secret_headers: frozenset[str] = frozenset()
    label: str = ""
    #: Values that must never be shown or recorded (a routing key in the body, say).
    secret_values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Skipped:
    """An event this target cannot take, and why."""

    integration: str
    event: str
    reason: str


Planned = PlannedRequest | Skipped


@dataclass(frozen=True)
class ReadQuery:
    """One read-back (or clean-up) request to a target's own API, exactly as sent."""

    method: str
    url: str
    headers: dict[str, str]
    params: dict[str, str] = field(default_factory=dict)
    body: Any = None


@dataclass(frozen=True)
class TargetRecord:
    """What a target holds for one BigPanda incident: its id there and its state
    (``open`` or ``resolved``), the target's own word for it (``triggered``...), and
    when the target says it was created (unix seconds; None when it does not say).

    Read-back judges only records a run made: the newest created at or after the run's
    first send (`readback.judged`), never "any record in the wanted state"."""

    id: str
    state: Literal["open", "resolved"]
    status: str
    created_at: float | None = None


def timestamp(value: Any) -> float | None:
    """Unix seconds of a target's creation time: an ISO 8601 string (``Z`` or an
    offset; a naive one is UTC) or a number; None for anything else."""
    from datetime import UTC, datetime

    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def records_of(
    answer: Any, key: str, resolved: str, created_key: str = "created_at"
) -> list[TargetRecord]:
    """The records listed under `key` of a JSON answer, `resolved` being the target's
    word for a resolved one and `created_key` the field of its creation time (read-back
    answers of the REST APIs that list objects)."""
    items = answer.get(key) if isinstance(answer, dict) else None
    return [
        TargetRecord(
            str(item.get("id", "")),
            "resolved" if item.get("status") == resolved else "open",
            str(item.get("status", "")),
            timestamp(item.get(created_key)),
        )
        for item in items or []
        if isinstance(item, dict)
    ]


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL (the target's API lives on the same host)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


AUTOSHARE_REMINDER = (
    "Create an AutoShare rule for this integration in BigPanda (Settings -> AutoShare), "
    "one per Environment whose incidents it should receive. A new rule shares only new "
    "incidents (and old ones that re-open or start flapping): incidents that already exist "
    "are not shared."
)

UNINSTALL_FIRST: tuple[Step, ...] = (
    Step(
        "BigPanda",
        "Replacing it? Configure the new integration first",
        "If another tool replaces this one, set that one up before removing this, so no "
        "incident goes unshared in between.",
        checkpoint=True,
    ),
)

UNINSTALL_STOP_SENDING = Step(
    "BigPanda",
    "Stop sending",
    "Settings -> AutoShare: disable or delete the rules that share to this integration, "
    "and remove it from the Environments that use it.",
    checkpoint=True,
)

UNINSTALL_DELETE_IN_BIGPANDA = Step(
    "BigPanda",
    "Delete the integration in BigPanda",
    "Integrations -> the integration -> trash icon. Do this last: once the App Key is gone, "
    "the other system's traffic to BigPanda is rejected. Deleting removes no data from "
    "BigPanda or the other system; remove old incidents there by hand if you need to.",
    checkpoint=True,
)


class Integration:
    """Base class: subclasses set the class attributes and override what differs."""

    name: ClassVar[str]
    title: ClassVar[str]
    summary: ClassVar[str]
    fields: ClassVar[tuple[Field, ...]]
    install_steps: ClassVar[tuple[Step, ...]]
    uninstall_steps: ClassVar[tuple[Step, ...]]
    doc_page: ClassVar[str] = ""
    #: Other spellings `get()` accepts (`incident.io`, `pd`).
    aliases: ClassVar[tuple[str, ...]] = ()
    #: How to make the target's side by API (None: by hand only).
    target_side: ClassVar[TargetSide | None] = None
    #: What the install makes depends on the BigPanda region (PagerDuty's EU events host,
    #: a side made in BigPanda by API): a profile with no region is asked it first.
    region_bound: ClassVar[bool] = False

    # -- fields -------------------------------------------------------------------
    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        from bp_integrate.errors import nearest

        guess = nearest(name, [f.name for f in self.fields])
        raise UsageError(
            f"{self.name} has no field {name!r}.",
            (f"Did you mean {guess!r}? " if guess else "")
            + f"Fields: {', '.join(f.name for f in self.fields)}.",
        )

    def secret_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.secret)

    #: The fields holding what the target checks when it takes a send (a key, a password,
    #: a URL carrying its key), likeliest first: what its 401/403 points at. Empty: every
    #: secret and URL setting the admin gives, but BigPanda's own keys (its User API key;
    #: `app_key`, the App Key BigPanda gave the integration, never sent to the target).
    credential_fields: ClassVar[tuple[str, ...]] = ()

    def refused_fields(self) -> tuple[str, ...]:
        """`credential_fields`, or the ones its comment says when it is empty."""
        if self.credential_fields:
            return self.credential_fields
        return tuple(
            f.name
            for f in self.fields
            if (f.secret or f.url_with_secrets)
            and f.asked
            and not f.bigpanda_key
            and f.name != "app_key"
        )

    def refused_fix(self, profile: str | None = None) -> str:
        """What to run when the target refused a send's credentials (401/403): `set` the
        field that holds them (quicker than a new walkthrough), or install it again."""
        from bp_integrate.errors import command_for

        first, *others = self.refused_fields()
        fix = command_for(profile, f"set {self.name} {first}")
        if others:
            fix += f" (or {', '.join(others)}, whichever this install uses)"
        return f"{fix}; or install it again: {command_for(profile, f'install {self.name}')}"

    def warnings(self, values: Mapping[str, str]) -> list[str]:
        """Things that are allowed but look wrong (shown, not refused)."""
        return []

    # -- secrets ------------------------------------------------------------------
    def secrets(self, values: Mapping[str, str]) -> list[str]:
        """Every secret these settings hold, in the forms they travel in (a key inside a
        URL, a whole Authorization value and its token): what the redactor must know."""
        found = [values[f.name] for f in self.fields if f.secret and values.get(f.name)]
        for f in self.fields:
            if f.url_with_secrets and values.get(f.name):
                found += split_url_secrets(values[f.name])[1].values()
        try:
            hook = self.webhook(values)
        except (KeyError, NotImplementedError):
            return found
        for header in hook.secret_headers:
            value = hook.headers.get(header, "")
            _scheme, sep, token = value.partition(" ")
            found += [value, token] if sep else [value]
        return [v for v in found if v]

    def event_secrets(self, incident: Mapping[str, Any], values: Mapping[str, str]) -> list[str]:
        """Secrets an incident carries for this integration (PagerDuty's override key in
        an alert tag): learnt for every event, whether this integration is sent to or not."""
        return []

    def urls(self, values: Mapping[str, str]) -> list[str]:
        """Every URL this integration may send to (its webhook and URL settings)."""
        found = [v for v in values.values() if v.startswith(("http://", "https://"))]
        try:
            hook = self.webhook(values).url
        except (KeyError, NotImplementedError):
            return found
        return found if hook in found else [*found, hook]

    # -- what to paste --------------------------------------------------------------
    #: Where the admin pastes (`show` says "paste into ...").
    paste_target: ClassVar[str] = "BigPanda"
    #: What BigPanda's `incident_shared` activity names this kind of integration by:
    #: `params.share_target` is `<share_system>.<integration name>` (`webhook.whtest` in
    #: BigPanda's Activities reference [C for webhooks]; the other systems' words [G]).
    share_system: ClassVar[str] = "webhook"

    def webhook(self, values: Mapping[str, str]) -> Webhook:
        raise NotImplementedError

    def paste(self, values: Mapping[str, str]) -> list[PasteItem]:
        """What the admin pastes, in order: by default the webhook's Callback URL and
        each header BigPanda must send (not Content-Type: every request has it)."""
        hook = self.webhook(values)
        return [webhook_url_item(hook), *header_items(hook)]

    def final_notes(self, values: Mapping[str, str]) -> list[str]:
        return [AUTOSHARE_REMINDER]

    def full_uninstall_steps(self) -> tuple[Step, ...]:
        return UNINSTALL_FIRST + self.uninstall_steps

    # -- replay -----------------------------------------------------------------------
    def plan(
        self,
        event: str,
        incident: dict[str, Any],
        body: dict[str, Any],
        values: Mapping[str, str],
        options: SendOptions,
    ) -> list[Planned]:
        """The requests BigPanda would send to this target for `event`.

        By default: BigPanda's webhook body, as is, to the pasted webhook with its
        headers (xMatters and incident.io read the native payload). Targets that
        need another wire format override this.
        """
        hook = self.webhook(values)
        return [
            PlannedRequest(
                self.name,
                event,
                "POST",
                hook.url,
                dict(hook.headers),
                body,
                response_id_key=self.response_id_key,
                secret_headers=hook.secret_headers,
                label=self.request_label,
            )
        ]

    #: The key of the target's id in its JSON answer (shown after each send).
    response_id_key: ClassVar[str | None] = None
    request_label: ClassVar[str] = "webhook"

    #: The event that closes a test incident on this target (replay cleanup).
    close_event: ClassVar[str] = "incident#closed"

    # -- read-back (verify, send-test --verify) -----------------------------------------
    #: Optional credentials of the target's own API that let bp-integrate read back what
    #: a share created there. Kept in the profile's secret store, asked only when the
    #: admin opts in to verify; never part of `fields` (install does not need them).
    readback_fields: ClassVar[tuple[Field, ...]] = ()

    def readback_query(
        self, incident_id: str, values: Mapping[str, str], creds: Mapping[str, str]
    ) -> ReadQuery | None:
        """The request that finds what this target made of BigPanda incident
        `incident_id` (None: this target cannot be read back)."""
        return None

    def readback_records(
        self, answer: Any, creds: Mapping[str, str] | None = None
    ) -> list[TargetRecord]:
        """The records in the target's JSON answer to `readback_query` (`creds`: the
        read-back settings, some of which may say how to read the answer)."""
        return []

    def terminate_query(
        self, record: TargetRecord, values: Mapping[str, str], creds: Mapping[str, str]
    ) -> ReadQuery | None:
        """A request that ends an open record at the target, when its API has one."""
        return None

    def readback_secrets(self, creds: Mapping[str, str]) -> list[str]:
        """The read-back secrets in the forms they travel in (for the redactor)."""
        found = [creds[f.name] for f in self.readback_fields if f.secret and creds.get(f.name)]
        return found


# -- the target's side by API ---------------------------------------------------------
# Half of an install is done in the target's own tool: a PagerDuty service integration,
# an incident.io alert source (BigPanda's Webhook v2, for the BigPanda side). Where the
# vendor has an API for it, the integration declares a `TargetSide`: it plans the calls
# (shown first, and all that `--dry-run` does), makes them, finds what an earlier run
# made (a re-run reuses it, never duplicates), and removes it (or says where to, by
# hand). install and uninstall call it generically: no command names an integration.


@dataclass(frozen=True)
class ApiCall:
    """One call to a vendor's API as it is shown before it is made: the body with every
    secret masked (the real call is made by `TargetSide.apply`/`remove`)."""

    method: str
    url: str
    what: str
    body: Any = None

    def shown(self) -> str:
        import json

        text = f"{self.method} {self.url}"
        return text if self.body is None else f"{text} {json.dumps(self.body)}"

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "url": self.url, "what": self.what, "body": self.body}


@dataclass(frozen=True)
class Choice:
    """One thing on the target's side to create in (a PagerDuty service)."""

    id: str
    name: str

    @property
    def label(self) -> str:
        return f"{self.name} ({self.id})"


@dataclass(frozen=True)
class Made:
    """What is on the target's side: the integration's values it fills (secrets
    included: never shown), what it is (named so the admin can find it), where it is in
    the vendor's UI, and whether this run created it (else: found and reused)."""

    values: dict[str, str]
    description: str
    where: str
    created: bool = False
    #: Found and changed to match (a PATCH), not created and not merely reused.
    updated: bool = False


@dataclass(frozen=True)
class SidePlan:
    """What `install` does on the target's side: the writes still to make, what was
    found (reused instead: no writes), and what `apply` needs to make the writes. The
    reads made to decide are in the client's `log`."""

    writes: tuple[ApiCall, ...]
    existing: Made | None = None
    choice: Choice | None = None
    context: dict[str, str] = field(default_factory=dict)


class ApiClient:
    """Calls to one vendor's API for a `TargetSide`: through the one HTTP client factory
    (`http.sync_client`), spaced and patient with 429 by BigPanda's `Pacer` (which
    honours Retry-After and PagerDuty's `ratelimit-reset`), every error mapped to a
    message naming the fix (the key, the permission it lacks, the rate limit)."""

    #: How the client waits (a test replaces it to run rate limits without waiting).
    sleep: ClassVar[Callable[[float], None] | None] = None

    def __init__(self, side: TargetSide, base_url: str, key: str, timeout: float = 15.0) -> None:
        from bp_integrate.bigpanda.api import Pacer
        from bp_integrate.http import sync_client

        self.side = side
        self.base_url = base_url.rstrip("/")
        self._key = key
        self.timeout = timeout
        self.pacer = Pacer(interval=side.interval)
        if ApiClient.sleep is not None:
            self.pacer.sleep = ApiClient.sleep
        self._client = sync_client(timeout)
        #: Every call made, in order (shown: what a plan read before deciding).
        self.log: list[ApiCall] = []

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def url(self, path: str) -> str:
        return self.base_url + path

    def call(
        self,
        method: str,
        path: str,
        what: str,
        params: Mapping[str, str | list[str]] | None = None,
        body: Any = None,
        missing_ok: bool = False,
    ) -> Any:
        """The JSON answer of one call (None for no body, or a 404 with `missing_ok`);
        any other error status raises `APIError` naming the fix."""
        import httpx

        from bp_integrate.bigpanda.api import APIError
        from bp_integrate.errors import NetworkError

        shown = self.url(path)
        if params:
            from urllib.parse import urlencode

            shown += "?" + urlencode(dict(params), doseq=True)
        self.log.append(ApiCall(method, shown, what, body))

        def send() -> httpx.Response:
            return self._client.request(
                method,
                self.url(path),
                params=dict(params or {}),
                json=body,
                headers=self.side.auth(self._key),
            )

        try:
            response = self.pacer.call(send, what, self.side.rate_limit)
        except (httpx.HTTPError, OSError) as exc:
            from bp_integrate.failures import classify

            failure = classify(exc)
            raise NetworkError(
                f"{what}: {self.side.system} did not answer at {self.base_url} "
                f"({failure.message}).",
                failure.fix[0].upper() + failure.fix[1:],
            ) from None
        status = response.status_code
        if status == 404 and missing_ok:
            return None
        if status >= 400:
            raise APIError(*self.side.refused(what, status, _answer(response)), status)
        return _answer(response)


def _answer(response: Any) -> Any:
    try:
        return response.json() if response.content else None
    except ValueError:
        return None


class TargetSide:
    """How an integration creates, finds and removes its side on the target by API.

    Subclasses set the class attributes and the calls; `Integration.target_side` holds
    one (None: that side is made by hand only). The API key is the integration's
    read-back key (`key_field`, the one `verify` reads back with): one key per vendor
    API, read-only for verify, with write access for this.
    """

    system: ClassVar[str]
    #: What is made there, e.g. "Events API v2 integration".
    what: ClassVar[str]
    #: Its name there, so it is recognisable (and found again by a re-run).
    name: ClassVar[str] = "BigPanda"
    key_label: ClassVar[str]
    #: Where to make such a key, and which permission it needs.
    key_help: ClassVar[str]
    permission: ClassVar[str]
    #: The read-back field of the integration that holds the key.
    key_field: ClassVar[str] = "readback_api_key"
    #: What the vendor's rate limit is and how it says when to retry.
    rate_limit: ClassVar[str] = ""
    #: Seconds between two calls (the vendor's documented limit, with room).
    interval: ClassVar[float] = 0.25
    #: Titles of the install steps the API does instead (skipped, their values filled).
    replaces_steps: ClassVar[tuple[str, ...]] = ()
    #: Title of the uninstall step that removes it (by API when `removal` has calls).
    removal_step: ClassVar[str] = ""
    #: What must be chosen first ("service"), and the install flag that gives it.
    choice_label: ClassVar[str] = ""
    choice_flag: ClassVar[str] = "--service"
    #: The side can be made only by API (BigPanda's Webhook v2): never a paste flow.
    api_only: ClassVar[bool] = False
    #: The side is made from the walkthrough's answers (so after it), not the other way
    #: round (a vendor's key fills the walkthrough: before it).
    after_walkthrough: ClassVar[bool] = False

    #: BigPanda's own side (Webhook v2): reached with the profile's User API key at the
    #: profile's BigPanda host, not with a key and host of the integration's.
    uses_bigpanda: ClassVar[bool] = False

    def auth(self, key: str) -> dict[str, str]:
        raise NotImplementedError

    def api_url(self, values: Mapping[str, str]) -> str:
        raise NotImplementedError

    def choices(self, api: ApiClient) -> list[Choice]:
        """What may be chosen (every one the key sees); [] when nothing is chosen."""
        return []

    def plan(self, api: ApiClient, values: Mapping[str, str], choice: Choice | None) -> SidePlan:
        """Find what a run made before (reuse it), else plan the writes; reads only."""
        raise NotImplementedError

    def apply(self, api: ApiClient, plan: SidePlan) -> Made:
        """Make the planned writes; what was made."""
        raise NotImplementedError

    def removal(self, values: Mapping[str, str]) -> list[ApiCall]:
        """The calls that remove it ([]: the API cannot: `by_hand` says where)."""
        return []

    def remove(self, api: ApiClient, values: Mapping[str, str]) -> str:
        """Make the removal calls; what happened, in words."""
        raise NotImplementedError

    def by_hand(self, values: Mapping[str, str]) -> str:
        """Where to remove it in the vendor's UI."""
        raise NotImplementedError

    def held(self, api: ApiClient, values: Mapping[str, str]) -> dict[str, Any] | None:
        """What the target holds for this install, as its API says (`show --remote`);
        None: nothing found, or the target cannot say."""
        return None

    def export(self, held: Mapping[str, Any]) -> str | None:
        """`held` as an answers file install accepts back (`show --export`; config as
        code); None: this side has no such file."""
        return None

    def refused(self, what: str, status: int, answer: Any) -> tuple[str, str]:
        """(message, hint) for an error answer: the key, its permission, the limit."""
        from bp_integrate.failures import clipped

        detail = clipped(self.detail(answer))
        said = f": {detail}" if detail else ""
        if status == 401:
            return (
                f"{what}: {self.system} refused the API key (401{said}).",
                f"Check the {self.key_label}: {self.key_help}",
            )
        if status == 403:
            return (
                f"{what}: the {self.key_label} lacks permission (403{said}).",
                f"It needs {self.permission}. {self.key_help}",
            )
        if status == 429:
            return (f"{what}: {self.system} is rate limiting the key (429).", self.rate_limit)
        return (
            f"{what}: {self.system} answered {status}{said}.",
            "Try again later; if it repeats, do this step by hand (install --by-hand).",
        )

    def detail(self, answer: Any) -> str:
        """The vendor's own words in an error answer (overridden per vendor)."""
        return ""
