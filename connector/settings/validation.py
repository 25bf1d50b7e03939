"""Destination settings, validated: what the seed's "Settings" section lists, plus what running it needs.

Each settings object checks its values on construction and raises one ``SettingsError`` naming
every problem (the setting, why, and what to do). ``settings_from_mapping`` builds them from the
file format (snake_case keys, plain values); ``connector.settings.loading`` reads files and the
environment.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, TypeVar
from urllib.parse import urlsplit

from connector.transform import CONTEXT_ATTRIBUTES, title_case

MAX_ASYNC_ITEMS = 32_000  # SFMC's hard limit per async request
MAX_PAYLOAD_BYTES = 5 * 1024 * 1024  # SFMC's payload limit
MAX_SYNC_GROUP_SIZE = 50  # SFMC's best practice for sync rowset calls
LEGACY_AUTH_BASE_URL = "https://auth.exacttargetapis.com"

_SUBDOMAIN = re.compile(r"mc[A-Za-z0-9-]{26}")
_SUBDOMAIN_HINT = (
    "copy it from your REST base URI: in mc563885gzs27c5t9-63k636ttgm.rest.marketingcloudapis.com "
    "it is mc563885gzs27c5t9-63k636ttgm (AUTH-2)"
)

Issue = tuple[str, str]  # (setting path, what is wrong and what to do)


class SettingsError(ValueError):
    """Invalid settings. ``problems`` holds one line per problem; ``str()`` joins them."""

    def __init__(self, issues: Iterable[Issue]):
        self.issues: tuple[Issue, ...] = tuple(issues)
        self.problems: tuple[str, ...] = tuple(
            f"{path}: {message}" if path else message for path, message in self.issues
        )
        super().__init__("\n".join(self.problems))

    def prefixed(self, prefix: str) -> list[Issue]:
        """The issues with ``prefix`` put before each path (for nested settings)."""
        return [(f"{prefix}{path}", message) for path, message in self.issues]


# ---------------------------------------------------------------------------------------------
# Field checks: each returns the normalized value, or records an issue and returns it unchanged.
# ---------------------------------------------------------------------------------------------


def _shown(value: object) -> str:
    """A short description of a value for a message (never used for secrets)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, int | float):
        return repr(value)
    if value is None:
        return "nothing"
    return f"a {type(value).__name__}"


def _text(issues: list[Issue], path: str, value: object, *, required: bool, hint: str) -> Any:
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            issues.append((path, f"required; {hint}"))
        return None
    if not isinstance(value, str):
        issues.append((path, f"must be text (got {_shown(value)}); {hint}"))
        return value
    return value.strip()


def _secret_text(issues: list[Issue], path: str, value: object, *, hint: str) -> Any:
    if value is not None and not isinstance(value, str):
        issues.append((path, f"must be text (got a {type(value).__name__}); {hint}"))
        return value
    return _text(issues, path, value, required=True, hint=hint)


def _flag(issues: list[Issue], path: str, value: object) -> Any:
    if not isinstance(value, bool):
        issues.append((path, f"must be true or false (got {_shown(value)})"))
    return value


def _whole_number(issues: list[Issue], path: str, value: object, low: int, high: int | None, why: str) -> Any:
    bounds = f"from {low} to {high}" if high is not None else f"{low} or more"
    if isinstance(value, bool) or not isinstance(value, int):
        issues.append((path, f"must be a whole number {bounds} (got {_shown(value)}); {why}"))
    elif value < low or (high is not None and value > high):
        issues.append((path, f"must be {bounds} (got {value}); {why}"))
    return value


