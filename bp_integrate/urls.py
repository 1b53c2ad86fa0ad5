"""URL rules: https or loopback, secrets riding in query strings or paths, recipients lists.

Which query parameters (and which webhook paths) are secrets, and how they are masked, is
bp_integrate.redact's (`MASK`, `SECRET_PATH`, `mask_url` and `scrub_text` are re-exported
here for the modules that split and join URL secrets)."""

from __future__ import annotations

import ipaddress
from urllib.parse import SplitResult, parse_qsl, quote, unquote, urlunsplit
from urllib.parse import urlsplit as _urlsplit

from bp_integrate.errors import UsageError
from bp_integrate.redact import MASK as MASK
from bp_integrate.redact import SECRET_PATH as SECRET_PATH
from bp_integrate.redact import is_secret_name, secret_path_span
from bp_integrate.redact import mask_url as mask_url
from bp_integrate.redact import scrub_text as scrub_text


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
    """An absolute https URL (http allowed on loopback hosts only), as a browser would send
    it: whitespace and control characters refused, non-ASCII encoded (`browser_encoded`).

    Surrounding whitespace (a pasted line's newline) is dropped first. A URL that needs no
    encoding comes back exactly as given.
    """
    url = url.strip()
    _refuse_blanks(url, what)
    parts = urlsplit(url)
    if parts.scheme and parts.hostname and parts.scheme not in ("http", "https"):
        from bp_integrate.errors import nearest

        typo = nearest(parts.scheme, ["https"]) is not None
        fixed = f"Did you mean {mask_url('https://' + url.partition('://')[2])!r}? " if typo else ""
        raise UsageError(
            f"{what} uses {parts.scheme}://; only https:// is accepted.",
            f"{fixed}Paste the https:// URL the vendor shows.",
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"{what} {mask_url(url)!r} is not an absolute URL.",
            "Paste the whole URL, starting with https://",
        )
    if parts.username or parts.password:
        raise UsageError(
            f"{what} carries a user name or password before the host.",
            "Remove 'user:password@' from the URL and use the integration's auth setting.",
        )
    url = browser_encoded(url, what)
    host = urlsplit(url).hostname
    if parts.scheme == "http" and not is_loopback_host(host):
        raise UsageError(
            f"{what} must use https, not http ({host}).",
            "Use the https:// URL the vendor shows; plain http is accepted only for "
            "loopback hosts (127.0.0.1, ::1, localhost), such as the built-in emulator.",
        )
    return url


def _refuse_blanks(url: str, what: str) -> None:
    """A UsageError naming the first whitespace or control character in `url` (the URL is
    not shown: it may carry a key). A browser would drop or encode them; here they are a
    sign of a bad copy (a wrapped line, text pasted around the URL)."""
    for position, char in enumerate(url, start=1):
        if char.isspace():
            raise UsageError(
                f"{what} holds a space or line break (character {position}).",
                "Copy the URL again in one piece; a space that belongs in it is written %20.",
            )
        if ord(char) < 32 or 127 <= ord(char) < 160:
            raise UsageError(
                f"{what} holds a control character (character {position}).",
                "Copy the URL again, without what surrounded it.",
            )


#: ASCII characters a browser percent-encodes in each part of an http(s) URL, besides the
#: controls and spaces refused above (WHATWG URL Standard: the path, special-query and
#: fragment percent-encode sets). Everything non-ASCII is encoded too, as UTF-8; `%` is
#: kept, so an encoded URL encodes to itself.
_PATH_ENCODED = frozenset('"<>`{}')
_QUERY_ENCODED = frozenset("\"'<>")
_FRAGMENT_ENCODED = frozenset('"<>`')


