"""The install walkthrough as plain logic: where each value comes from, and in what order.

A value comes from `--set`, then the answers file, then `--secret-stdin`, then the
environment, then (interactive only) a prompt that re-asks until the value is valid;
an installed value is the default (`kept_values`: an answers file states the whole
install, so under one a setting it leaves out takes its default, not the installed one).
The CLI supplies the `Prompter`; tests can too.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bp_integrate.errors import BPError, UsageError, command_for, plural
from bp_integrate.integrations.base import Field, Integration, Step, Webhook
from bp_integrate.secrets import env_var
from bp_integrate.urls import (
    MASK,
    SECRET_PATH,
    join_url_secrets,
    mask_url,
    masked_params,
    split_url_secrets,
)

#: Typed at a prompt: the previous question again (at a step's first, the previous
#: step's); at a checkpoint: the step's values again.
BACK = "back"
#: Typed at a prompt: the question's help again.
HELP_WORDS = ("?", "help")
#: Typed before a reserved word (`\\back`), gives the word itself as the value.
ESCAPE = "\\"
#: Under this key, a field's `default_from` sees the profile's BigPanda region (us, eu
#: or custom): PagerDuty offers its EU events host to an eu profile.
REGION = "bigpanda.region"


class GoBack(Exception):
    """The admin typed `back`: the previous question (or step) again."""


def reserved(raw: str) -> str | None:
    """`back` or `help` when `raw` is one of the reserved words (any case), else None."""
    word = raw.strip().lower()
    if word == BACK:
        return BACK
    if word in HELP_WORDS:
        return "help"
    return None


def unescaped(raw: str) -> str:
    """`\\back`, `\\?`, `\\help`: the word itself; any other value as typed."""
    text = raw.strip()
    if text.startswith(ESCAPE) and reserved(text[1:]) is not None:
        return text[1:]
    return raw


def json_unfinished(text: str) -> bool:
    """True while `text` opens a JSON object or array that is not closed yet (brackets
    inside strings do not count): a multi-line paste is read on until it is."""
    stripped = text.lstrip()
    if not stripped.startswith(("{", "[")):
        return False
    depth = 0
    in_string = escaped = False
    for char in stripped:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
    return depth > 0


def read_at_file(raw: str) -> str:
    """`@FILE` at a multi-line (JSON) prompt: the file's text; a YAML file (.yaml,
    .yml) as compact JSON."""
    path = Path(raw.strip()[1:].strip()).expanduser()
    hint = "Give @ and the path of a JSON (or YAML) file, e.g. @payload.json."
    if path.suffix.lower() in (".yaml", ".yml"):
        import json

        from bp_integrate import loading

        return json.dumps(loading.load_yaml(path, "the file", hint), separators=(",", ":"))
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(f"Cannot read {path}: {reason}.", hint) from None


def scheme_typo(raw: str) -> str | None:
    """`htps://host` -> `https://host`: a URL whose scheme is a near miss of https."""
    scheme, sep, rest = raw.strip().partition("://")
    if not sep or scheme.lower() in ("http", "https"):
        return None
    from bp_integrate.errors import nearest

    return f"https://{rest}" if nearest(scheme, ["https", "http"]) else None


class Prompter(Protocol):
    def step(self, number: int, total: int, step: Step) -> None: ...
    def ask(self, field: Field, default: str | None) -> str: ...
    def ask_secret(self, field: Field, has_current: bool, stored: str = "") -> str:
        """A hidden answer; `stored` is the kept secret shown masked (`****ABCD`)."""
        ...

    def checkpoint(self, step: Step, can_go_back: bool = False) -> bool:
        """True when the step is done; False to enter its values again."""
        ...

    def show_paste(self, integration: Integration, values: Mapping[str, str]) -> None: ...
    def warn(self, message: str) -> None: ...
    def invalid(self, error: BPError) -> None: ...
    def explain(self, field: Field) -> None:
        """`?` or `help` at the field's prompt: its help again."""
        ...

    def note(self, message: str) -> None:
        """Something the admin should know (a key check's result, how to go back)."""
        ...


def masked_tail(secret: str) -> str:
    """`****` plus the last four characters, enough to recognise a key by (as the AWS
    CLI shows them); a short secret is only `****` (four would be most of it)."""
    return MASK + secret[-4:] if len(secret) >= 12 else MASK


