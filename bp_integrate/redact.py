"""The one redactor: every secret value a command loaded, masked wherever it could show.

A command builds one `Redactor` from the secret values of the integrations it loaded
(and what they derive from them: a Basic token, a URL-encoded key, a routing key in a
body) and passes every URL, header, body and response it prints or records through it.
`view()` gives a second redactor over the same secrets, enabled or not: `--show-secrets`
turns off the one that prints, never the one the run history writes with.

A secret is found in any form it can take on the wire or in an echo of it: as is,
percent-encoded in any mix of upper- and lower-case escapes (clients re-encode a query
differently), `+` for a space, JSON-escaped, and as a Basic token; `response()` also
masks `apiKey=...`-style parameters and `Bearer`/`Basic` tokens it was never told about.
Stdlib only.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

from bp_integrate.urls import MASK, mask_url, scrub_text

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
        """Headers with secret ones shown as `Basic ****` / `Bearer ****`."""
        if not self.enabled:
            return dict(headers)
        secret = {h.lower() for h in secret_headers} | {"authorization"}
        shown: dict[str, str] = {}
        for name, value in headers.items():
            if name.lower() in secret:
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
