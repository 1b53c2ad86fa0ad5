"""An installed integration's values: settings from the YAML, secrets from their store.

This is where a URL's `apiKey` is split off into the keyring on the way in and put
back on the way out, so nothing above this layer handles stored secrets by hand.

`save` and `remove` hold the config folder's lock across both writes (secrets, then
settings; settings, then secrets), so concurrent installs never leave settings that
name a secret another process removed, or lose each other's entries. `VerifyMove`
takes verify's secrets along when a command switches the store they are kept in.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from bp_integrate import ui
from bp_integrate.config import Config, Installed, load, now_iso
from bp_integrate.errors import BPError, ConfigError, SecretsError, UsageError, command_for
from bp_integrate.fs import locked
from bp_integrate.integrations import get as get_integration
from bp_integrate.integrations.base import Integration
from bp_integrate.secrets import (
    SERVICE,
    Found,
    SecretStore,
    StoreKind,
    base_field,
    delete_entries,
    entry_name,
    env_var,
    find,
    index_discard,
    index_keys,
    open_store,
    override_notice,
    overriding,
    store_title,
    stored_keys,
)
from bp_integrate.urls import (
    MASK,
    has_masked_secret,
    join_url_secrets,
    split_url_secrets,
    url_secret,
)


def require_installed(config: Config, profile: str, name: str) -> Installed:
    item = config.get(profile, name)
    if item is None:
        raise ConfigError(
            f"{get_integration(name).title} is not installed in profile {profile!r}.",
            f"Run: bp-integrate --profile {profile} install {name}",
        )
    return item


def load_values(
    integration: Integration,
    item: Installed,
    profile: str,
    with_secrets: bool,
    store: SecretStore | None = None,
    strict: bool = True,
    missing: list[str] | None = None,
    announce: bool | None = None,
) -> dict[str, str]:
    """Every value of the integration; secrets real, or `****` without `with_secrets`.

    `strict=False` leaves out a secret its store no longer has (an update asks for it
    again) instead of failing. Given a `missing` list (a dry run), a secret that is not
    set (an unset variable of the env store, or a store that cannot be opened: no
    keyring) is `****` and named in the list: a dry run shows the requests without the
    secret values. An optional secret (an xMatters App Key) that is not set is left
    out, never an error. `announce` (default: when strict, i.e. a command that sends or
    shows) says on stderr which environment variable overrides a stored secret.
    """
    values = dict(item.values)
    if strict:
        check_stored(integration, values, profile)
        _check_secrets_listed(integration, item, values, profile)
    if not with_secrets:
        for name in item.secret_fields:
            if "." not in name:
                values[name] = MASK
        return values
    if announce is None:
        announce = strict
    url_secrets: dict[str, dict[str, str]] = {}
    for name in item.secret_fields:
        url_field, dot, param = name.partition(".")
        secret = _secret_value(integration, item, profile, name, store, missing, announce)
        if secret is None and missing is not None:
            missing.append(env_var(integration.name, name, profile))
            secret = MASK
        if secret is None:
            if not strict or not _required(integration, url_field, values):
                continue
            raise unset_error(integration, item, profile, name)
        if dot:
            url_secrets.setdefault(url_field, {})[param] = secret
        else:
            values[name] = secret
    for url_field, secrets in url_secrets.items():
        values[url_field] = join_url_secrets(values.get(url_field, ""), secrets)
    if not strict:
        # A URL whose key is gone is not a usable current value: ask for it again.
        for f in integration.fields:
            if f.url_with_secrets and has_masked_secret(values.get(f.name, "")):
                del values[f.name]
    return values


def unset_error(integration: Integration, item: Installed, profile: str, name: str) -> SecretsError:
    """What is said of the secret `name` that the install lists and neither its variable
    nor its store holds: where it was looked for, and each way to give it again."""
    url_field, dot, _param = name.partition(".")
    variable = env_var(integration.name, name, profile)
    where = (
        f"is not set in the environment ({variable})"
        if item.secret_store == "env"
        else f"is not in the {item.secret_store} store"
    )
    whole = env_var(integration.name, url_field, profile)
    give = (
        f"give it: bp-integrate --profile {profile} set {integration.name} {url_field} --stdin, or "
        if item.secret_store != "env"
        else ""
    )
    return SecretsError(
        f"The secret {name!r} of {integration.title} (profile {profile!r}) {where}.",
        f"Set {variable}"
        + (f" (or {whole} to the whole URL)" if dot else "")
        + f"; or {give}run bp-integrate --profile {profile} install "
        f"{integration.name} again.",
    )


def unset_secrets(
    integration: Integration, item: Installed, profile: str
) -> dict[str, SecretsError]:
    """The secrets the install lists that neither their variable nor the store holds, each
    with what a command that needs it says (`unset_error`): `show` marks them as not set
    instead of `****`. SecretsError if the store cannot be read (no keyring)."""
    return {
        name: unset_error(integration, item, profile, name)
        for name in item.secret_fields
        if _secret_value(integration, item, profile, name, None, None, announce=False) is None
    }


def _secret_value(
    integration: Integration,
    item: Installed,
    profile: str,
    name: str,
    store: SecretStore | None,
    missing: list[str] | None,
    announce: bool,
) -> str | None:
    """One stored secret for use (its profile's variable wins); None when not set.

    In a dry run (`missing` given) a store that cannot be opened counts as not set."""
    url_field, dot, param = name.partition(".")
    try:
        found = find(
            store or open_store(item.secret_store),
            profile,
            integration.name,
            name,
            item.generation,
        )
    except SecretsError:
        if missing is None:
            raise
        found = find(None, profile, integration.name, name)
    if found is None and dot:
        # The whole URL in its variable (as installed) carries the key too.
        whole = env_var(integration.name, url_field, profile)
        value = url_secret(os.environ.get(whole, ""), param)
        found = Found(value, whole) if value is not None else None
    variable = overriding(item.secret_store, found)
    if announce and variable:
        ui.say(override_notice(variable, profile, f"{integration.name} {name}", item.secret_store))
    return found.value if found else None


def _required(integration: Integration, name: str, values: Mapping[str, str]) -> bool:
    """Whether the field a secret belongs to is needed (an optional one never blocks)."""
    try:
        f = integration.field(name)
    except (KeyError, ValueError, BPError):
        return True
    return f.required and f.applies(values)


def _check_secrets_listed(
    integration: Integration, item: Installed, values: Mapping[str, str], profile: str
) -> None:
    """A hand-edited `secrets:` list may leave out one the integration needs: an error
    naming the fix, whether or not the secrets are loaded (show masks them)."""
    for f in integration.fields:
        if f.secret and f.required and f.applies(values) and f.name not in item.secret_fields:
            raise ConfigError(
                f"The config file lists no secret {f.name!r} for {integration.title} "
                f"in profile {profile!r}, and it needs one.",
                f"Run bp-integrate --profile {profile} install {integration.name} again "
                "(it asks for the secret), or restore the 'secrets' list in the config file.",
            )


def check_stored(integration: Integration, values: Mapping[str, str], profile: str) -> None:
    """Re-run the install-time checks on settings read from the file (it may be hand-edited)."""
    fix = (
        f"Run bp-integrate --profile {profile} install {integration.name} to set it again "
        "(the other values are offered as defaults), or correct the config file."
    )
    seen: dict[str, str] = {}
    for f in integration.fields:
        if f.secret or not f.applies(seen):
            continue
        value = values.get(f.name)
        if value is None or value == "":
            if f.required and f.default_for(seen) is None:
                raise ConfigError(
                    f"{integration.name}.{f.name} is missing from profile {profile!r}.", fix
                )
            seen[f.name] = value or f.default_for(seen) or ""
            continue
        try:
            seen[f.name] = f.validate(value, seen)
        except UsageError as error:
            raise ConfigError(
                f"The stored {integration.name}.{f.name} of profile {profile!r} is not valid: "
                f"{error.message}",
                fix,
            ) from None


def split_secrets(
    integration: Integration, values: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """(settings for the YAML, {secret entry: value}) from full values."""
    settings: dict[str, str] = {}
    secrets: dict[str, str] = {}
    for f in integration.fields:
        value = values.get(f.name, "")
        if f.name not in values:
            continue
        if f.secret:
            if value:
                secrets[f.name] = value
            continue
        if f.url_with_secrets and value:
            masked, in_url = split_url_secrets(value)
            settings[f.name] = masked
            secrets.update({f"{f.name}.{param}": v for param, v in in_url.items()})
            continue
        settings[f.name] = value
    return settings, secrets


def _raw_part(data: object, profile: str, part: str) -> object:
    """One part of a profile (`bigpanda`, `integrations`) as `data` (a config's parsed
    file) holds it, or None."""
    profiles = data.get("profiles") if isinstance(data, dict) else None
    raw = profiles.get(profile) if isinstance(profiles, dict) else None
    return raw.get(part) if isinstance(raw, dict) else None


def _raw_entry(data: object, profile: str, name: str) -> object:
    """One integration's entry as `data` (a config's parsed file) holds it, or None."""
    integrations = _raw_part(data, profile, "integrations")
    return integrations.get(name) if isinstance(integrations, dict) else None


def recheck(
    config: Config, profile: str, name: str | None = None, bigpanda: bool = False
) -> Config:
    """The config as the file holds it now (call under its lock), once what `config` was
    read to decide still holds: the profile it had still exists, the integration `name`
    is as it was read, and (`bigpanda`) so are the profile's BigPanda settings. Otherwise
    another command renamed, deleted or changed it meanwhile, and this one refuses (exit
    3) rather than write into a profile that is gone or over a change it did not see."""
    now = load(config.path)
    before = config.original()
    had_profile = profile in (before.get("profiles") or {})
    if had_profile and profile not in now.profile_names():
        raise ConfigError(
            f"Profile {profile!r} was renamed or deleted by another bp-integrate command "
            "while this one ran: nothing was changed.",
            "bp-integrate profile list shows the profiles now; run the command again "
            "with the profile you mean.",
        )
    settings = [_raw_part(data, profile, "bigpanda") for data in (before, now.data)]
    if bigpanda and settings[0] != settings[1]:
        raise ConfigError(
            f"The BigPanda settings of profile {profile!r} were changed by another "
            "bp-integrate command while this one ran: nothing was changed.",
            f"See them now with bp-integrate --profile {profile} profile show, then run the "
            "command again.",
        )
    if name is not None:
        was = _raw_entry(before, profile, name)
        if was != _raw_entry(now.data, profile, name):
            state = "removed" if _raw_entry(now.data, profile, name) is None else "changed"
            raise ConfigError(
                f"{get_integration(name).title} in profile {profile!r} was {state} by another "
                "bp-integrate command while this one ran: nothing was changed.",
                f"See it now with bp-integrate --profile {profile} status, then run the "
                "command again.",
            )
    return now


def save(
    config: Config,
    integration: Integration,
    profile: str,
    values: Mapping[str, str],
    store_kind: StoreKind,
) -> Installed:
    """Store secrets, then the YAML; on any failure both are as they were.

    Under the config lock, after `recheck`: another install, uninstall or profile
    rename/delete waits for both writes, or has finished and this one refuses.
    """
    with locked(config.path, f"the config file {config.path}"):
        recheck(config, profile, integration.name)
        return _save(config, integration, profile, values, store_kind)


def _save(
    config: Config,
    integration: Integration,
    profile: str,
    values: Mapping[str, str],
    store_kind: StoreKind,
) -> Installed:
    """New secrets under a fresh generation, then the settings naming it (the switch, one
    atomic write), then the old generation's secrets are deleted. A kill at any point
    leaves the old settings with the old secrets or the new with the new, plus entries
    no settings name, which `doctor` finds and removes."""
    settings, secrets = split_secrets(integration, values)
    old = config.get(profile, integration.name)
    store = open_store(store_kind)
    generation = 0
    if old is not None and store_kind != "env":
        generation = old.generation
        if not _same_secrets(store, profile, old, secrets):
            generation += 1
    item = Installed(
        name=integration.name,
        values=settings,
        secret_fields=sorted(secrets),
        secret_store=store_kind,
        installed_at=old.installed_at if old and old.installed_at else now_iso(),
        updated_at=now_iso(),
        generation=generation,
    )
    written: list[tuple[StoreKind, str]] = []
    try:
        for field_name, secret in secrets.items():
            key = entry_name(profile, integration.name, item.entry_field(field_name))
            if old is not None and generation == old.generation:
                break  # the same secrets, already stored under these names
            if store.kind != "env":
                written.append((store.kind, key))
            store.set(key, secret)
        config.put(profile, item)
        config.save()
    except BaseException:
        delete_entries(written)
        raise
    if old is not None and generation != old.generation:
        keep = {key for _, key in written}
        stale = [
            (old.secret_store, entry_name(profile, old.name, old.entry_field(f)))
            for f in old.secret_fields
            if old.secret_store != "env"
        ]
        delete_entries([entry for entry in stale if entry[1] not in keep])
    return item


def _same_secrets(
    store: SecretStore, profile: str, old: Installed, secrets: Mapping[str, str]
) -> bool:
    """Whether the store already holds exactly `secrets` under `old`'s names (an update
    that changes only settings): then nothing is written and the names stay."""
    if old.secret_store != store.kind or set(old.secret_fields) != set(secrets):
        return False
    for field_name, secret in secrets.items():
        key = entry_name(profile, old.name, old.entry_field(field_name))
        if store.get(key) != secret:
            return False
    return True


def remove(config: Config, integration: Integration, profile: str) -> tuple[list[str], list[str]]:
    """Delete local settings and stored secrets: (what was removed, what was left and why).

    Under the config lock, after `recheck`: an uninstall that lost a race with a rename,
    a delete or another uninstall refuses instead of reporting a removal it did not make.
    """
    with locked(config.path, f"the config file {config.path}"):
        # The file as it is now: the profile's BigPanda settings (where verify keeps the
        # read-back credentials) may have changed since `config` was read.
        return _remove(recheck(config, profile, integration.name), integration, profile)


def _remove(config: Config, integration: Integration, profile: str) -> tuple[list[str], list[str]]:
    item = config.get(profile, integration.name)
    if item is None:
        return [], []
    # Settings first: a secret left behind by an interruption names no install (`doctor`
    # finds it and removes it), while settings pointing at no secret cannot send.
    readback = config.readback_stored(profile, integration.name)
    verify_kind = config.verify_store(profile)
    config.remove(profile, integration.name)
    config.set_readback_stored(profile, integration.name, [])
    config.save()
    removed = [f"settings of {integration.name} in profile {profile!r} ({config.path})"]
    # verify's read-back credentials for this integration (in verify's store).
    readback_removed, left = delete_entries(
        [(verify_kind, entry_name(profile, name, secret)) for name, secret in readback]
    )
    removed += readback_removed
    store = open_store(item.secret_store)
    for field_name in item.secret_fields:
        key = entry_name(profile, integration.name, item.entry_field(field_name))
        if store.kind == "env":
            left.append(
                f"{env_var(integration.name, field_name, profile)} (an environment variable: "
                "unset it where bp-integrate runs)"
            )
            continue
        where = "keyring entry" if store.kind == "keyring" else f"entry in {store_label(store)}"
        try:
            if store.delete(key):
                service = f" (service {SERVICE})" if store.kind == "keyring" else ""
                removed.append(f"{where} {key}{service}")
        except SecretsError as error:
            left.append(f"{where} {key}: {error.message}")
    return removed, left


def store_label(store: SecretStore) -> str:
    path = getattr(store, "path", None)
    return str(path) if path else f"the {store.kind} store"


# --------------------------------------------------------------------------- verify's store


@dataclass
class VerifyMove:
    """A command switching the store a profile keeps verify's secrets in
    (`Config.verify_store`), and the secrets recorded in the old store that follow.

    In this order, under the config lock: `copy` writes each to the new store (the
    entry names stay: the old settings never name an entry of the new store), the
    caller saves settings naming the new store (`apply`: the switch, one atomic write),
    then `finish` deletes the old entries. An interruption before the switch leaves the
    old settings with the old, intact secrets, and copies in the new store that no
    settings name (`doctor` removes them). The env store keeps nothing: a move there
    only deletes, once the user has agreed (`to_env`)."""

    profile: str
    old: StoreKind
    new: StoreKind
    #: verify's secrets recorded in `old` that follow, as (integration, field).
    entries: list[tuple[str, str]]
    #: Recorded in `old` too, but given again by this command, which writes them itself.
    replaced: list[tuple[str, str]]
    moved: list[tuple[str, str]] = field(default_factory=list)
    #: Not moved: the old store did not have them, or could not be read (`unreadable`).
    unmoved: list[tuple[str, str]] = field(default_factory=list)
    unreadable: str | None = None

    def copy(self, explicit: bool) -> list[tuple[StoreKind, str]]:
        """Write each secret to the new store, read from the old one; what was written,
        for the caller to delete if its settings are not saved. A secret the old store
        lacks, or an old store that cannot be read (no keyring), is left (`unmoved`):
        the switch goes on only if the user chose the new store (`explicit`), else
        SecretsError naming them."""
        written: list[tuple[StoreKind, str]] = []
        if self.new == "env":
            return written  # nothing is stored there: `finish` deletes the old entries
        try:
            source, target = open_store(self.old), open_store(self.new)
            for integration, field_name in self.entries:
                key = entry_name(self.profile, integration, field_name)
                try:
                    value = source.get(key)
                except SecretsError as error:
                    self.unreadable = error.message
                    break
                if value is None:
                    continue
                written.append((self.new, key))
                target.set(key, value)
                self.moved.append((integration, field_name))
        except BaseException:
            delete_entries(written)
            raise
        self.unmoved = [entry for entry in self.entries if entry not in self.moved]
        if self.unmoved and not explicit:
            delete_entries(written)
            raise SecretsError(self.unmoved_message(), self.give_again())
        return written

    def apply(self, settings: dict[str, object]) -> None:
        """The switch, in the profile's `bigpanda` settings (`settings`, to be saved): the
        new store, and nothing recorded as stored that it does not hold."""
        from bp_integrate.config import forget_stored

        settings["verify_store"] = self.new
        forget_stored(settings, self.entries if self.new == "env" else self.unmoved)

    def finish(self) -> list[str]:
        """Once the settings name the new store: delete the old entries (moved, given
        again, or given up for the env store); what could not be deleted, and why. An
        old store that could not be read is not asked again (`doctor` finds them)."""
        if self.unreadable is not None:
            return []
        old = [(self.old, entry_name(self.profile, i, f)) for i, f in self.entries + self.replaced]
        return delete_entries(old)[1]

    def variables(self, entries: list[tuple[str, str]] | None = None) -> list[str]:
        """The profile's environment variables of `entries` (default: all that follow)."""
        chosen = self.entries if entries is None else entries
        return [env_var(i, base_field(f), self.profile) for i, f in chosen]

    def to_env(self) -> str:
        """What a move to the env store gives up, for the user to agree to."""
        return (
            f"The env store keeps nothing: {_secrets_phrase(self.entries)} of profile "
            f"{self.profile!r} would be deleted from {store_title(self.old)}, and verify "
            f"would read {_them(self.entries)} only from {', '.join(self.variables())}, "
            "which you must export wherever bp-integrate runs."
        )

    def notes(self) -> list[str]:
        """What was moved, to say on stderr."""
        if self.new == "env":
            gone = self.entries + self.replaced
            if not gone:
                return []
            what = _secrets_phrase(gone)
            line = (
                f"{what[:1].upper()}{what[1:]} of profile {self.profile!r} "
                f"{'is' if len(gone) == 1 else 'are'} no longer kept in "
                f"{store_title(self.old)} (the env store keeps nothing)"
            )
            if self.entries:
                line += f": export {', '.join(self.variables())} wherever bp-integrate runs"
            return [line + "."]
        if not self.moved:
            return []
        return [
            f"Moved {_secrets_phrase(self.moved)} from {store_title(self.old)} to "
            f"{store_title(self.new)}."
        ]

    def unmoved_message(self) -> str:
        """Which secrets could not be moved, and why ('' when all were)."""
        if not self.unmoved:
            return ""
        why = self.unreadable or f"{store_title(self.old)} does not have {_them(self.unmoved)}"
        return (
            f"Could not move {_secrets_phrase(self.unmoved)} of profile {self.profile!r} "
            f"from {store_title(self.old)} to {store_title(self.new)}: {why.rstrip('.')}."
        )

    def give_again(self) -> str:
        """How to give the secrets not moved again."""
        commands: list[str] = []
        for integration, field_name in self.unmoved:
            flag = VERIFY_FLAGS.get(field_name) if integration == "bigpanda" else None
            args = f"profile set {flag or f'--readback {integration}'}"
            if command_for(self.profile, args) not in commands:
                commands.append(command_for(self.profile, args))
        return (
            f"Give {_them(self.unmoved)} again: {'; '.join(commands)}; or set "
            f"{', '.join(self.variables(self.unmoved))}."
        )