@dataclass
class Sources:
    """Values given up front (flags, files, stdin, environment)."""

    sets: dict[str, str] = field(default_factory=dict)
    answers: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    environ: Mapping[str, str] = field(default_factory=dict)
    interactive: bool = False
    #: Values the target's API gave (`TargetSide`): they come first, never asked.
    made: dict[str, str] = field(default_factory=dict)
    #: Titles of the install steps the target's API did: neither shown nor confirmed.
    done_steps: tuple[str, ...] = ()
    #: The profile's BigPanda region (us, eu, custom): defaults may follow it.
    region: str = "us"
    #: The profile installed into: a named profile reads only its own variables
    #: (`BP_INTEGRATE_PROD_...`), the default profile the shared names (`secrets.env_var`).
    profile: str | None = None


@dataclass
class InstallPlan:
    """The outcome of the walkthrough, before anything is stored."""

    values: dict[str, str]
    changed: list[str]
    warnings: list[str]


def parse_sets(
    items: list[str], integration: Integration, profile: str | None = None
) -> dict[str, str]:
    """`--set FIELD=VALUE` pairs; a secret given this way is refused (argv is public)."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"--set {item!r} is not FIELD=VALUE.", "e.g. --set recipients=ops")
        f = integration.field(name)
        if f.secret:
            raise UsageError(
                f"{integration.name}.{name} is a secret and cannot be given with --set: "
                "command lines are visible to other users and kept in shell history.",
                f"Set {env_var(integration.name, name, profile)} in the environment, or use "
                f"--secret-stdin {name}, or answer the hidden prompt.",
            )
        _refuse_url_secrets(integration, f, value, f"--set {name}", profile)
        out[name] = value
    return out


def _refuse_url_secrets(
    integration: Integration, f: Field, value: str, where: str, profile: str | None = None
) -> None:
    """A URL carrying its key (`?apiKey=...`) is a secret too: not in argv or files."""
    if not f.url_with_secrets:
        return
    params = sorted(split_url_secrets(value)[1])
    if not params:
        return
    if SECRET_PATH in params:
        raise UsageError(
            f"{where} holds a URL with its secret in its path (a Slack, Discord or Teams "
            "webhook: whoever has the URL can post to it): command lines are visible to "
            "other users and kept in shell history, and answers files get shared.",
            f"Give the whole URL in {env_var(integration.name, f.name, profile)}, with "
            f"--secret-stdin {f.name}, or at the prompt; or write it as {mask_url(value)} "
            f"and set {env_var(integration.name, f'{f.name}.{SECRET_PATH}', profile)} to "
            "the rest of its path.",
        )
    param = params[0]
    raise UsageError(
        f"{where} holds a URL with its {param} in it, and that key is a secret: command "
        "lines are visible to other users and kept in shell history, and answers files "
        "get shared.",
        f"Write the URL with {param}={MASK} and set "
        f"{env_var(integration.name, f'{f.name}.{param}', profile)} to the key; or give the "
        f"whole URL in {env_var(integration.name, f.name, profile)}, with --secret-stdin "
        f"{f.name}, or at the prompt.",
    )


def load_answers(
    path: Path, integration: Integration, profile: str | None = None
) -> dict[str, str]:
    """An answers file: YAML mapping of field -> value (no secrets)."""
    from bp_integrate import loading

    data = loading.load_yaml(
        path,
        "answers file",
        "Check the path and format; examples/answers/ has one answers file per integration.",
    )
    if (
        isinstance(data, dict)
        and integration.name in data
        and isinstance(data[integration.name], dict)
    ):
        data = data[integration.name]
    if not isinstance(data, dict):
        raise UsageError(
            f"{path} must be a mapping of field: value.", "See examples/ for the format."
        )
    answers: dict[str, str] = {}
    for key, value in data.items():
        f = integration.field(str(key))
        if f.secret:
            raise UsageError(
                f"{path} holds the secret {key!r}; answers files are for settings only.",
                f"Remove it from the file and set {env_var(integration.name, f.name, profile)} "
                f"or use --secret-stdin {f.name}.",
            )
        answers[f.name] = _scalar(value, f, path)
        _refuse_url_secrets(integration, f, answers[f.name], f"{path} ({f.name})", profile)
    return answers


def _scalar(value: Any, f: Field, path: Path) -> str:
    """An answers-file value as the text a prompt would take; nested data is refused."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict) and f.multiline:
        import json

        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, list | dict):
        raise UsageError(
            f"{path}: {f.name} must be a single value"
            + (" or a list of names." if f.list_value else "."),
            "See examples/answers/ for the format.",
        )
    return str(value)


