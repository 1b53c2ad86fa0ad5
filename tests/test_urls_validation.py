"""URL rules, recipients, and the field checks of each integration."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from helpers import PD_KEY, XM_URL, cli, pasted

from bp_integrate.errors import UsageError
from bp_integrate.integrations import get
from bp_integrate.integrations.common import check_tag_name
from bp_integrate.integrations.pagerduty import check_integration_key, parse_field_map
from bp_integrate.integrations.panopta import target_value
from bp_integrate.integrations.xmatters import check_trigger_url, trigger_url_warnings
from bp_integrate.urls import (
    browser_encoded,
    check_url,
    join_url_secrets,
    mask_url,
    split_url_secrets,
    with_recipients,
)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/x",
        "http://127.0.0.1:8080/x",
        "http://127.9.9.9/x",
        "http://[::1]:9/x",
        "http://localhost/x",
        "http://LOCALHOST:1/x",
    ],
)
def test_https_or_loopback_accepted(url: str) -> None:
    assert check_url(url, "The URL") == url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://example.com/x", "must use https, not http (example.com)"),
        ("http://128.0.0.1/x", "must use https"),
        ("http://localhost.evil.com/x", "must use https"),
        ("http://10.0.0.1/x", "must use https"),
        ("ftp://example.com/x", "The URL uses ftp://; only https:// is accepted."),
        ("example.com/x", "is not an absolute URL"),
        ("https://user:pw@example.com/x", "carries a user name or password"),
    ],
)
def test_other_urls_refused(url: str, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_url(url, "The URL")


def test_refusal_never_shows_the_api_key() -> None:
    with pytest.raises(UsageError) as info:
        check_url("x.example/?apiKey=hush", "The URL")
    assert "hush" not in str(info.value)
    assert "apiKey=****" in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/a b",
        "https://example.com/x?team=Cloud Devops",
        "https://example.com/x\n/y",
        "https://example.com/x\ty",
        "https://exa mple.com/x",
        "https://example.com/\u00a0x",  # a no-break space, as web pages paste it
        "https://example.com/x#a b",
    ],
)
def test_whitespace_inside_a_url_is_refused(url: str) -> None:
    with pytest.raises(UsageError, match="The URL holds a space or line break") as info:
        check_url(url, "The URL")
    assert "%20" in info.value.hint


@pytest.mark.parametrize("url", ["https://example.com/\x00", "https://example.com/x\x7f"])
def test_control_characters_are_refused(url: str) -> None:
    with pytest.raises(UsageError, match="holds a control character"):
        check_url(url, "The URL")


def test_surrounding_whitespace_is_dropped() -> None:
    assert check_url("  https://example.com/x\n", "The URL") == "https://example.com/x"


@pytest.mark.parametrize(
    ("url", "sent"),
    [
        # Path and query: UTF-8, percent-encoded; escapes already there are kept.
        ("https://example.com/café?q=ü", "https://example.com/caf%C3%A9?q=%C3%BC"),
        ("https://example.com/a%20b/é?x=%41", "https://example.com/a%20b/%C3%A9?x=%41"),
        ("https://example.com/パス", "https://example.com/%E3%83%91%E3%82%B9"),
        ("https://example.com/x#frag-ö", "https://example.com/x#frag-%C3%B6"),
        # What a browser encodes among ASCII: " < > ` { } in a path, " ' < > in a query.
        ("https://example.com/a{b}", "https://example.com/a%7Bb%7D"),
        ("https://example.com/x?q=<'1'>", "https://example.com/x?q=%3C%271%27%3E"),
        # The host: IDNA (UTS #46, non-transitional as browsers are); the port kept.
        ("https://Bücher.example:8443/x", "https://xn--bcher-kva.example:8443/x"),
        ("https://faß.de/", "https://xn--fa-hia.de/"),
        ("https://例え.テスト/", "https://xn--r8jz45g.xn--zckzah/"),
        (  # a full-width "localhost" is localhost, so plain http is accepted
            "http://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54:9/x",
            "http://localhost:9/x",
        ),
        # Nothing to do: exactly as given (case, empty query and all).
        ("https://EXAMPLE.com/A?", "https://EXAMPLE.com/A?"),
    ],
)
def test_non_ascii_is_encoded_as_a_browser_would(url: str, sent: str) -> None:
    assert check_url(url, "The URL") == sent
    assert browser_encoded(sent) == sent  # encoding an encoded URL changes nothing


def test_a_host_that_is_no_international_domain_name_is_refused() -> None:
    with pytest.raises(UsageError, match="not a valid international domain name"):
        check_url("https://a\u200db.example/", "The URL")


class _Recorder(ThreadingHTTPServer):
    """A real HTTP server on loopback that keeps the request target of each POST as it
    arrived on the wire (BaseHTTPRequestHandler does not decode it)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Recording)
        self.paths: list[str] = []