#: The `profile set` option that gives each of verify's BigPanda secrets again.
VERIFY_FLAGS = {"org_token": "--org-token-stdin", "canary_app_key": "--canary-app-key-stdin"}


def _secrets_phrase(entries: list[tuple[str, str]]) -> str:
    """verify's secrets in words: "the org token and 2 read-back credentials"."""
    names = {"org_token": "the org token", "canary_app_key": "the canary App Key"}
    parts = [names.get(f, f"the BigPanda {f}") for i, f in entries if i == "bigpanda"]
    readback = sum(1 for i, _ in entries if i != "bigpanda")
    if readback:
        parts.append(f"{readback} read-back credential{'' if readback == 1 else 's'}")
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def _them(entries: list[tuple[str, str]]) -> str:
    return "it" if len(entries) == 1 else "them"


def plan_verify_move(
    config: Config,
    profile: str,
    new: StoreKind,
    given: set[tuple[str, str]] | None = None,
    given_integrations: set[str] | None = None,
) -> VerifyMove | None:
    """The move of verify's secrets when a command puts them in the `new` store (None:
    they are there already). `given`: the (integration, field) the command stores itself,
    and `given_integrations` those whose read-back credentials it records anew: not
    moved, but their old entries are deleted with the others."""
    old = config.verify_store(profile)
    if old == new:
        return None
    recorded = [] if old == "env" else config.verify_entries(profile)
    replaced = [
        entry
        for entry in recorded
        if entry in (given or set()) or entry[0] in (given_integrations or set())
    ]
    follow = [entry for entry in recorded if entry not in replaced]
    return VerifyMove(profile, old, new, follow, replaced)