def field_order(integration: Integration) -> list[tuple[Step | None, list[Field]]]:
    """Steps with the fields each asks, then any field no step asks."""
    seen: set[str] = set()
    out: list[tuple[Step | None, list[Field]]] = []
    for step in integration.install_steps:
        asked = [integration.field(n) for n in step.asks]
        seen.update(step.asks)
        out.append((step, asked))
    rest = [f for f in integration.fields if f.name not in seen]
    if rest:
        out.append((None, rest))
    return out


def run(
    integration: Integration,
    current: Mapping[str, str],
    sources: Sources,
    prompter: Prompter | None,
    verify_key: Callable[[str], object] | None = None,
) -> InstallPlan:
    """Walk the steps, resolve every field, check everything; store nothing.

    Interactive, `back` at a prompt asks the previous question again (at a step's first
    question, the previous step's questions), and `back` at a checkpoint the step's
    values again; what was entered is offered as the defaults.
    """
    values: dict[str, str] = {}
    warnings: list[str] = []
    plan = field_order(integration)
    given = _given(integration, sources)
    # What the questions offer: the stored values, then what was entered before a `back`.
    base: dict[str, str] = dict(current)
    shown: list[int] = []  # plan indices of the steps shown so far, in order
    index = 0
    while index < len(plan):
        step, fields = plan[index]
        if step is not None and not step.applies(values):
            index += 1
            continue  # a step of another setup (Panopta's v1.1 or workflow)
        if step is not None and step.title in sources.done_steps:
            _resolve_step(integration, fields, values, base, sources, None, verify_key, current)
            index += 1
            continue  # done through the target's API before the walkthrough
        shown.append(index)
        if step is not None and prompter is not None:
            later = sum(
                1
                for s, _ in plan[index + 1 :]
                if s is not None and s.applies(values) and s.title not in sources.done_steps
            )
            prompter.step(len(shown), len(shown) + later, step)
        try:
            _walk_step(integration, step, fields, values, base, sources, prompter, verify_key,
                       warnings, given, current)  # fmt: skip
        except GoBack:
            earlier = _previous_asked(plan, shown[:-1], values, given, sources)
            if earlier is None:
                assert prompter is not None  # GoBack comes only from a prompt
                prompter.note("This is the first question: there is nothing before it.")
                shown.pop()
                continue  # the same step again
            del shown[shown.index(earlier) :]
            for _step, later_fields in plan[earlier:]:
                base.update(_entered_again(later_fields, values, {}))
            index = earlier
            continue
        index += 1
    for message in integration.warnings(values):
        if message not in warnings:
            warnings.append(message)
    changed = [
        name
        for name in values
        if values[name] != current.get(name, "")
        and not (values[name] == "" and name not in current)
    ]
    return InstallPlan(values, changed, warnings)


def _walk_step(
    integration: Integration,
    step: Step | None,
    fields: list[Field],
    values: dict[str, str],
    base: dict[str, str],
    sources: Sources,
    prompter: Prompter | None,
    verify_key: Callable[[str], object] | None,
    warnings: list[str],
    given: Mapping[str, str],
    installed: Mapping[str, str],
) -> None:
    """One step's questions, then its checkpoint (`back` there: the questions again).
    GoBack from its first question goes to the caller: the previous step."""
    while True:
        _resolve_step(integration, fields, values, base, sources, prompter, verify_key, installed)
        if step is None or not step.checkpoint or prompter is None:
            return
        for message in integration.warnings(values):
            if message not in warnings:
                warnings.append(message)
                prompter.warn(message)
        if step.shows_paste:
            prompter.show_paste(integration, values)
        asked = sources.interactive and any(
            f.name not in given and f.applies(values) for f in fields
        )
        if prompter.checkpoint(step, can_go_back=asked):
            return
        base.update(_entered_again(fields, values, {}))


def _previous_asked(
    plan: list[tuple[Step | None, list[Field]]],
    shown: list[int],
    values: Mapping[str, str],
    given: Mapping[str, str],
    sources: Sources,
) -> int | None:
    """The latest step shown before this one that asks something at a prompt."""
    for index in reversed(shown):
        if any(_asks(f, given, sources) and f.applies(values) for f in plan[index][1]):
            return index
    return None