class _Recording(BaseHTTPRequestHandler):
    server: _Recorder

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.paths.append(self.path)
        self.send_response(202)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def recorder() -> Iterator[_Recorder]:
    server = _Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def _install_webhook(url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("BP_INTEGRATE_WEBHOOK_AUTH_HEADER", "Bearer t0ken-for-the-test")
    return cli(
        "install", "webhook", "--no-input", "--no-verify", "--secret-store", "env", "--json",
        "--set", f"url={url}",
    )  # fmt: skip


def test_a_non_ascii_url_reaches_a_real_server_encoded(
    recorder: _Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = f"http://127.0.0.1:{recorder.server_address[1]}"
    result = _install_webhook(f"{base}/hooks/café/Ölmühle?team=Zürich&x=%41", monkeypatch)
    assert result.exit_code == 0, result.stderr
    target = "/hooks/caf%C3%A9/%C3%96lm%C3%BChle?team=Z%C3%BCrich&x=%41"
    assert pasted(json.loads(result.stdout), "url") == base + target  # what BigPanda gets
    sent = cli("send-test", "new", "--to", "webhook")
    assert sent.exit_code == 0, sent.stdout + sent.stderr
    assert recorder.paths == [target]


def test_install_refuses_a_url_with_a_space(monkeypatch: pytest.MonkeyPatch) -> None:
    result = _install_webhook("http://127.0.0.1:9/hooks/Cloud Devops", monkeypatch)
    assert result.exit_code == 2
    assert "The receiver URL holds a space or line break (character 31)" in result.stderr
    assert "%20" in result.stderr


def test_xmatters_trigger_path() -> None:
    assert check_trigger_url(XM_URL + "?apiKey=k", {}) == XM_URL + "?apiKey=k"
    assert check_trigger_url(XM_URL + "/", {}) == XM_URL + "/"
    for bad in (
        "https://acme.xmatters.com/api/integration/1/functions/not-a-uuid/triggers",
        "https://acme.xmatters.com/api/integration/1/functions/",
        "https://acme.xmatters.com/",
    ):
        with pytest.raises(UsageError, match="is not an xMatters HTTP trigger path"):
            check_trigger_url(bad, {})


def test_xmatters_host_warning() -> None:
    assert trigger_url_warnings(XM_URL) == []
    assert trigger_url_warnings("http://127.0.0.5/x") == []
    assert trigger_url_warnings("http://[::1]/x") == []
    assert trigger_url_warnings("https://xmatters.com.evil.example/x") == [
        "xmatters.com.evil.example is not an xmatters.com host: check that this is your "
        "xMatters instance."
    ]


# ---------------------------------------------------------------- recipients
@pytest.mark.parametrize(
    ("url", "names", "expected"),
    [
        (
            "https://x.example/t?apiKey=k&recipients=jdoe",
            ["Cloud Devops", "jdoe"],
            "https://x.example/t?apiKey=k&recipients=jdoe,Cloud%20Devops",
        ),
        ("https://x.example/t?apiKey=k", ["a", "b"], "https://x.example/t?apiKey=k&recipients=a,b"),
        ("https://x.example/t", ["Cloud Devops"], "https://x.example/t?recipients=Cloud%20Devops"),
        (
            "https://x.example/t?recipients=Cloud%20Devops",
            ["Cloud Devops", "a&b"],
            "https://x.example/t?recipients=Cloud%20Devops,a%26b",
        ),
        ("https://x.example/t?apiKey=k", [], "https://x.example/t?apiKey=k"),
    ],
)
def test_with_recipients(url: str, names: list[str], expected: str) -> None:
    assert with_recipients(url, names) == expected


def test_xmatters_webhook_recipients_from_field() -> None:
    xm = get("xmatters")
    hook = xm.webhook(
        {
            "trigger_url": XM_URL + "?apiKey=k&recipients=jdoe",
            "auth": "url",
            "recipients": "Cloud Devops, jdoe",
        }
    )
    assert hook.url == XM_URL + "?apiKey=k&recipients=jdoe,Cloud%20Devops"
    assert hook.masked().url == XM_URL + "?apiKey=****&recipients=jdoe,Cloud%20Devops"


# ------------------------------------------------------------- URL secrets
def test_mask_split_join_round_trip() -> None:
    url = "https://x.example/t?apiKey=a%2Fb&recipients=jdoe&token=t"
    assert mask_url(url) == "https://x.example/t?apiKey=****&recipients=jdoe&token=****"
    masked, secrets = split_url_secrets(url)
    assert masked == mask_url(url)
    assert secrets == {"apiKey": "a/b", "token": "t"}
    assert join_url_secrets(masked, secrets) == url
    assert mask_url("https://x.example/t?recipients=a") == "https://x.example/t?recipients=a"


# ---------------------------------------------------------------- PagerDuty
@pytest.mark.parametrize("key", [PD_KEY, PD_KEY.upper(), "R" + "a1" * 15 + "Z"])
def test_integration_key_accepted(key: str) -> None:
    assert check_integration_key(key, {}) == key


@pytest.mark.parametrize(
    "key", [PD_KEY[:-1], PD_KEY + "0", "g" * 32, "R" + "a" * 30, "X" + "a" * 31, "R" + "-" * 31]
)
def test_integration_key_refused(key: str) -> None:
    with pytest.raises(UsageError, match="is not a PagerDuty integration key"):
        check_integration_key(key, {})


@pytest.mark.parametrize("tag", ["a", "pd_key", "service-owner", "a" + "b" * 63])
def test_tag_names_accepted(tag: str) -> None:
    assert check_tag_name(tag) == tag


@pytest.mark.parametrize(
    ("tag", "reason"),
    [
        ("PD_Key", "must be lowercase"),
        ("1abc", "must start with a letter"),
        ("_abc", "must start with a letter"),
        ("a.b", "may only contain a-z, 0-9, '_' and '-'"),
        ("a" * 65, "is 65 characters long (at most 64)"),
    ],
)
def test_tag_names_refused(tag: str, reason: str) -> None:
    with pytest.raises(UsageError, match=re.escape(reason)):
        check_tag_name(tag)


def test_field_map() -> None:
    assert parse_field_map("component=service, group=team,custom_details.owner=owner") == {
        "component": "service",
        "group": "team",
        "custom_details.owner": "owner",
    }
    assert parse_field_map("") == {}
    with pytest.raises(UsageError, match="'urgency' is not a PagerDuty Events v2 payload field"):
        parse_field_map("urgency=prio")
    with pytest.raises(UsageError, match="is not pd_field=bp_tag"):
        parse_field_map("component")
    with pytest.raises(UsageError, match="is not a BigPanda tag name"):
        parse_field_map("component=Service")


def test_pagerduty_headers() -> None:
    pd = get("pagerduty")
    hook = pd.webhook(
        {
            "integration_key": PD_KEY,
            "override_tag": "pd_key",
            "field_map": "component=service,class=check",
            "field_header_format": "x-bp-field-{field}",
        }
    )
    assert hook.headers == {
        "x-bp-config-pdfield": "pd_key",
        "x-bp-field-component": "service",
        "x-bp-field-class": "check",
    }
    header_field = pd.field("field_header_format")
    with pytest.raises(UsageError, match="is not a header name template"):
        header_field.validate("x bp {field}", {})
    with pytest.raises(UsageError, match="is not a header name template"):
        header_field.validate("x-bp-field", {})


# ------------------------------------------------------------------ Panopta
def test_panopta_target_value() -> None:
    assert target_value("ops") == "ops"
    assert target_value(" ops , Cloud Devops ") == ["ops", "Cloud Devops"]
    assert target_value("") is None
    assert target_value(" , ") is None


def test_panopta_payload_override() -> None:
    panopta = get("panopta")
    payload = panopta.field("payload")
    assert payload.validate('{"host": "$fqdn"}', {}) == '{"host":"$fqdn"}'
    with pytest.raises(UsageError, match="not valid JSON"):
        payload.validate("{host", {})
    with pytest.raises(UsageError, match="must be a JSON object"):
        payload.validate("[1]", {})


# ------------------------------------------------------------------- xMatters
def test_xmatters_auth_rules() -> None:
    xm = get("xmatters")
    auth = xm.field("auth")
    assert auth.default_for({"trigger_url": XM_URL + "?apiKey=k"}) == "url"
    assert auth.default_for({"trigger_url": XM_URL}) == "basic"
    with pytest.raises(UsageError, match="carries no apiKey parameter"):
        auth.validate("url", {"trigger_url": XM_URL})
    with pytest.raises(UsageError, match="must be one of url, basic, none"):
        auth.validate("oauth", {"trigger_url": XM_URL})
    assert xm.field("username").applies({"auth": "basic"})
    assert not xm.field("password").applies({"auth": "url"})


@pytest.mark.parametrize(
    ("path", "warned"),
    [
        ("/v2/alert_events/big_panda/01HZX4Q7Y8", False),  # incident.io's own name [C]
        ("/v2/alert_events/bigpanda/01HZX4Q7Y8", False),
        ("/v2/alert_events/http/01HZX4Q7Y8", True),
    ],
)
def test_incidentio_callback_paths(path: str, warned: bool) -> None:
    from bp_integrate.integrations import get

    spec = get("incidentio")
    warnings = spec.warnings({"callback_url": f"https://api.incident.io{path}"})
    assert bool(warnings) is warned


def test_every_url_setting_splits_credential_like_query_parameters() -> None:
    """Issue 20: `?token=` (any name `is_secret_name` calls secret) is split off as
    xMatters' `apiKey` is, by every URL setting of every integration."""
    from bp_integrate.integrations import get
    from bp_integrate.urls import split_url_secrets

    url = "https://h.example/x?token=T0k3n&a=1&sig=S1g&api_key=K3y&signature=Zz&author=me"
    masked, found = split_url_secrets(url)
    assert (
        masked
        == "https://h.example/x?token=****&a=1&sig=****&api_key=****&signature=****&author=me"
    )
    assert found == {"token": "T0k3n", "sig": "S1g", "api_key": "K3y", "signature": "Zz"}
    url_fields = {
        (name, f.name)
        for name in ("xmatters", "pagerduty", "incidentio", "panopta", "webhook", "webhook_v2")
        for f in get(name).fields
        if f.url_with_secrets
    }
    assert ("webhook", "url") in url_fields
    assert ("pagerduty", "events_url") in url_fields
    assert ("incidentio", "callback_url") in url_fields
    assert ("webhook_v2", "base_url") in url_fields
    assert ("xmatters", "trigger_url") in url_fields


@pytest.mark.parametrize(
    ("url", "masked", "secret"),
    [
        (
            "https://hooks.slack.com/services/T000/B000/XXXXxxxx",
            "https://hooks.slack.com/services/****",
            "T000/B000/XXXXxxxx",
        ),
        (
            "https://discord.com/api/webhooks/1234/tok-EN_x?wait=true",
            "https://discord.com/api/webhooks/****?wait=true",
            "1234/tok-EN_x",
        ),
        (
            "https://ptb.discord.com/api/v10/webhooks/1234/tok",
            "https://ptb.discord.com/api/v10/webhooks/****",
            "1234/tok",
        ),
        (
            "https://acme.webhook.office.com/webhookb2/a-b@c-d/IncomingWebhook/e1/f-2",
            "https://acme.webhook.office.com/webhookb2/****",
            "a-b@c-d/IncomingWebhook/e1/f-2",
        ),
        (
            "https://outlook.office.com/webhook/a@b/IncomingWebhook/c/d?token=t",
            "https://outlook.office.com/webhook/****?token=****",
            "a@b/IncomingWebhook/c/d",
        ),
    ],
)
def test_a_webhook_url_whose_path_is_its_secret_is_split_and_masked(
    url: str, masked: str, secret: str
) -> None:
    """Slack ("Your webhook URL contains a secret"), Discord and Teams webhook URLs carry
    their credential in the path: it is split off (`path`) and masked like `?token=`."""
    from bp_integrate.urls import masked_params, url_secret

    assert mask_url(url) == masked
    split, found = split_url_secrets(url)
    assert split == masked
    assert found["path"] == secret
    assert join_url_secrets(split, found) == url
    assert masked_params(masked)[0] == "path"
    assert url_secret(url, "path") == secret
    assert url_secret(masked, "path") is None
    spec = get("webhook")
    assert secret in spec.secrets({"url": url})  # what the redactor learns


@pytest.mark.parametrize(
    "url",
    [
        "https://discord.com/channels/1/2",  # not a webhook
        "https://hooks.slack.com/services/",  # nothing after the part that stays shown
        "https://example.com/services/T000/B000/XXXX",
        "https://hooks.slack.com.example.net/services/T000/B000/XXXX",
        "https://x.example/hook?path=****",  # a query parameter named path: not a secret
    ],
)
def test_other_urls_keep_their_path(url: str) -> None:
    assert mask_url(url) == url
    assert split_url_secrets(url) == (url, {})
    assert join_url_secrets(url, {"path": "nope"}) == url


@pytest.mark.parametrize(("integration", "field"), [("webhook", "url"), ("webhook_v2", "base_url")])
def test_a_webhook_url_whose_path_is_its_secret_is_refused_on_the_command_line(
    integration: str, field: str
) -> None:
    result = cli(
        "install", integration, "--no-input", "--no-verify",
        "--set", f"{field}=https://discord.com/api/webhooks/1234/CanaryDiscordToken01",
    )  # fmt: skip
    assert result.exit_code == 2
    assert f"--set {field} holds a URL with its secret in its path" in result.stderr
    variable = f"BP_INTEGRATE_{integration.upper()}_{field.upper()}"
    assert f"Give the whole URL in {variable}, with --secret-stdin {field}" in result.stderr
    assert "CanaryDiscordToken01" not in result.stdout + result.stderr