# --------------------------------------------------------------------------- orphans


@dataclass(frozen=True)
class Orphan:
    """A stored secret no profile's settings name (left by an interrupted command), or a
    temp file an interrupted write left in the config folder."""

    kind: Literal["keyring", "file", "temp"]
    name: str  # the entry name (never the value), or the temp file's path

    def label(self) -> str:
        if self.kind == "temp":
            return f"temp file {self.name}"
        where = f"keyring entry (service {SERVICE})" if self.kind == "keyring" else "file entry"
        return f"{where} {self.name}"


def referenced_entries(config: Config) -> set[tuple[StoreKind, str]]:
    """(store, entry name) of every entry some profile's settings name, in the store they
    say it is in: an entry of the same name in another store (a copy a store switch was
    interrupted before it named) is an orphan."""
    return {
        (kind, entry_name(profile, integration, secret))
        for profile in config.profile_names()
        for kind, integration, secret in config.secret_entries(profile)
    }


def _temp_files(config: Config) -> list[Orphan]:
    """Temp files of interrupted writes beside the files written under the config lock
    (every such write holds it, so under the lock none is still being written)."""
    from bp_integrate.secrets import INSECURE_FILE, index_path

    found: list[Orphan] = []
    for written in (config.path, config.path.parent / INSECURE_FILE, index_path()):
        pattern = f".{written.name}.*.tmp"
        with suppress(OSError):
            found += [Orphan("temp", str(t)) for t in sorted(written.parent.glob(pattern))]
    return found