def _percent_encoded(text: str, encoded: frozenset[str]) -> str:
    if text.isascii() and not encoded.intersection(text):
        return text
    return "".join(
        char
        if char.isascii() and char not in encoded
        else "".join(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
        for char in text
    )


def _ascii_host(host: str, what: str) -> str:
    """An international host name as its IDNA (punycode) form, the way browsers write it
    (UTS #46 mapping, non-transitional: `faß.de` is `xn--fa-hia.de`); ASCII labels are
    left as they are (a browser takes `my_host` too, where strict IDNA would not)."""
    if host.isascii():
        return host
    import idna  # httpx's own dependency for the same job

    try:
        mapped = idna.uts46_remap(host, std3_rules=False, transitional=False)
        labels = [
            label if label.isascii() else idna.alabel(label).decode("ascii")
            for label in mapped.split(".")
        ]
    except idna.IDNAError as exc:
        raise UsageError(
            f"{what} has a host name that is not a valid international domain name ({exc}).",
            "Copy the host name again from the vendor's page.",
        ) from None
    return ".".join(labels)


def browser_encoded(url: str, what: str = "The URL") -> str:
    """`url` as a browser sends it: the host in IDNA, the path, query and fragment
    percent-encoded as UTF-8 where they hold non-ASCII (or `"`, `<`, `>` and the like).
    Escapes already there are kept; a URL that needs nothing is returned unchanged.

    `url` is an absolute URL without user info (`check_url` has checked it).
    """
    if url.isascii() and not (_PATH_ENCODED | _QUERY_ENCODED).intersection(url):
        return url
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    end = next((i for i, char in enumerate(rest) if char in "/?#"), len(rest))
    authority, rest = rest[:end], rest[end:]
    if not authority.isascii():  # never an IPv6 literal
        host, colon, port = authority.partition(":")
        authority = _ascii_host(host, what) + colon + port
    rest, hash_, fragment = rest.partition("#")
    path, question, query = rest.partition("?")
    return (
        f"{scheme}://{authority}{_percent_encoded(path, _PATH_ENCODED)}"
        f"{question}{_percent_encoded(query, _QUERY_ENCODED)}"
        f"{hash_}{_percent_encoded(fragment, _FRAGMENT_ENCODED)}"
    )


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


def has_masked_secret(url: str) -> bool:
    """True when a secret query value is the `****` placeholder, not the real value."""
    return bool(masked_params(url))


def masked_params(url: str) -> list[str]:
    """Names of the secret query parameters whose value is the `****` placeholder
    (`SECRET_PATH` first, for a secret path that is)."""
    found = [SECRET_PATH] if _secret_path(url) == MASK else []
    pairs = _raw_pairs(urlsplit(url).query)
    return found + [k for k, v in pairs if is_secret_name(k) and v == MASK]


def _secret_path(url: str) -> str | None:
    """The secret part of a path that is a credential (`SECRET_PATH_URLS`), as written."""
    span = secret_path_span(url)
    return url[span[0] : span[1]] if span is not None else None


def split_url_secrets(url: str) -> tuple[str, dict[str, str]]:
    """(URL with secret values masked, {param: real value}): the YAML keeps the first.
    A secret path is kept under `SECRET_PATH`, as written (it goes back as it was)."""
    parts = urlsplit(url)
    secrets = {k: unquote(v) for k, v in _raw_pairs(parts.query) if is_secret_name(k) and v != MASK}
    path = _secret_path(url)
    if path is not None and path != MASK:
        secrets = {SECRET_PATH: path, **secrets}
    return mask_url(url), secrets


def join_url_secrets(masked_url: str, secrets: dict[str, str]) -> str:
    """Put the real values back where `split_url_secrets` masked them."""
    span = secret_path_span(masked_url)
    if span is not None and SECRET_PATH in secrets and _secret_path(masked_url) == MASK:
        masked_url = masked_url[: span[0]] + secrets[SECRET_PATH] + masked_url[span[1] :]
    parts = urlsplit(masked_url)
    pairs = _raw_pairs(parts.query)
    out = [
        (k, quote(secrets[k], safe="") if v == MASK and k in secrets and is_secret_name(k) else v)
        for k, v in pairs
    ]
    return _rebuild(parts, out) if pairs else masked_url


def url_secret(url: str, name: str) -> str | None:
    """One secret of a URL by the name `split_url_secrets` keeps it under (a query
    parameter, or `SECRET_PATH`), or None: how a whole URL given in the environment
    supplies the secret stored apart."""
    if name == SECRET_PATH:
        path = _secret_path(url)
        return path if path != MASK else None
    return query_value(url, name)


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


#: The longest single-line value accepted: values end up in URLs and headers, and
#: servers commonly refuse a request line or header over 8 KiB (nginx's
#: large_client_header_buffers, Apache's LimitRequestLine and LimitRequestFieldSize).
WIRE_MAX = 8 * 1024


def wire_problem(name: str, value: str, secret: bool, multiline: bool = False) -> str | None:
    """Why `value` cannot travel in a URL or header, or None. Never quotes the value.

    A secret goes into a header or URL verbatim, so it may hold only what an HTTP
    field value carries (RFC 9110 5.5: visible ASCII, space, tab). A `password` is
    the exception: it only ever travels inside Basic auth, base64 of its UTF-8
    (RFC 7617), so any character is fine.
    """
    if not multiline and len(value.encode("utf-8")) > WIRE_MAX:
        return (
            f"is {len(value.encode('utf-8'))} bytes long; at most {WIRE_MAX} fit in a URL "
            "or header (servers refuse longer request lines)."
        )
    if secret and name != "password":
        for position, char in enumerate(value, start=1):
            if not (char in " \t" or 33 <= ord(char) <= 126):
                return (
                    f"has a character HTTP cannot carry in a header or URL (position "
                    f"{position}: only visible ASCII, space and tab are allowed)."
                )
    return None
