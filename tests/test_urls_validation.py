"""URL rules, recipients, and the field checks of each integration."""

from __future__ import annotations

import re

import pytest
from helpers import PD_KEY, XM_URL

from bp_integrate.errors import UsageError
from bp_integrate.integrations import get
from bp_integrate.integrations.common import check_tag_name
from bp_integrate.integrations.pagerduty import check_integration_key, parse_field_map
from bp_integrate.integrations.panopta import target_value
from bp_integrate.integrations.xmatters import check_trigger_url, trigger_url_warnings
from bp_integrate.urls import (
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
