"""URL rules: https or loopback, secrets riding in query strings, recipients lists."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, parse_qsl, quote, unquote, urlunsplit
from urllib.parse import urlsplit as _urlsplit

from bp_integrate.errors import UsageError

#: Query parameters whose value is a credential (compared case-insensitively).
SECRET_PARAMS = frozenset({"apikey", "api_key", "token", "access_token"})
MASK = "****"


def urlsplit(url: str) -> SplitResult:
    """urllib's urlsplit, its ValueError ("Invalid IPv6 URL") a UsageError (the URL is
    not shown: it may carry a key)."""
    try:
        return _urlsplit(url)
    except ValueError as exc:
        raise UsageError(
            f"A URL is not valid: {exc} (a '[' in the host must enclose an IPv6 address).",
            "Check the URL that was given or stored, and copy it again.",
        ) from None


def is_loopback_host(host: str | None) -> bool:
    """localhost, 127.0.0.0/8 or ::1: the only hosts plain http (and the emulator) may use."""
    if not host:
        return False
    name = host.strip().strip("[]").lower()
    if name in ("localhost", "localhost.localdomain", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_url(url: str, what: str) -> str:
    """Refuse anything but an absolute https URL (http allowed on loopback hosts only)."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme and parts.hostname and parts.scheme not in ("http", "https"):
        raise UsageError(
            f"{what} uses {parts.scheme}://; only https:// is accepted.",
            "Paste the https:// URL the vendor shows.",
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"{what} {mask_url(url)!r} is not an absolute URL.",
            "Paste the whole URL, starting with https://",
        )
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise UsageError(
            f"{what} must use https, not http ({parts.hostname}).",
            "Use the https:// URL the vendor shows; plain http is accepted only for "
            "loopback hosts (127.0.0.1, ::1, localhost), such as the built-in emulator.",
        )
    if parts.username or parts.password:
        raise UsageError(
            f"{what} carries a user name or password before the host.",
            "Remove 'user:password@' from the URL and use the integration's auth setting.",
        )
    return url


def _rebuild(parts: SplitResult, pairs: list[tuple[str, str]]) -> str:
    query = "&".join(f"{k}={v}" if v != "" else k for k, v in pairs)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _raw_pairs(query: str) -> list[tuple[str, str]]:
    """Split a query string without decoding, so a URL round-trips byte for byte."""
    pairs: list[tuple[str, str]] = []
    for item in query.split("&"):
        if not item:
            continue
        key, _, value = item.partition("=")
        pairs.append((key, value))
    return pairs


def mask_url(url: str) -> str:
    """The URL with every secret query value replaced by ****."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = _raw_pairs(parts.query)
    if not any(k.lower() in SECRET_PARAMS for k, _ in pairs):
        return url
    return _rebuild(parts, [(k, MASK if k.lower() in SECRET_PARAMS else v) for k, v in pairs])


def has_masked_secret(url: str) -> bool:
    """True when a secret query value is the `****` placeholder, not the real value."""
    return bool(masked_params(url))


def masked_params(url: str) -> list[str]:
    """Names of the secret query parameters whose value is the `****` placeholder."""
    return [
        k for k, v in _raw_pairs(urlsplit(url).query) if k.lower() in SECRET_PARAMS and v == MASK
    ]


def split_url_secrets(url: str) -> tuple[str, dict[str, str]]:
    """(URL with secret values masked, {param: real value}): the YAML keeps the first."""
    parts = urlsplit(url)
    secrets = {
        k: unquote(v)
        for k, v in _raw_pairs(parts.query)
        if k.lower() in SECRET_PARAMS and v != MASK
    }
    return mask_url(url), secrets


def join_url_secrets(masked_url: str, secrets: dict[str, str]) -> str:
    """Put the real values back where `split_url_secrets` masked them."""
    parts = urlsplit(masked_url)
    pairs = _raw_pairs(parts.query)
    out = [(k, quote(secrets[k], safe="") if v == MASK and k in secrets else v) for k, v in pairs]
    return _rebuild(parts, out) if pairs else masked_url


def query_value(url: str, name: str) -> str | None:
    """A decoded query parameter (case-insensitive name), or None."""
    for key, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        if key.lower() == name.lower():
            return value
    return None


def parse_recipients(text: str) -> list[str]:
    """`"a, Cloud Devops ,b"` -> ["a", "Cloud Devops", "b"]; blanks dropped."""
    return [name.strip() for name in text.split(",") if name.strip()]


def with_recipients(url: str, recipients: list[str]) -> str:
    """Add recipients to the URL's `recipients` parameter, keeping any already there.

    Names are URL-encoded (`Cloud%20Devops`) and comma-joined, as xMatters expects;
    the parameter is appended with `?` or `&` as the URL needs.
    """
    if not recipients:
        return url
    parts = urlsplit(url)
    pairs = _raw_pairs(parts.query)
    existing: list[str] = []
    index = None
    for i, (key, value) in enumerate(pairs):
        if key == "recipients":
            existing = parse_recipients(unquote(value.replace("+", " ")))
            index = i
    merged = existing + [r for r in recipients if r not in existing]
    encoded = ",".join(quote(name, safe="") for name in merged)
    if index is None:
        pairs.append(("recipients", encoded))
    else:
        pairs[index] = ("recipients", encoded)
    return _rebuild(parts, pairs)


_SECRET_IN_TEXT = re.compile(
    r"(?i)((?:" + "|".join(sorted(SECRET_PARAMS)) + r")=)[^&\s'\"]+|((?:Basic|Bearer) )[^\s'\"]+"
)


def _looks_like_token(word: str) -> bool:
    """A credential, not a word of prose ("Basic credentials"): a digit or a symbol of
    base64 or of a JWT in it, or upper- and lower-case letters mixed."""
    if any(c.isdigit() or c in "+/=._-~" for c in word):
        return True
    return word != word.lower() and word != word.upper()


def _masked(match: re.Match[str]) -> str:
    if match.group(1):
        return match.group(1) + MASK
    token = match.group(0)[len(match.group(2)) :]
    return match.group(2) + MASK if _looks_like_token(token) else match.group(0)


def scrub_text(text: str) -> str:
    """Free text (an unexpected error's message, a target's answer) with URL keys and auth
    tokens masked, even those no one said were secret."""
    return _SECRET_IN_TEXT.sub(_masked, text)