def _asks(f: Field, given: Mapping[str, str], sources: Sources) -> bool:
    """Whether the walkthrough asks `f` at a prompt (nothing gave it up front)."""
    return sources.interactive and f.asked and f.name not in given


def _entered_again(
    fields: list[Field], values: dict[str, str], base: Mapping[str, str]
) -> dict[str, str]:
    """Forget a step's values before asking them again; what was entered becomes the
    default (a field that no longer applies, say basic auth's user, is dropped)."""
    entered = {f.name: values.pop(f.name) for f in fields if values.get(f.name)}
    for f in fields:
        values.pop(f.name, None)
    return {**base, **entered}


def _resolve_step(
    integration: Integration,
    fields: list[Field],
    values: dict[str, str],
    base: dict[str, str],
    sources: Sources,
    prompter: Prompter | None,
    verify_key: Callable[[str], object] | None,
    installed: Mapping[str, str],
) -> None:
    """Resolve a step's fields in order. `back` at a question asks the step's previous
    question again; at its first, GoBack goes on to the caller (the previous step).
    A value that would change what the `installed` values made on the target's side
    (`identity_changed`) is asked again, or (given up front) refused."""
    given = _given(integration, sources)
    asked: list[int] = []  # positions of the questions asked, for `back`
    position = 0
    while position < len(fields):
        f = fields[position]
        if not f.applies(values):
            position += 1
            continue
        try:
            values[f.name] = _resolve(integration, f, values, base, sources, prompter)
            changed = identity_changed(
                integration, f, installed.get(f.name, ""), values[f.name], sources.profile
            )
            if changed is not None:
                del values[f.name]
                if prompter is None or not _asks(f, given, sources):
                    raise changed
                prompter.invalid(changed)
                continue
            if (
                f.bigpanda_key
                and values[f.name]
                and verify_key is not None
                and values[f.name] != base.get(f.name)
            ):
                _verified(verify_key, f, integration, values, sources, prompter)
        except GoBack:
            values.pop(f.name, None)
            if not asked:
                raise
            position = asked.pop()
            base.update(_entered_again(fields[position:], values, {}))
            continue
        if _asks(f, given, sources) and prompter is not None:
            asked.append(position)
        position += 1


def identity_changed(
    integration: Integration, f: Field, before: str, after: str, profile: str | None
) -> UsageError | None:
    """The refusal of a re-install that changes a value naming what install made on the
    target's side (`Field.identifies`: Webhook v2's name is its id in BigPanda), or None.

    Refused, not replaced: what the old one is shared by (BigPanda's AutoShare rules, which
    no API lists) cannot be seen from here, so deleting it could silently stop shares
    someone relies on; uninstall removes it with its "stop sending" step first."""
    if f.identifies is None or not before or not after or after == before:
        return None
    old, new = f.identifies(before), f.identifies(after)
    side = integration.target_side
    where = side.system if side is not None else "the target's system"
    uninstall = command_for(profile, f"uninstall {integration.name}")
    return UsageError(
        f"This profile's {integration.title} is {old} in {where}; {f.name} {after!r} would "
        f"create {new} beside it and leave {old} behind, with nothing here to remove it.",
        f"To replace it: {uninstall} (it deletes {old}), then install. To keep both: install "
        f"the new one in another profile (bp-integrate --profile NAME install "
        f"{integration.name} ...). Or keep {f.name}: {before}.",
    )


def _verified(
    verify_key: Callable[[str], object],
    f: Field,
    integration: Integration,
    values: dict[str, str],
    sources: Sources,
    prompter: Prompter | None,
) -> None:
    while True:
        try:
            found = verify_key(values[f.name])
        except BPError as error:
            if not sources.interactive or prompter is None:
                raise
            prompter.invalid(error)
            values[f.name] = _prompt(f, values, {}, prompter, integration, sources)
            continue
        if prompter is not None and isinstance(found, int) and not isinstance(found, bool):
            prompter.note(f"{f.label}: the key works (it sees {plural(found, 'environment')}).")
        return


def given_values(integration: Integration, sources: Sources) -> dict[str, str]:
    """Every value given up front, by field name (the target's API, flags, answers,
    stdin, environment), as given (not checked yet)."""
    return _given(integration, sources)