def find_orphans(config: Config) -> list[Orphan]:
    """Stored secrets no profile names, then leftover temp files. The keyring is asked
    only about the entries in its index (`secrets.index_keys`): none, no keyring call.
    SecretsError if a store that holds some cannot be read."""
    referenced = referenced_entries(config)
    found = [
        Orphan(kind, key)
        for kind in ("file", "keyring")
        for key in stored_keys(kind)
        if (kind, key) not in referenced
    ]
    return found + _temp_files(config)


def remove_orphans(path: Path, chosen: list[Orphan]) -> tuple[list[str], list[str]]:
    """Remove the `chosen` orphans that are orphans still (under the config lock, the
    settings read again: an install that finished meanwhile may name one now):
    (removed, left with the reason)."""
    removed: list[str] = []
    left: list[str] = []
    with locked(path, f"the config file {path}"):
        still = set(find_orphans(load(path)))
        for orphan in chosen:
            if orphan not in still:
                left.append(f"{orphan.label()}: in use again, kept")
                continue
            if orphan.kind == "temp":
                try:
                    os.unlink(orphan.name)
                    removed.append(orphan.label())
                except OSError as error:
                    left.append(f"{orphan.label()}: {error.strerror or error}")
                continue
            gone, kept = delete_entries([(orphan.kind, orphan.name)])
            removed += [orphan.label() for _ in gone]
            left += kept
        if not any(o.kind == "keyring" for o in chosen):
            return removed, left
        with suppress(SecretsError):  # names in the index with no entry behind them
            index_discard(sorted(set(index_keys()) - set(stored_keys("keyring"))))
    return removed, left
