"""The one masker: every secret masked wherever it could show, by value and by name.

By value: a command builds one `Redactor` from the secret values of the integrations it
loaded (and what they derive from them: a Basic token, a URL-encoded key, a routing key
in a body) and passes every URL, header, body and response it prints or records through
it. `view()` gives a second redactor over the same secrets, enabled or not:
`--show-secrets` turns off the one that prints, never the one the run history writes
with. A secret is found in any form it can take on the wire or in an echo of it: as is,
percent-encoded in any mix of upper- and lower-case escapes (clients re-encode a query
differently), `+` for a space, JSON-escaped, and as a Basic token.

By name: `SECRET_NAMES` is the one list of names whose value is a secret, wherever the
name stands (a query parameter, a header, a JSON field, `name=value` in free text), read
by `is_secret_name`. `mask_url`, `scrub_text`, `mask_named` and `Redactor.headers` mask by
it, so output, history, calibrate, the capture file and the emulator's records agree.
Stdlib only.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "****"

#: The names whose value is a secret: compared lower-cased with `-`, `_`, `.` and spaces
#: left out. A name of five letters or more counts inside a longer name too
#: (`client_secret`, `X-Auth-Token`, `X-Hub-Signature-256`); a shorter one only as the
#: whole name (`key`, `auth`: `dedup_key` and `author` are not secrets).
SECRET_NAMES = (
    "key",
    "auth",
    "sig",
    "apikey",
    "appkey",
    "accesskey",
    "privatekey",
    "routingkey",
    "integrationkey",
    "servicekey",
    "authheader",
    "secret",
    "token",
    "password",
    "passwd",
    "passphrase",
    "authorization",
    "authentication",
    "authenticate",
    "bearer",
    "credential",
    "signature",
    "cookie",
)
_WHOLE_NAMES = frozenset(name for name in SECRET_NAMES if len(name) < 5)
_NAME_PARTS = tuple(name for name in SECRET_NAMES if len(name) >= 5)
_NAME_NOISE = str.maketrans("", "", "-_. ")


@functools.lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """Whether a value under `name` (parameter, header, field) is a secret (`SECRET_NAMES`)."""
    plain = name.lower().translate(_NAME_NOISE)
    return plain in _WHOLE_NAMES or any(part in plain for part in _NAME_PARTS)


def mask_query(query: str) -> str:
    """A raw query string with the value of each secret parameter `****`; the rest is kept
    byte for byte (nothing is decoded or re-encoded)."""
    items = query.split("&")
    masked = []
    for item in items:
        key = item.partition("=")[0]
        masked.append(f"{key}={MASK}" if key and is_secret_name(key) else item)
    return "&".join(masked) if masked != items else query


def mask_url(url: str) -> str:
    """The URL with every secret query value replaced by `****` (`apiKey=****`)."""
    head, sep, rest = url.partition("?")
    if not sep:
        return url
    query, hash_mark, fragment = rest.partition("#")
    masked = mask_query(query)
    return url if masked == query else f"{head}?{masked}{hash_mark}{fragment}"


_PARAM = re.compile(r"(?<![\w.-])([\w.-]+)=")
_VALUE_END = re.compile(r"[&\s'\"]")
_TOKEN = re.compile(r"((?i:basic|bearer) )([^\s'\"]+)")


def _looks_like_token(word: str) -> bool:
    """A credential, not a word of prose ("Basic credentials"): a digit or a symbol of
    base64 or of a JWT in it, or upper- and lower-case letters mixed."""
    if any(c.isdigit() or c in "+/=._-~" for c in word):
        return True
    return word != word.lower() and word != word.upper()


def _masked_token(match: re.Match[str]) -> str:
    return match.group(1) + MASK if _looks_like_token(match.group(2)) else match.group(0)


def scrub_text(text: str) -> str:
    """Free text (an unexpected error's message, a target's answer) with `name=value`
    secrets (`apiKey=...`, `token=...`) and `Bearer`/`Basic` tokens masked, even those no
    one said were secret."""
    if "=" in text:
        parts: list[str] = []
        done = 0
        for match in _PARAM.finditer(text):
            if match.start() < done or not is_secret_name(match.group(1)):
                continue
            end = _VALUE_END.search(text, match.end())
            stop = end.start() if end else len(text)
            if stop > match.end():
                parts += (text[done : match.end()], MASK)
                done = stop
        if parts:
            text = "".join(parts) + text[done:]
    return _TOKEN.sub(_masked_token, text)


def mask_key(value: str) -> str:
    """A key shown as `****` plus its last 4 characters (as PagerDuty's own client does);
    a short one as `****` alone."""
    return MASK + value[-4:] if len(value) > 8 else MASK


def _whole(_value: str) -> str:
    return MASK


def mask_named(
    node: Any,
    shown: Callable[[str], str] = _whole,
    other: Callable[[str], str] | None = None,
    secret: bool = False,
) -> Any:
    """A copy of a JSON-like value in which every string and number under a secret name
    (`is_secret_name`, at any depth below it) is masked: `shown(value)`, `****` unless
    told otherwise. The shape stays (containers are walked, true/false/null kept); `other`
    rewrites every other string (e.g. `scrub_text`)."""
    if isinstance(node, dict):
        return {
            k: mask_named(v, shown, other, secret or is_secret_name(str(k)))
            for k, v in node.items()
        }
    if isinstance(node, list | tuple):
        return [mask_named(v, shown, other, secret) for v in node]
    if secret and isinstance(node, str):
        return shown(node) if node else node
    if secret and isinstance(node, int | float) and not isinstance(node, bool):
        return MASK
    if other is not None and isinstance(node, str):
        return other(node)
    return node


#: Shorter values are not masked as substrings: a 2-character "secret" would garble
#: every line. Such a value is still masked where it stands alone (a header, a field).
MIN_SUBSTRING = 4


class _Secrets:
    """The secret values (every form) a redactor and its views know."""

    def __init__(self) -> None:
        self.values: set[str] = set()
        self.ordered: list[str] = []
        self.raw: set[str] = set()
        self._encoded: re.Pattern[str] | None = None

    @property
    def encoded(self) -> re.Pattern[str] | None:
        """One pattern for every secret in any escaped form (built once per change)."""
        if self._encoded is None and self.raw:
            longest_first = sorted(
                (s for s in self.raw if len(s) >= MIN_SUBSTRING), key=len, reverse=True
            )
            if longest_first:
                self._encoded = re.compile("|".join(_any_escaping(s) for s in longest_first))
        return self._encoded

    def learnt(self) -> None:
        self._encoded = None
        self.ordered = sorted(self.values, key=len, reverse=True)


def _any_escaping(secret: str) -> str:
    """A regex matching `secret` with each character as is or escaped in any way a URL
    or JSON text may carry it (`%2F`, `%2f`, `\\/`, `+` for a space, `\\u00e9`)."""
    parts = []
    for char in secret:
        forms = [re.escape(char)]
        forms.append("".join(f"%(?i:{b:02x})" for b in char.encode("utf-8")))
        if char == " ":
            forms.append(r"\+")
        if char in '"\\/':
            forms.append(r"\\" + re.escape(char))
        if not char.isascii():
            forms.append(rf"\\u(?i:{ord(char):04x})")
        parts.append("(?:" + "|".join(forms) + ")")
    return "".join(parts)


#: Characters that show a text may hold an escaped secret (else exact forms suffice).
_ESCAPES = ("%", "\\", "+")


class Redactor:
    """Replaces each known secret value (and its encoded forms) with `****`."""

    def __init__(self, secrets: Iterable[str] = (), enabled: bool = True) -> None:
        self.enabled = enabled
        self._known = _Secrets()
        self.add(*secrets)

    def view(self, enabled: bool = True) -> Redactor:
        """A redactor over the same secrets (learnt by either, known to both)."""
        other = Redactor(enabled=enabled)
        other._known = self._known
        return other

    def add(self, *secrets: str) -> None:
        """Learn more secret values (their URL- and JSON-escaped forms too)."""
        known = self._known
        changed = False
        for secret in secrets:
            if not secret or secret == MASK or secret in known.raw:
                continue  # a known secret's forms are known too: planning adds them per event
            known.raw.add(secret)
            changed = True
            forms = {secret, quote(secret, safe=""), quote_plus(secret)}
            escaped = secret.replace("\\", "\\\\").replace('"', '\\"')
            forms.add(escaped)
            for form in forms:
                if form not in known.values:
                    known.values.add(form)
                    changed = True
        if changed:
            # Longest first, so a secret that contains another is masked whole.
            known.learnt()

    def add_basic(self, username: str, password: str) -> None:
        """A Basic credential: the password and the base64 token it travels as."""
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        self.add(password, token)

    def add_header_value(self, value: str) -> None:
        """A secret header value (`Bearer abc`): the whole value and its token part."""
        _scheme, sep, token = value.partition(" ")
        self.add(value)
        if sep and token:
            self.add(token)

    def text(self, text: str) -> str:
        """`text` with every known secret replaced by `****`."""
        if not self.enabled or not text:
            return text
        for secret in self._known.ordered:
            if secret in text and (len(secret) >= MIN_SUBSTRING or text == secret):
                text = text.replace(secret, MASK)
        if any(mark in text for mark in _ESCAPES):
            pattern = self._known.encoded
            if pattern is not None:
                text = pattern.sub(MASK, text)
        return text

    def response(self, text: str) -> str:
        """A target's answer (or any text from outside): known secrets in every form, and
        secret-looking parameters and tokens it was never told about (an echoed URL)."""
        if not self.enabled or not text:
            return text
        return scrub_text(self.text(text))

    def url(self, url: str) -> str:
        """A URL with secret query parameters (`apiKey`) and known secrets masked."""
        if not self.enabled:
            return url
        return self.text(mask_url(url))

    def headers(
        self, headers: Mapping[str, str], secret_headers: Iterable[str] = ()
    ) -> dict[str, str]:
        """Headers with secret ones (named secret, or by `secret_headers`) shown as
        `Basic ****` / `Bearer ****`; known secrets masked in the others."""
        if not self.enabled:
            return dict(headers)
        secret = {h.lower() for h in secret_headers}
        shown: dict[str, str] = {}
        for name, value in headers.items():
            if name.lower() in secret or is_secret_name(name):
                shown[name] = mask_header_value(value)
            else:
                shown[name] = self.text(value)
        return shown

    def value(self, node: Any) -> Any:
        """A deep copy of a JSON-like value with every string redacted."""
        if not self.enabled:
            return node
        if isinstance(node, str):
            return self.text(node)
        if isinstance(node, dict):
            return {self.text(str(k)): self.value(v) for k, v in node.items()}
        if isinstance(node, list | tuple):
            return [self.value(v) for v in node]
        return node


def mask_header_value(value: str) -> str:
    """`Basic abc=` -> `Basic ****`; a bare token -> `****`."""
    scheme, sep, _ = value.partition(" ")
    return f"{scheme} {MASK}" if sep and scheme.isalpha() else MASK