def _positive_number(issues: list[Issue], path: str, value: object, why: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        issues.append((path, f"must be a number above 0 (got {_shown(value)}); {why}"))
        return value
    if not math.isfinite(value) or value <= 0:
        issues.append((path, f"must be a number above 0 (got {value}); {why}"))
        return value
    return float(value)


def _base_url(issues: list[Issue], path: str, value: object) -> Any:
    hint = "give the scheme and host only, e.g. http://localhost:8080, to target an emulator"
    text = _text(issues, path, value, required=False, hint=hint)
    if not isinstance(text, str):
        return text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        issues.append((path, f"must be an http:// or https:// URL (got {_shown(text)}); {hint}"))
    elif parts.query or parts.fragment:
        issues.append((path, f"must not have a query or fragment (got {_shown(text)}); {hint}"))
    return text.rstrip("/")


def _subdomain(issues: list[Issue], value: object) -> Any:
    text = _text(issues, "subdomain", value, required=False, hint=_SUBDOMAIN_HINT)
    if not isinstance(text, str) or _SUBDOMAIN.fullmatch(text):
        return text
    if "." in text or "/" in text:
        host = urlsplit(text if "//" in text else f"//{text}").hostname or ""
        first_label = host.split(".")[0]
        fix = f"use {first_label}" if _SUBDOMAIN.fullmatch(first_label) else "use only the first part of the host name"
        issues.append(("subdomain", f"must be the subdomain alone, not a URL or host name (got {_shown(text)}); {fix}"))
    elif len(text) != 28:
        issues.append(
            (
                "subdomain",
                f'must be 28 characters starting with "mc" (got {len(text)} characters); {_SUBDOMAIN_HINT}',
            )
        )
    elif not text.startswith("mc"):
        issues.append(("subdomain", f'must start with "mc" (got {_shown(text[:2])}); {_SUBDOMAIN_HINT}'))
    else:
        bad = sorted({char for char in text if not (char.isascii() and (char.isalnum() or char == "-"))})
        issues.append(
            (
                "subdomain",
                f"may contain only letters, digits and hyphens (found {', '.join(map(repr, bad))}); {_SUBDOMAIN_HINT}",
            )
        )
    return text


def _account_id(issues: list[Issue], value: object) -> Any:
    hint = "the MID of the business unit, digits only (AUTH-3); omit it to use the package's default"
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    text = _text(issues, "account_id", value, required=False, hint=hint)
    if isinstance(text, str) and not (text.isascii() and text.isdigit()):
        issues.append(("account_id", f"must be digits only (got {_shown(text)}); {hint}"))
    return text


def _primary_keys(issues: list[Issue], value: object) -> Any:
    hint = "separate column names with single commas, e.g. 'Contact Key,Product Id' (TR-3)"
    if value is None:
        return ()
    if isinstance(value, str):
        parts = value.split(",")
    elif isinstance(value, list | tuple) and all(isinstance(part, str) for part in value):
        parts = list(value)
    else:
        issues.append(("primary_keys", f"must be text or a list of texts (got {_shown(value)}); {hint}"))
        return value
    names = tuple(part.strip() for part in parts)
    empty = [str(number) for number, name in enumerate(names, start=1) if not name]
    if empty and len(names) > 1:
        issues.append(
            (
                "primary_keys",
                f"column name {', '.join(empty)} of {len(names)} is empty (got {_shown(value)}); {hint}",
            )
        )
        return value
    if names == ("",):
        return ()
    folded = [name.casefold() for name in names]
    repeated = sorted({name for name in names if folded.count(name.casefold()) > 1})
    if repeated:
        issues.append(("primary_keys", f"lists {', '.join(map(repr, repeated))} more than once; {hint}"))
    return names


# ---------------------------------------------------------------------------------------------
# The settings
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConversionEvent:
    """One "Conversion events" entry: a Segment track event and the DE its rows go to (TR-1).

    event: the Segment event name, matched exactly.
    de_key: the External Key of the event's data extension.
    primary_keys: the DE's primary key column names (TR-3), as given: they are matched
        case-insensitively against the Title-Cased row. Text is split on commas
        (``"Contact Key,Product Id"``); their order does not matter. Required unless
        ``uuid_primary_key``.
    uuid_primary_key: key every row by ``Uuid`` = the event's messageId instead, so each event
        adds a row (TR-5); overrides ``primary_keys``.
    """

    event: str
    de_key: str
    primary_keys: tuple[str, ...] = ()
    uuid_primary_key: bool = False

    def __post_init__(self) -> None:
        issues: list[Issue] = []
        set_field = object.__setattr__
        set_field(
            self,
            "event",
            _text(
                issues,
                "event",
                self.event,
                required=True,
                hint="the Segment track event name, e.g. 'Order Completed'",
            ),
        )
        set_field(
            self,
            "de_key",
            _text(
                issues,
                "de_key",
                self.de_key,
                required=True,
                hint="the External Key of the data extension this event's rows go to (TR-1)",
            ),
        )
        set_field(self, "uuid_primary_key", _flag(issues, "uuid_primary_key", self.uuid_primary_key))
        set_field(self, "primary_keys", _primary_keys(issues, self.primary_keys))
        if self.primary_keys == () and self.uuid_primary_key is False:
            issues.append(
                (
                    "primary_keys",
                    "required unless uuid_primary_key is true; name the data extension's primary key "
                    "column(s), e.g. 'Contact Key' or 'Contact Key,Product Id' (TR-3, TR-5)",
                )
            )
        if issues:
            raise SettingsError(issues)


@dataclass(frozen=True)
class BatchingSettings:
    """SFMC batching (BAT-1..BAT-4): rows go through the asynchronous Data Extensions API.

    enabled: off by default; needs the async API enabled on the SFMC account (BAT-3). While on,
        API events are not fired and identify creates no contacts (BAT-2).
    max_items: rows per async request, at most SFMC's 32,000.
    max_bytes: request body size, at most SFMC's 5 MB (5,242,880 bytes).
    flush_interval: seconds a partly filled batch may wait before it is sent.
    poll_interval: seconds between polls of an async request's status.
    job_deadline: seconds an async request may stay Pending or Executing; after that it is
        abandoned, its events go back to pending (``async_job_stalled``) and are sent again later.
    """

    enabled: bool = False
    max_items: int = MAX_ASYNC_ITEMS
    max_bytes: int = MAX_PAYLOAD_BYTES
    flush_interval: float = 1.0
    poll_interval: float = 1.0
    job_deadline: float = 300.0

    def __post_init__(self) -> None:
        issues: list[Issue] = []
        set_field = object.__setattr__
        set_field(self, "enabled", _flag(issues, "enabled", self.enabled))
        set_field(
            self,
            "max_items",
            _whole_number(issues, "max_items", self.max_items, 1, MAX_ASYNC_ITEMS, "SFMC takes 32,000 rows at most"),
        )
        set_field(
            self,
            "max_bytes",
            _whole_number(issues, "max_bytes", self.max_bytes, 1, MAX_PAYLOAD_BYTES, "SFMC refuses bodies over 5 MB"),
        )
        set_field(
            self,
            "flush_interval",
            _positive_number(issues, "flush_interval", self.flush_interval, "seconds a partial batch may wait"),
        )
        set_field(
            self,
            "poll_interval",
            _positive_number(issues, "poll_interval", self.poll_interval, "seconds between async status polls"),
        )
        set_field(
            self,
            "job_deadline",
            _positive_number(issues, "job_deadline", self.job_deadline, "seconds an async request may stay unfinished"),
        )
        if issues:
            raise SettingsError(issues)


@dataclass(frozen=True)
class Settings:
    """The SFMC destination settings, validated on construction.

    client_id, client_secret: the installed package's server-to-server credentials (AUTH-1).
        The secret is left out of ``repr``.
    subdomain: the 28-character tenant subdomain starting ``mc`` (AUTH-2). Without it the legacy
        v1 token endpoint is used, which may fail to authenticate.
    account_id: MID of the business unit to act in (AUTH-3), digits; None = the package's default.
    identify_de_key: External Key of the Identify Data Extension (ID-4); None = identify writes
        no DE (ID-6).
    conversion_events: the track events that are sent, one DE each (TR-1); event names unique.
    api_events: Segment event name → Journey Builder EventDefinitionKey (API-1).
    do_not_create_contacts: identify does not create or update the SFMC Contact (ID-5).
    batching: see ``BatchingSettings``.
    sync_group_size: rows per synchronous rowset call, 1..50 (SFMC's best practice).
    rate_limit: requests per second kept to across the account (RL-1).
    max_retries: attempts after the first for a retryable failure (429, 5xx, network).
    max_retry_after: the longest wait a Retry-After may impose (seconds); a longer one is cut to it.
    max_backoff: the longest wait between two attempts of a call while SFMC is failing (seconds).
    transient_retries: how often an event goes back to pending after a transient outcome (a stalled
        async job, a deadlocked row, a save failure without details) before it is rejected with
        the reason (``transient_retries_exhausted``, or ``async_job_stalled``).
    retry_delay: the first wait before such an event is sent again (seconds); doubles each time,
        up to ``max_backoff``.
    auth_base_url: replaces the auth host (scheme and host, no path), e.g. for an emulator.
    rest_base_url: replaces the REST host; None = the ``rest_instance_url`` the token response
        gives.
    personas_de_key: External Key of the DE audiences and computed traits sync to (PER-1, PER-2);
        None = the sync creates its own DE.
    outbox_path: SQLite file holding events not yet delivered, relative to the working directory.
    """

    client_id: str
    client_secret: str = field(repr=False)
    subdomain: str | None = None
    account_id: str | None = None
    identify_de_key: str | None = None
    conversion_events: tuple[ConversionEvent, ...] = ()
    api_events: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    do_not_create_contacts: bool = False
    batching: BatchingSettings = field(default_factory=BatchingSettings)
    sync_group_size: int = MAX_SYNC_GROUP_SIZE
    rate_limit: float = 20.0
    max_retries: int = 8
    max_retry_after: float = 60.0
    max_backoff: float = 20.0
    transient_retries: int = 5
    retry_delay: float = 1.0
    auth_base_url: str | None = None
    rest_base_url: str | None = None
    personas_de_key: str | None = None
    outbox_path: str = "sfmc-outbox.sqlite3"

    def __post_init__(self) -> None:
        issues: list[Issue] = []

        def set_field(name: str, value: object) -> None:
            object.__setattr__(self, name, value)

        credential_hint = "find it on the installed package's API Integration component (AUTH-1)"
        set_field(
            "client_id",
            _secret_text(issues, "client_id", self.client_id, hint=f"{credential_hint}; or set SFMC_CLIENT_ID"),
        )
        set_field(
            "client_secret",
            _secret_text(
                issues,
                "client_secret",
                self.client_secret,
                hint=f"{credential_hint}; or set SFMC_CLIENT_SECRET",
            ),
        )
        set_field("subdomain", _subdomain(issues, self.subdomain))
        set_field("account_id", _account_id(issues, self.account_id))
        de_key_hint = "the External Key from Contact Builder > Data Extensions"
        set_field(
            "identify_de_key",
            _text(issues, "identify_de_key", self.identify_de_key, required=False, hint=de_key_hint),
        )
        set_field(
            "personas_de_key",
            _text(issues, "personas_de_key", self.personas_de_key, required=False, hint=de_key_hint),
        )
        set_field("conversion_events", self._checked_conversions(issues))
        set_field("api_events", self._checked_api_events(issues))
        set_field("do_not_create_contacts", _flag(issues, "do_not_create_contacts", self.do_not_create_contacts))
        if not isinstance(self.batching, BatchingSettings):
            issues.append(("batching", f"must be batching settings (got {_shown(self.batching)})"))
        set_field(
            "sync_group_size",
            _whole_number(
                issues,
                "sync_group_size",
                self.sync_group_size,
                1,
                MAX_SYNC_GROUP_SIZE,
                "SFMC advises at most 50 rows per synchronous call",
            ),
        )
        set_field(
            "rate_limit",
            _positive_number(issues, "rate_limit", self.rate_limit, "requests per second; SFMC allows about 20 (RL-1)"),
        )
        set_field(
            "max_retries",
            _whole_number(issues, "max_retries", self.max_retries, 0, None, "0 turns retries off"),
        )
        for name, why in (
            ("max_retry_after", "seconds a Retry-After may hold delivery back at most"),
            ("max_backoff", "seconds between two attempts at most"),
            ("retry_delay", "seconds before an event with a transient failure is sent again"),
        ):
            set_field(name, _positive_number(issues, name, getattr(self, name), why))
        set_field(
            "transient_retries",
            _whole_number(issues, "transient_retries", self.transient_retries, 0, None, "0 rejects at once"),
        )
        set_field("auth_base_url", _base_url(issues, "auth_base_url", self.auth_base_url))
        set_field("rest_base_url", _base_url(issues, "rest_base_url", self.rest_base_url))
        set_field(
            "outbox_path",
            _text(
                issues,
                "outbox_path",
                self.outbox_path,
                required=True,
                hint="a file path for the SQLite outbox, e.g. sfmc-outbox.sqlite3",
            ),
        )
        if issues:
            raise SettingsError(issues)

    def _checked_conversions(self, issues: list[Issue]) -> Any:
        entries = self.conversion_events
        if entries is None:
            return ()
        if not isinstance(entries, list | tuple):
            issues.append(("conversion_events", f"must be a list of conversion events (got {_shown(entries)})"))
            return entries
        for index, entry in enumerate(entries):
            if not isinstance(entry, ConversionEvent):
                issues.append((f"conversion_events[{index}]", f"must be a conversion event (got {_shown(entry)})"))
        names = [entry.event for entry in entries if isinstance(entry, ConversionEvent)]
        for name in sorted({name for name in names if names.count(name) > 1}):
            issues.append(
                (
                    "conversion_events",
                    f"event {name!r} is listed {names.count(name)} times; an event maps to one data "
                    "extension (TR-1), so keep one entry",
                )
            )
        return tuple(entries)

    def _checked_api_events(self, issues: list[Issue]) -> Any:
        mapping = self.api_events
        if mapping is None:
            return MappingProxyType({})
        if not isinstance(mapping, Mapping):
            issues.append(
                ("api_events", f"must map Segment event names to EventDefinitionKeys (got {_shown(mapping)})")
            )
            return mapping
        checked: dict[str, str] = {}
        for name, key in mapping.items():
            path = f"api_events[{name!r}]"
            if not isinstance(name, str) or not name.strip():
                issues.append((path, "the event name must be non-blank text"))
                continue
            definition_key = _text(
                issues,
                path,
                key,
                required=True,
                hint="the EventDefinitionKey of the Journey Builder entry event (API-1)",
            )
            if name.strip() in checked:
                issues.append((path, f"event {name.strip()!r} is listed twice (after stripping spaces)"))
            checked[name.strip()] = definition_key
        return MappingProxyType(checked)

    # -- what the settings mean -----------------------------------------------------------------

    @property
    def uses_legacy_auth(self) -> bool:
        """No subdomain: tokens come from the legacy v1 endpoint (AUTH-2)."""
        return self.subdomain is None

    @property
    def uses_api_events(self) -> bool:
        """API events are fired: some are configured and batching is off (API-1, BAT-2)."""
        return bool(self.api_events) and not self.batching.enabled

    @property
    def creates_contacts(self) -> bool:
        """Identify creates or updates Contacts: not turned off (ID-5) and batching off (BAT-2)."""
        return not self.do_not_create_contacts and not self.batching.enabled

    def auth_url(self) -> str:
        """The token endpoint: OAuth2 v2 on the tenant host, or legacy v1 without a subdomain (AUTH-2)."""
        if self.subdomain is None:
            return f"{self.auth_base_url or LEGACY_AUTH_BASE_URL}/v1/requestToken"
        base = self.auth_base_url or f"https://{self.subdomain}.auth.marketingcloudapis.com"
        return f"{base}/v2/token"

    def conversion_for(self, event_name: object) -> ConversionEvent | None:
        """The conversion event configured for ``event_name`` (exact match), or None (TR-1)."""
        for conversion in self.conversion_events:
            if conversion.event == event_name:
                return conversion
        return None

    def advisories(self) -> tuple[str, ...]:
        """Valid but probably unintended combinations, worth showing when the connector starts."""
        notes: list[str] = []
        if self.uses_legacy_auth:
            notes.append(
                "subdomain is not set, so tokens come from the legacy v1 endpoint, which may fail to "
                f"authenticate (AUTH-2); {_SUBDOMAIN_HINT}"
            )
        if self.batching.enabled:
            notes.append(
                "batching is on: rows go through SFMC's asynchronous Data Extensions API, which must be "
                "enabled on the account by Salesforce (BAT-1, BAT-3)"
            )
            if self.api_events:
                notes.append("batching is on, so the configured api_events are not fired (BAT-2)")
            if not self.do_not_create_contacts:
                notes.append("batching is on, so identify calls do not create or update Contacts (BAT-2)")
        if self.identify_de_key is None and not self.creates_contacts:
            notes.append(
                "identify calls have nowhere to go: no identify_de_key (ID-6) and no contact creation (ID-5, BAT-2)"
            )
        fixed_names = set(CONTEXT_ATTRIBUTES.values())
        for conversion in self.conversion_events:
            if conversion.uuid_primary_key:
                continue
            for column in conversion.primary_keys:
                if column not in fixed_names and title_case(column) != column:
                    notes.append(
                        f"conversion event {conversion.event!r}: primary key column {column!r} is not Title "
                        f"Case; columns are sent in Title Case (FMT-1, FMT-5), so it is probably "
                        f"{title_case(column)!r}"
                    )
        return tuple(notes)


# ---------------------------------------------------------------------------------------------
# Building from a mapping (the file format): unknown keys and invalid values as issues
# ---------------------------------------------------------------------------------------------

_SETTING_NAMES = tuple(item.name for item in fields(Settings))
_CONVERSION_KEYS = tuple(item.name for item in fields(ConversionEvent))
_BATCHING_KEYS = tuple(item.name for item in fields(BatchingSettings))


def _unknown_key_issue(path: str, key: object, known: tuple[str, ...]) -> Issue:
    close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
    suggestion = f"did you mean {close[0]!r}? " if close else ""
    return (path, f"unknown setting; {suggestion}known here: {', '.join(known)}")


_Nested = TypeVar("_Nested")


def _nested(
    kind: Callable[..., _Nested],
    mapping: Mapping[str, object],
    path: str,
    allowed: tuple[str, ...],
    issues: list[Issue],
    required: Mapping[str, object] | None = None,
) -> _Nested | None:
    """A nested settings object from its mapping: unknown keys and invalid values become issues under ``path``."""
    known: dict[str, object] = dict(required or {})
    for key, item in mapping.items():
        if key in allowed:
            known[key] = item
        else:
            issues.append(_unknown_key_issue(f"{path}.{key}", key, allowed))
    try:
        return kind(**known)
    except SettingsError as error:
        issues.extend(error.prefixed(f"{path}."))
        return None


def _batching_from(value: object, issues: list[Issue]) -> BatchingSettings | None:
    if value is None:
        return BatchingSettings()
    if isinstance(value, BatchingSettings):
        return value
    if not isinstance(value, Mapping):
        issues.append(("batching", f"must be a mapping with keys {', '.join(_BATCHING_KEYS)} (got {_shown(value)})"))
        return None
    return _nested(BatchingSettings, value, "batching", _BATCHING_KEYS, issues)


def _conversions_from(value: object, issues: list[Issue]) -> object:
    if not isinstance(value, list | tuple):
        return value  # None or a wrong type: Settings says what is wrong
    converted: list[object] = []
    for index, entry in enumerate(value):
        path = f"conversion_events[{index}]"
        if isinstance(entry, ConversionEvent):
            converted.append(entry)
            continue
        if not isinstance(entry, Mapping):
            issues.append((path, f"must be a mapping with keys {', '.join(_CONVERSION_KEYS)} (got {_shown(entry)})"))
            continue
        conversion = _nested(
            ConversionEvent, entry, path, _CONVERSION_KEYS, issues, required={"event": None, "de_key": None}
        )
        if conversion is not None:
            converted.append(conversion)
    return converted


def _labelled(issues: Iterable[Issue], origins: Mapping[str, str]) -> list[Issue]:
    """Name where a value came from when it was not the settings file."""
    labelled = []
    for path, message in issues:
        root = re.split(r"[.\[]", path, maxsplit=1)[0]
        if root in origins:
            path = f"{root} (from {origins[root]}){path[len(root) :]}"
        labelled.append((path, message))
    return labelled


def settings_from_mapping(data: Mapping[str, Any], *, origins: Mapping[str, str] | None = None) -> Settings:
    """Settings from a mapping in the file format (snake_case keys, plain values).

    ``origins`` maps a top-level key to where its value came from (e.g. an environment variable),
    for the error messages. Raises SettingsError listing every problem found.
    """
    if not isinstance(data, Mapping):
        raise SettingsError([("", f"settings must be a mapping of setting names to values (got {_shown(data)})")])
    issues: list[Issue] = []
    arguments: dict[str, Any] = {"client_id": None, "client_secret": None}
    for key, value in data.items():
        if key not in _SETTING_NAMES:
            issues.append(_unknown_key_issue(str(key), key, _SETTING_NAMES))
        elif key == "batching":
            batching = _batching_from(value, issues)
            if batching is not None:
                arguments["batching"] = batching
        elif key == "conversion_events":
            arguments["conversion_events"] = _conversions_from(value, issues)
        else:
            arguments[key] = value
    try:
        settings = Settings(**arguments)
    except SettingsError as error:
        issues.extend(error.issues)
    if issues:
        raise SettingsError(_labelled(issues, origins or {}))
    return settings