def _given(integration: Integration, sources: Sources) -> dict[str, str]:
    """Every value given up front, by field name (flags, answers, stdin, environment)."""
    given: dict[str, str] = {}
    for f in integration.fields:
        variable = env_var(integration.name, f.name, sources.profile)
        for found in (
            sources.made.get(f.name),
            sources.sets.get(f.name),
            sources.answers.get(f.name),
            sources.secrets.get(f.name),
            sources.environ.get(variable),
        ):
            if found:
                given[f.name] = found
                break
    return given


def _resolve(
    integration: Integration,
    f: Field,
    values: dict[str, str],
    current: Mapping[str, str],
    sources: Sources,
    prompter: Prompter | None,
) -> str:
    given: tuple[str, str] | None = None
    variable = env_var(integration.name, f.name, sources.profile)
    if f.name in sources.made:
        system = integration.target_side.system if integration.target_side else "the target"
        given = (sources.made[f.name], f"{system}'s API")
    elif f.name in sources.sets:
        given = (sources.sets[f.name], f"--set {f.name}")
    elif f.name in sources.answers:
        given = (sources.answers[f.name], "the answers file")
    elif f.name in sources.secrets:
        given = (sources.secrets[f.name], f"--secret-stdin {f.name}")
    elif sources.environ.get(variable):
        given = (sources.environ[variable], variable)
    if given is not None:
        raw, origin = given
        try:
            raw = fill_url_secrets(integration, f, raw, current, sources.environ, sources.profile)
            return f.validate(raw, values)
        except UsageError as error:
            error.message = f"{error.message} (from {origin})"
            raise
    if sources.interactive and prompter is not None and f.asked:
        return _prompt(f, values, current, prompter, integration, sources)
    kept = kept_values(integration, current, sources)
    if kept.get(f.name):
        return kept[f.name]
    # A default may depend on values given for later fields (Panopta's setup follows
    # from the URLs given): it sees what was given up front, too.
    default = f.default_for(
        {REGION: sources.region, **kept, **_given(integration, sources), **values}
    )
    if default is not None:
        return f.validate(default, values)
    if not f.required:
        return ""
    how = (
        f"set {variable} or use --secret-stdin {f.name}"
        if f.secret
        else f"use --set {f.name}=VALUE, an answers file (--answers), or set {variable}"
    )
    raise UsageError(
        f"No value for {integration.name}.{f.name} ({f.label}).", f"{f.help} To give it, {how}."
    )


def kept_values(
    integration: Integration, current: Mapping[str, str], sources: Sources
) -> dict[str, str]:
    """The installed values a re-install keeps where nothing gives a field (and no prompt
    asks it): every one, but under an answers file, which states the whole install (a
    setting it leaves out takes its default, not the previous install's value), only
    what no answers file can state: secrets, a URL that carries one (from its variable,
    the prompt or --secret-stdin) and records install keeps (`Field.asked` False)."""
    if not sources.answers:
        return dict(current)
    kept: dict[str, str] = {}
    for f in integration.fields:
        value = current.get(f.name, "")
        if value and (f.secret or not f.asked or _carries_secret(f, value)):
            kept[f.name] = value
    return kept


def _carries_secret(f: Field, value: str) -> bool:
    if not f.url_with_secrets:
        return False
    try:
        return bool(split_url_secrets(value)[1])
    except UsageError:  # a hand-edited URL that is not one: not kept
        return False


def fill_url_secrets(
    integration: Integration,
    f: Field,
    raw: str,
    current: Mapping[str, str],
    environ: Mapping[str, str],
    profile: str | None = None,
) -> str:
    """Replace `apiKey=****` in a URL by the real key: from its variable, else the stored URL.

    This is how a masked URL (as `show` prints it, or as the prompt offers it) keeps the
    key it had, and how a script gives the URL without putting the key on a command line.
    """
    if not f.url_with_secrets:
        return raw
    wanted = masked_params(raw)
    if not wanted:
        return raw
    stored = split_url_secrets(current.get(f.name, ""))[1]
    found: dict[str, str] = {}
    for param in wanted:
        variable = env_var(integration.name, f"{f.name}.{param}", profile)
        value = environ.get(variable) or stored.get(param)
        if not value and param == SECRET_PATH:
            raise UsageError(
                f"The {f.label} has {MASK} in its path, a placeholder, and no secret is "
                "known for it.",
                f"Set {variable} to the rest of its path, or give the whole URL in "
                f"{env_var(integration.name, f.name, profile)} or at the prompt.",
            )
        if not value:
            raise UsageError(
                f"The {f.label} has {param}={MASK}, a placeholder, and no key is known for it.",
                f"Set {variable} to the key, or give the whole URL with its real {param}.",
            )
        found[param] = value
    return join_url_secrets(raw, found)


