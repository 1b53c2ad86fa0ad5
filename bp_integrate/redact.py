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
By place: `SECRET_PATH_URLS` lists the webhook URLs whose path is their credential (Slack,
Discord, Teams), which `mask_url` masks too.
Stdlib only.
"""

from __future__ import annotations

import base64
import bisect
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


#: The name a URL's secret path goes by beside its secret query parameters: the
#: `base_url.path` entry of the secret store, `BP_INTEGRATE_..._BASE_URL_PATH`.
SECRET_PATH = "path"

#: Webhook URLs whose path is their credential (whoever holds the URL can post), by
#: host (that name or any host under it) and the start of the path that stays shown;
#: the rest of the path is the secret (`https://hooks.slack.com/services/****`).
#: Slack: "Keep it secret, keep it safe. Your webhook URL contains a secret" [C];
#: Discord: `/api/webhooks/{webhook.id}/{webhook.token}` [C]; Microsoft Teams'
#: incoming webhooks, `<tenant>.webhook.office.com/webhookb2/...` (formerly
#: `outlook.office.com/webhook/...`) [S].
SECRET_PATH_URLS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("hooks.slack.com", re.compile(r"/[^/]+/")),
    ("discord.com", re.compile(r"/api(?:/v\d+)?/webhooks/")),
    ("discordapp.com", re.compile(r"/api(?:/v\d+)?/webhooks/")),
    ("webhook.office.com", re.compile(r"/[^/]+/")),
    ("outlook.office.com", re.compile(r"/webhook/")),
)
_HOST_AND_PATH = re.compile(r"(?i)https?://(?:[^/?#@]*@)?([^/?#:]*)(?::[0-9]*)?([^?#]*)")


def secret_path_span(url: str) -> tuple[int, int] | None:
    """Where the secret part of a URL's path stands in `url` (start, end), for a webhook
    URL whose path is its credential (`SECRET_PATH_URLS`); None for any other URL, and
    for one with nothing after the start that stays shown."""
    match = _HOST_AND_PATH.match(url)
    if match is None:
        return None
    host = match.group(1).lower().rstrip(".")
    for domain, shown in SECRET_PATH_URLS:
        if host == domain or host.endswith("." + domain):
            start = shown.match(match.group(2))
            if start is None or start.end() == len(match.group(2)):
                return None
            return match.start(2) + start.end(), match.end(2)
    return None


def mask_url(url: str) -> str:
    """The URL with every secret query value replaced by `****` (`apiKey=****`), and
    the secret part of a path that is a credential (`hooks.slack.com/services/****`)."""
    span = secret_path_span(url)
    if span is not None:
        url = url[: span[0]] + MASK + url[span[1] :]
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
#: every line. Such a value is still masked where it stands alone (a header, a field),
#: and none of its encodings is looked for.
MIN_SUBSTRING = 4

#: A base64 piece shorter than this is not looked for inside other text (a secret of a
#: few bytes leaves a piece that ordinary base64, an id say, could hold by chance): its
#: whole encodings are, instead.
MIN_B64_PIECE = 8

#: The header forms a secret travels in besides itself: base64 of `Bearer X` does not
#: hold base64 of `X` whole (the prefix shifts its alignment).
_HEADER_SCHEMES = ("Bearer ", "Basic ")

#: The characters of base64 (standard and URL-safe): a masked piece of base64 grows to
#: the whole run it sits in, so no edge byte of the secret is left showing.
_B64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_")

#: One escape a URL or a JSON text may carry a character as (decoded before a second
#: look for the secrets): `%2F` in any case, `\uXXXX`, `\/`, `\"`, `\\` and the like.
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}|\\u[0-9A-Fa-f]{4}|\\[\"\\/bfnrt]")
#: The same escapes one kind at a time: a secret that itself holds `%00` or `\n`,
#: echoed through the other kind of escaping, is found only by decoding that kind alone.
_ESCAPE_KINDS = (
    _ESCAPE,
    re.compile(r"%[0-9A-Fa-f]{2}"),
    re.compile(r"\\u[0-9A-Fa-f]{4}|\\[\"\\/bfnrt]"),
    # Only base64's own `+`, `/`, `=` escaped (a URL-encoded token): a `%` just before
    # it in the text (`%` + `c0Aw...`) would otherwise decode as `%c0` and eat a char.
    re.compile(r"%(?:2[BbFf]|3[Dd])"),
)
#: How many levels of escapes are decoded (a JSON body echoed inside a JSON string, its
#: URL inside that): each level costs a pass only where the level before had escapes.
_ESCAPE_DEPTH = 3
_JSON_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _b64_pieces(data: bytes) -> set[str]:
    """The base64 text `data` shows inside any longer base64 (standard and URL-safe): at
    each of the three alignments, the characters made of `data`'s bits alone."""
    pieces: set[str] = set()
    for shift in range(3):
        encoded = base64.b64encode(bytes(shift) + data).decode("ascii")
        piece = encoded[-(-8 * shift // 6) : 8 * (shift + len(data)) // 6]
        pieces.add(piece)
        pieces.add(piece.translate(_URL_SAFE))
    return pieces


_URL_SAFE = str.maketrans("+/", "-_")


class _SurrogatePairs(dict[int, str]):
    """A character beyond U+FFFF as the two surrogates a JSON `\\ud83d\\ude00` decodes to."""

    def __missing__(self, code: int) -> str:
        if code <= 0xFFFF:
            raise LookupError(code)  # str.translate: keep the character
        code -= 0x10000
        return chr(0xD800 + (code >> 10)) + chr(0xDC00 + (code & 0x3FF))


_SURROGATE_PAIRS = _SurrogatePairs()


def _b64_whole(data: bytes) -> set[str]:
    """`data` in base64 as a whole: standard and URL-safe, with and without padding."""
    standard = base64.b64encode(data).decode("ascii")
    forms = {standard, standard.translate(_URL_SAFE)}
    return forms | {form.rstrip("=") for form in forms}


def _variants(secret: str) -> tuple[set[str], set[str]]:
    """(forms found as they are, base64 forms grown to their whole run) of one secret.

    As is: the secret, URL-encoded (`quote`, `quote_plus`; any other percent-encoding
    and JSON escape is decoded before a second look), JSON-escaped, `+` for its spaces,
    its UTF-8 bytes as Latin-1 (what decoding `%C3%A9` one byte at a time gives), with
    surrogate pairs (what decoding a JSON `\\ud83d\\ude00` gives), and its UTF-8 in hex
    (lower and upper case). In base64: the pieces it shows at each
    alignment, which catch it alone, as `Bearer X` / `Basic X`, and inside any longer
    encoded text; a secret too short for that gets its whole encodings, and those of
    its header forms, instead.
    """
    data = secret.encode("utf-8", "surrogatepass")
    plain = {
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        secret.replace(" ", "+"),
        secret.replace("\\", "\\\\").replace('"', '\\"'),
        data.decode("latin-1"),
        data.hex(),
        data.hex().upper(),
        secret.translate(_SURROGATE_PAIRS),
    }
    pieces = {piece for piece in _b64_pieces(data) if len(piece) >= MIN_B64_PIECE}
    if len(pieces) < 6 - 3 * (secret.translate(_URL_SAFE) == secret):
        # Some alignment gives too short a piece: look for the whole encodings.
        for prefix in ("", *_HEADER_SCHEMES):
            pieces |= _b64_whole(prefix.encode("ascii") + data)
    return plain, pieces


def _alternation(words: Iterable[str]) -> str:
    """One regex for many literal words, as a trie (`ab(?:c|d)`): the engine follows
    only the branches that match so far, and takes the longest word at each place."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def branch(node: dict[str, Any]) -> str:
        parts = []
        for char, child in sorted(node.items(), key=lambda item: item[0], reverse=True):
            if not char:
                continue
            run = [char]
            while len(child) == 1 and "" not in child:
                ((char, child),) = child.items()
                run.append(char)
            parts.append(re.escape("".join(run)) + (branch(child) if child else ""))
        if not parts:
            return ""
        body = "|".join(parts)
        if "" in node:
            return f"(?:{body})?"
        return body if len(parts) == 1 else f"(?:{body})"

    return branch(trie)


class _Secrets:
    """The secret values a redactor and its views know, with every form to look for
    (worked out once, when a secret is learnt) and one pattern over them all."""

    def __init__(self) -> None:
        self.raw: set[str] = set()
        #: Whether a secret shorter than MIN_SUBSTRING is known (masked only where whole).
        self.short = False
        #: Masked where a text is exactly one (a short secret too).
        self.whole: set[str] = set()
        #: Every form looked for inside a text: True for a base64 one (grown to its run).
        self.words: dict[str, bool] = {}
        self._pattern: re.Pattern[str] | None = None
        #: From this length on, a text is first checked word by word (`in`, C speed per
        #: word), before the pattern runs; a shorter text goes straight to the pattern.
        self.scan_from = 64
        #: Masked URLs (`Redactor.url`): a storm masks the same few URLs on every send.
        #: Emptied whenever a secret is learnt, so it never holds a text masked with less.
        self.urls: dict[str, str] = {}

    def learn(self, secret: str) -> bool:
        """Take one secret; False if it was known."""
        if secret in self.raw:
            return False
        self.raw.add(secret)
        self.whole.add(secret)
        if len(secret) < MIN_SUBSTRING:
            self.short = True
        else:
            plain, encoded = _variants(secret)
            self.whole |= plain
            for word in encoded:
                self.words[word] = True
            for word in plain:
                if len(word) >= MIN_SUBSTRING:
                    self.words.setdefault(word, False)
        self._pattern = None
        self.urls.clear()
        return True

    @property
    def pattern(self) -> re.Pattern[str] | None:
        """One compiled alternation of every form (built once per change)."""
        if self._pattern is None and self.words:
            self._pattern = re.compile(_alternation(self.words))
            self.scan_from = max(64, len(self.words))
        return self._pattern

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Where the known forms stand in `text` (base64 ones grown to their run)."""
        pattern = self.pattern
        if pattern is None:
            return []
        if len(text) >= self.scan_from and not any(word in text for word in self.words):
            return []
        spans = []
        for match in pattern.finditer(text):
            start, end = match.span()
            if self.words.get(match.group(), False):
                while start > 0 and text[start - 1] in _B64_CHARS:
                    start -= 1
                while end < len(text) and text[end] in _B64_CHARS:
                    end += 1
                while end < len(text) and text[end] == "=":
                    end += 1
            spans.append((start, end))
        return spans

    def mask(self, text: str) -> str:
        """`text` with every known secret, in any form, as `****`."""
        if text in self.whole:
            return MASK
        spans = self.spans(text)
        if "%" in text or "\\" in text:
            spans += self._escaped_spans(text, _ESCAPE_DEPTH)
        return _masked(text, spans)

    def _escaped_spans(self, text: str, depth: int) -> list[tuple[int, int]]:
        """Where secrets stand in `text` once its escapes are decoded (`%2F`, `\\u00e9`,
        `\\/`; again in what that gives, `depth` levels down: a JSON text echoed inside
        a JSON string), as places in `text`, escapes and all: every kind together, and
        each kind alone."""
        found: list[tuple[int, int]] = []
        for pattern in _ESCAPE_KINDS:
            found += self._decoded_spans(text, depth, pattern)
        return found

    def _decoded_spans(
        self, text: str, depth: int, pattern: re.Pattern[str]
    ) -> list[tuple[int, int]]:
        escapes = list(pattern.finditer(text))
        if not escapes:
            return []
        decoded: list[str] = []
        # Per escape: where it starts and ends in `text`, and in the decoded text.
        starts: list[int] = []
        ends: list[int] = []
        decoded_starts: list[int] = []
        decoded_ends: list[int] = []
        done = length = 0
        for escape in escapes:
            start, end = escape.span()
            decoded.append(text[done:start])
            length += start - done
            char = _unescaped(escape.group())
            decoded.append(char)
            starts.append(start)
            ends.append(end)
            decoded_starts.append(length)
            length += len(char)
            decoded_ends.append(length)
            done = end
        decoded.append(text[done:])
        plain = "".join(decoded)
        found = self.spans(plain)
        if depth > 1 and ("%" in plain or "\\" in plain):
            found += self._escaped_spans(plain, depth - 1)

        def where(offset: int, end: bool) -> int:
            index = bisect.bisect_right(decoded_starts, offset - end) - 1
            if index < 0:
                return offset
            if offset - end < decoded_ends[index]:  # inside an escape: all of it
                return ends[index] if end else starts[index]
            return ends[index] + offset - decoded_ends[index]

        return [(where(start, False), where(end, True)) for start, end in found]


def _unescaped(escape: str) -> str:
    if escape[0] == "%":
        return chr(int(escape[1:], 16))  # one byte: a UTF-8 secret is looked for as Latin-1
    if escape[1] == "u":
        return chr(int(escape[2:], 16))
    return _JSON_ESCAPES.get(escape[1], escape[1])


def _masked(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` with each span replaced by `****` (overlapping or touching ones by one)."""
    if not spans:
        return text
    parts: list[str] = []
    done = 0
    for start, end in sorted(spans):
        if end <= done:
            continue
        if parts and start <= done:
            done = end  # joins the mask before
            continue
        parts += (text[done:start], MASK)
        done = end
    parts.append(text[done:])
    return "".join(parts)


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
        """Learn more secret values; every form each can take is worked out now, once."""
        for secret in secrets:
            if secret and secret != MASK:
                self._known.learn(secret)  # a known one returns at once (planning adds per event)

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
        """`text` with every known secret, in every form, replaced by `****`."""
        if not self.enabled or not text:
            return text
        return self._known.mask(text)

    def json_text(self, node: Any, encode: Callable[[Any], str]) -> str:
        """`encode(node)` (a JSON text) with every known secret masked in one look over
        the whole text (its escapes decoded for a second look), not one per string in it:
        a run-history line costs one pass. A secret too short to look for inside text is
        masked first, where it is a whole value."""
        if not self.enabled:
            return encode(node)
        if self._known.short:
            node = self.value(node)
        return self.text(encode(node))

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
        urls = self._known.urls
        masked = urls.get(url)
        if masked is None:
            masked = self.text(mask_url(url))
            if len(urls) < 256:
                urls[url] = masked
        return masked

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
