"""Generic Notifications Webhook: BigPanda shares incidents to any HTTPS receiver
(Ansible Event-Driven Automation, an internal service, a chat bridge) as its native
webhook body, with the headers the receiver needs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import ClassVar

from bp_integrate.errors import UsageError
from bp_integrate.integrations.base import (
    UNINSTALL_DELETE_IN_BIGPANDA,
    UNINSTALL_STOP_SENDING,
    Field,
    Integration,
    Step,
    Webhook,
)
from bp_integrate.integrations.common import check_token
from bp_integrate.urls import check_url

#: An HTTP header name is a token (RFC 9110, section 5.6.2).
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: Headers that have settings of their own, or that the HTTP client owns.
_RESERVED = frozenset({"authorization", "content-type", "content-length", "host"})


def check_receiver_url(value: str, _values: Mapping[str, str]) -> str:
    return check_url(value, "The receiver URL")


def parse_headers(text: str) -> dict[str, str]:
    """`NAME=VALUE,NAME=VALUE` -> headers, each name a valid HTTP header name."""
    headers: dict[str, str] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name:
            raise UsageError(
                f"{item!r} is not NAME=VALUE.",
                "Headers look like X-Team=ops,X-Source=bigpanda (values cannot hold a comma).",
            )
        if not _HEADER_NAME.fullmatch(name):
            raise UsageError(
                f"{name!r} is not an HTTP header name.",
                "Header names are letters, digits and !#$%&'*+-.^_`|~ (no spaces or ':').",
            )
        if name.lower() in _RESERVED:
            raise UsageError(
                f"{name} cannot be set here.",
                "Put the whole Authorization value in auth_header (it is kept as a secret); "
                "Content-Type, Content-Length and Host are set by BigPanda.",
            )
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise UsageError(f"The value of {name} holds a control character.", "Remove it.")
        headers[name] = value
    return headers


def check_headers(value: str, _values: Mapping[str, str]) -> str:
    headers = parse_headers(value)
    return ",".join(f"{name}={v}" for name, v in headers.items())


def check_auth_header(value: str, _values: Mapping[str, str]) -> str:
    scheme, sep, token = value.partition(" ")
    if sep and (not scheme.isalpha() or not token.strip() or " " in token.strip()):
        raise UsageError(
            "The Authorization value looks wrong.",
            "Give the whole value as the receiver expects it: 'Bearer <token>', "
            "'Basic <base64>' (bp-integrate encode basic-auth makes one), or a bare token.",
        )
    return value.strip()


class NotificationsWebhook(Integration):
    name = "webhook"
    title = "Notifications Webhook"
    summary = "Share incidents to any HTTPS receiver as BigPanda's native webhook body."
    doc_page = "docs/webhook.md"
    aliases = ("notifications-webhook", "generic")
    request_label = "webhook"
    credential_fields = ("auth_header", "url")  # the receiver's token: a header or the URL's

    fields: ClassVar[tuple[Field, ...]] = (
        Field(
            "app_key",
            "BigPanda App Key of the webhook integration (optional, recorded for later)",
            "Optional: recorded so later commands can find this integration in BigPanda.",
            secret=True,
            required=False,
            check=check_token,
        ),
        Field(
            "url",
            "Receiver URL",
            "Where BigPanda posts each incident: an https:// URL your receiver serves "
            "(http:// only on this machine, e.g. the emulator). A key in its query "
            "(?token=...) is a secret: give the whole URL in the environment or at the "
            "prompt, not on the command line.",
            check=check_receiver_url,
            url_with_secrets=True,
        ),
        Field(
            "auth_header",
            "Authorization header value (optional: e.g. 'Bearer <token>')",
            "The whole Authorization value the receiver checks; kept as a secret.",
            secret=True,
            required=False,
            check=check_auth_header,
        ),
        Field(
            "headers",
            "Other headers (optional: NAME=VALUE,NAME=VALUE)",
            "Extra headers the receiver needs, e.g. X-Team=ops (not secret; put secrets "
            "in auth_header).",
            required=False,
            check=check_headers,
        ),
    )

    install_steps: ClassVar[tuple[Step, ...]] = (
        Step(
            "BigPanda",
            "Create the Notifications Webhook integration",
            "Integrations -> New Integration -> Notifications Webhook -> Integrate. Copy the "
            "App Key it shows (optional to record here).",
            asks=("app_key",),
            confidence="S",
        ),
        Step(
            "Receiver",
            "Know where and how BigPanda must post",
            "Your receiver's https:// URL, and what it checks: an Authorization value, "
            "other headers.",
            asks=("url", "auth_header", "headers"),
            checkpoint=True,
        ),
        Step(
            "BigPanda",
            "Configure the webhook",
            "On the integration: Review Instructions -> Configure the Webhook. Paste the "
            "Callback URL, and add each header below with 'Add a custom HTTP header'; then "
            "Configure Webhook.",
            checkpoint=True,
            shows_paste=True,
        ),
    )

    uninstall_steps: ClassVar[tuple[Step, ...]] = (
        UNINSTALL_STOP_SENDING,
        Step(
            "Receiver",
            "Stop accepting BigPanda's posts",
            "Revoke the token in auth_header on the receiver, so a stray post is refused.",
            checkpoint=True,
        ),
        # Not UNINSTALL_DELETE_IN_BIGPANDA: no traffic comes back to BigPanda here.
        Step(
            "BigPanda",
            UNINSTALL_DELETE_IN_BIGPANDA.title,
            "Integrations -> the integration -> trash icon. The webhook only posts from "
            "BigPanda to the receiver (nothing sends to BigPanda with its App Key), so "
            "deleting it ends those posts and nothing else. Deleting removes no data from "
            "BigPanda or the receiver; remove old incidents there by hand if you need to.",
            checkpoint=True,
        ),
    )

    def warnings(self, values: Mapping[str, str]) -> list[str]:
        auth = values.get("auth_header", "").strip()
        if auth and " " not in auth:
            return [
                "The Authorization value has no scheme (Bearer, Basic, ...) before the "
                "token: most receivers expect 'Bearer <token>' (check what yours expects)."
            ]
        return []

    def webhook(self, values: Mapping[str, str]) -> Webhook:
        headers = {"Content-Type": "application/json"}
        secret: frozenset[str] = frozenset()
        if values.get("auth_header"):
            headers["Authorization"] = values["auth_header"]
            secret = frozenset({"Authorization"})
        headers.update(parse_headers(values.get("headers", "")))
        return Webhook(values["url"], headers, secret)


INTEGRATION = NotificationsWebhook()