def _prompt(
    f: Field,
    values: dict[str, str],
    current: Mapping[str, str],
    prompter: Prompter,
    integration: Integration,
    sources: Sources,
) -> str:
    """Ask until the value is valid. `back` raises GoBack, `?` or `help` shows the help
    again (at a secret's prompt too: `\\back` gives the word itself); at a multi-line
    (JSON) prompt, `@FILE` reads the value from a file."""
    existing = current.get(f.name)
    while True:
        if f.secret:
            raw = prompter.ask_secret(f, bool(existing), masked_tail(existing or ""))
            if not raw.strip() and existing:
                return existing
        else:
            shown = existing or f.default_for({REGION: sources.region, **values})
            display = mask_url(shown) if shown and f.url_with_secrets else shown
            raw = prompter.ask(f, display)
        word = reserved(raw)
        if word == BACK:
            raise GoBack
        if word is not None:
            prompter.explain(f)
            continue
        raw = unescaped(raw)
        try:
            if f.multiline and raw.strip().startswith("@"):
                raw = read_at_file(raw)
            # Accepting (or editing) the masked default keeps the real key.
            raw = fill_url_secrets(
                integration, f, raw.strip(), current, sources.environ, sources.profile
            )
            return f.validate(raw, values)
        except UsageError as error:
            fixed = None if f.secret else scheme_typo(raw)
            if fixed is not None and "Did you mean" not in (error.hint or ""):
                shown_fix = mask_url(fixed) if f.url_with_secrets else fixed
                error.hint = f"Did you mean {shown_fix!r}? {error.hint or ''}".strip()
            prompter.invalid(error)
            prompter.note(f"Type {BACK} for the previous question, ? for this one's help.")


def masked_values(integration: Integration, values: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for f in integration.fields:
        if f.name not in values:
            continue
        value = values[f.name]
        if f.secret and value:
            out[f.name] = MASK
        elif f.url_with_secrets:
            out[f.name] = mask_url(value)
        else:
            out[f.name] = value
    return out


def paste(
    integration: Integration,
    values: Mapping[str, str],
    profile: str,
    show_secrets: bool,
    unset: Collection[str] = (),
) -> dict[str, Any]:
    """The document `show` prints: what to paste where, secrets masked by default.

    A secret in `unset` (the install lists it, no store holds it) is not shown as `****`
    as if it were there: what it goes into is null (a paste item also `missing`), and so
    is its setting."""
    hook: Webhook = integration.webhook(values)
    if not show_secrets:
        hook = hook.masked()
    settings: dict[str, Any] = dict(values) if show_secrets else masked_values(integration, values)
    items = [item.to_json(show_secrets) for item in integration.paste(values)]
    webhook: dict[str, Any] = {"url": hook.url, "headers": dict(hook.headers)}
    if unset:
        lacking, url, headers = _lacking(integration, values, unset)
        for item in items:
            if item["key"] in lacking:
                item.update(value=None, missing=True)
        webhook["url"] = None if url else webhook["url"]
        webhook["headers"].update({name: None for name in headers})
        settings.update({name.partition(".")[0]: None for name in unset})
    return {
        "integration": integration.name,
        "title": integration.title,
        "profile": profile,
        "paste_into": integration.paste_target,
        "paste": items,
        "webhook": webhook,
        "settings": settings,
        "notes": integration.final_notes(values),
    }


def _lacking(
    integration: Integration, values: Mapping[str, str], unset: Collection[str]
) -> tuple[set[str], bool, set[str]]:
    """What the secrets `unset` go into: (paste item keys, whether the webhook URL, webhook
    header names). Found as `set` finds what to paste again: what changes when they change
    (a Basic header holds a password only in base64)."""
    other = dict(values)
    for name in unset:
        url_field, dot, param = name.partition(".")
        if dot:
            other[url_field] = join_url_secrets(values.get(url_field, ""), {param: MASK + "*"})
        else:
            other[name] = MASK + "*"
    before = {item.key: item.value for item in integration.paste(values)}
    after = {item.key: item.value for item in integration.paste(other)}
    hook, changed = integration.webhook(values), integration.webhook(other)
    headers = {n for n, v in hook.headers.items() if changed.headers.get(n) != v}
    return {k for k, v in before.items() if after.get(k) != v}, hook.url != changed.url, headers
