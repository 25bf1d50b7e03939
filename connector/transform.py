"""The seed's data formatting rules as pure functions.

- ``title_case``: property and trait keys become Title Case column names (FMT-1, FMT-5).
- ``contact_key``: the SFMC Contact Key of an event (ID-2, ID-3).
- ``flatten_payload``: traits/properties → one flat row; nested values left out (FMT-2); text is
  never rewritten here.
- ``bind_to_columns``: the row's values for the column types the Data Extension declares: a string
  becomes ISO-8601 only for a ``Date`` column, and an ambiguous day/month is refused (FMT-3).
- ``context_attributes``: the fixed context → attribute mapping (CTX-1).

Functions that may lose or rewrite data take an optional ``warnings`` list and append one
human-readable line per event worth reporting; they never raise for odd input values.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache

from dateutil import parser as date_parser

Scalar = str | int | float | bool | None

# ---------------------------------------------------------------------------------------------
# Title Case (FMT-1)
# ---------------------------------------------------------------------------------------------

_WORD_SEPARATORS = re.compile(r"[_\-\s]+")


def _words(key: str) -> Iterator[str]:
    """Split on ``_``, ``-``, whitespace and lower→upper boundaries (design notes, "Title Case")."""
    for chunk in _WORD_SEPARATORS.split(key):
        start = 0
        for index in range(1, len(chunk)):
            if chunk[index - 1].islower() and chunk[index].isupper():
                yield chunk[start:index]
                start = index
        if chunk[start:]:
            yield chunk[start:]


@lru_cache(maxsize=4096)  # the same few keys recur in every event of a backfill
def title_case(key: str) -> str:
    """``firstName``/``first_name`` → ``First Name``, ``userID`` → ``User ID`` (FMT-1).

    Each word's first letter is upper-cased and the rest kept, so acronyms (``UTM``, ``IP``) stay
    as they are. Only the boundaries the design notes name split words: ``IPAddress`` and
    ``address2`` stay one word (``IPAddress``, ``Address2``). Idempotent. A key made only of
    separators gives ``""``.
    """
    return " ".join(word[0].upper() + word[1:] for word in _words(key))


# ---------------------------------------------------------------------------------------------
# Contact Key (ID-2, ID-3)
# ---------------------------------------------------------------------------------------------


def _contact_key_text(value: object) -> str | None:
    """A usable Contact Key from ``value``: text or an integer, colons removed (ID-3), not blank."""
    if type(value) is str:
        text = value.replace(":", "") if ":" in value else value
        return text if text.strip() else None
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).replace(":", "")
    return text if text.strip() else None


def _email_candidates(event: Mapping[str, object]) -> Iterator[object]:
    """Where an event carries the user's own email, most specific first.

    identify/group: the ``email`` trait (ID-2), then ``context.traits.email``. Other calls only
    ``context.traits.email``: ``properties.email`` is never used, because a property may name
    someone else (an invitee, a recipient), and a track would then write rows or start a journey
    for that person (TR-2 keys track rows by the userId).
    """
    context = _as_mapping(event.get("context"))
    if event.get("type") in ("identify", "group"):
        yield _as_mapping(event.get("traits")).get("email")
    yield _as_mapping(context.get("traits")).get("email")


def contact_key(event: Mapping[str, object]) -> str | None:
    """The Contact Key: ``userId`` if usable, else the user's own email, else None (ID-2).

    Colons are removed from either (ID-3); a value that is blank after that does not count. Only
    text and integer ids are used: a float or boolean ``userId`` has no single text form.
    """
    key = _contact_key_text(event.get("userId"))
    if key is not None:
        return key
    for email in _email_candidates(event):
        if isinstance(email, str):
            key = _contact_key_text(email)
            if key is not None:
                return key
    return None


# ---------------------------------------------------------------------------------------------
# Dates (FMT-3)
# ---------------------------------------------------------------------------------------------

# ISO-8601 as SFMC accepts it (same shape the emulator validates): passes unchanged.
_ISO_DATE = re.compile(
    r"\d{4}-\d{2}-\d{2}"
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
)
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_WEEKDAY = (
    r"(?:mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:r(?:s(?:day)?)?)?|fri(?:day)?"
    r"|sat(?:urday)?|sun(?:day)?)\.?"
)
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_DATE_PART = (
    r"\d{1,2}/\d{1,2}/\d{4}"  # 05/30/2020 (month first unless the first number can't be a month)
    r"|\d{1,2}-\d{1,2}-\d{4}"  # 05-30-2020
    r"|\d{4}/\d{1,2}/\d{1,2}"  # 2020/05/30
    r"|\d{4}-\d{1,2}-\d{1,2}"  # 2020-5-30 (unpadded, so not ISO)
    rf"|(?:{_WEEKDAY},?\s+)?(?:{_DAY}\s+{_MONTH},?\s+\d{{4}}|{_MONTH}\s+{_DAY},?\s+\d{{4}})"
)
_TIME_PART = r"\d{1,2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:\s*[ap]\.?m\.?)?"
# Only unambiguous zones: UTC names, numeric offsets (optionally after GMT/UTC, as JavaScript's
# Date.toString() writes them) and the US zone names RFC 2822 defines. Other names (IST, BST...)
# mean different offsets in different places, so such strings are left alone.
_ZONE_PART = r"z|utc|gmt|ut|(?:gmt|utc)?\s*[+-]\d{2}:?\d{2}|[ecmp][sd]t"
_DATE_SHAPE = re.compile(
    rf"(?P<date>{_DATE_PART})"
    rf"(?:(?:,?\s+(?:at\s+)?)(?P<time>{_TIME_PART})(?:\s*(?P<zone>{_ZONE_PART}))?(?:\s*\([^()]*\))?)?",
    re.IGNORECASE,
)
_RFC2822_US_ZONES = {"est": -5, "edt": -4, "cst": -6, "cdt": -5, "mst": -7, "mdt": -6, "pst": -8, "pdt": -7}
_OFFSET = re.compile(r"(?:gmt|utc)?\s*(?P<sign>[+-])(?P<hours>\d{2}):?(?P<minutes>\d{2})", re.IGNORECASE)


def _zone(text: str) -> timezone:
    name = text.lower()
    if name in ("z", "utc", "gmt", "ut"):
        return UTC
    if name in _RFC2822_US_ZONES:
        return timezone(timedelta(hours=_RFC2822_US_ZONES[name]))
    match = _OFFSET.fullmatch(text)
    if match is None:  # unreachable for text that matched _ZONE_PART; kept as a guard
        raise ValueError(f"unknown time zone {text!r}")
    hours, minutes = int(match["hours"]), int(match["minutes"])
    if hours > 23 or minutes > 59:
        raise ValueError(f"time zone offset {text!r} is out of range")
    offset = timedelta(hours=hours, minutes=minutes)
    return timezone(-offset if match["sign"] == "-" else offset)


class AmbiguousDate(ValueError):
    """A numeric date whose day and month could be swapped (``05/06/2020``): never guessed."""


_NUMERIC_DAY_MONTH = re.compile(r"(?P<first>\d{1,2})[/-](?P<second>\d{1,2})[/-]\d{4}")


def _check_day_month(date_text: str, original: str) -> bool:
    """True when a numeric date reads day first; raises AmbiguousDate when either order fits."""
    match = _NUMERIC_DAY_MONTH.fullmatch(date_text)
    if match is None:
        return False
    first, second = int(match["first"]), int(match["second"])
    if first > 12 >= second:
        return True
    if first <= 12 and second <= 12 and first != second:
        raise AmbiguousDate(f"{original!r} could be day/month or month/day; send ISO-8601 (YYYY-MM-DD) instead (FMT-3)")
    return False


def iso_date_string(text: str) -> str | None:
    """The ISO-8601 form of a recognizably non-ISO date string, else None (FMT-3).

    Recognized shapes: ``05/30/2020``, ``05-30-2020``, ``2020/05/30``, ``30 May 2020``,
    ``May 30, 2020``, each optionally followed by a time (``13:30``, ``1:30:00 PM``) and a zone,
    which covers RFC 2822 (``Sat, 30 May 2020 13:30:00 GMT``) and JavaScript's
    ``Date.toString()``. Anything else - ISO strings, ``"12"``, ``"May"`` - gives None, so it is
    sent unchanged. A date only stays a date (``2020-05-30``); with a time and no zone the result
    has no offset either, since guessing one would shift the instant. A numeric date is read day
    first when the first number is over 12, month first when the second is; when both could be a
    month (``05/06/2020``) it raises AmbiguousDate rather than guess.

    Raises ValueError for a date-shaped string naming an impossible date (``02/30/2020``).
    """
    stripped = text.strip()
    if _ISO_DATE.fullmatch(stripped):
        return None
    match = _DATE_SHAPE.fullmatch(stripped)
    if match is None:
        return None
    time_text = match["time"]
    day_first = _check_day_month(match["date"], text)
    try:
        parsed = date_parser.parse(
            f"{match['date']} {time_text}" if time_text else match["date"], dayfirst=day_first, yearfirst=False
        )
    except (OverflowError, date_parser.ParserError) as error:
        raise ValueError(f"{text!r} looks like a date but is not a valid one ({error})") from error
    if not time_text:
        return parsed.date().isoformat()
    if match["zone"]:
        parsed = parsed.replace(tzinfo=_zone(match["zone"].strip()))
    return parsed.isoformat()


# ---------------------------------------------------------------------------------------------
# Values and flattening (FMT-1, FMT-2, FMT-3)
# ---------------------------------------------------------------------------------------------


class UnsupportedValue(ValueError):
    """A value SFMC cannot store in one column (the message says why)."""


_PLAIN_TYPES = frozenset({str, int, float, bool, type(None)})  # checked by identity first: ABC checks are slow


def is_nested(value: object) -> bool:
    """True for the nested objects and lists that FMT-2 leaves out of what is sent."""
    if type(value) in _PLAIN_TYPES:
        return False
    return isinstance(value, Mapping | list | tuple | set | frozenset)


def normalize_scalar(value: object, warnings: list[str] | None = None, *, label: str = "value") -> Scalar:
    """``value`` as SFMC should receive it: text and numbers as they are, date objects as ISO-8601.

    Text is never rewritten here, however date-like it looks: only the column it goes to can
    say it is a date (``bind_to_columns``). Raises UnsupportedValue for nested values (FMT-2),
    NaN/infinity (no JSON form) and types that have no column equivalent.
    """
    if type(value) is str or value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UnsupportedValue(f"{label}: {value!r} has no JSON form")
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str):
        return value
    if is_nested(value):
        raise UnsupportedValue(f"{label}: nested values are not sent (FMT-2)")
    raise UnsupportedValue(f"{label}: a {type(value).__name__} has no SFMC column type")


_SHAPE_CACHE_LIMIT = 4096  # key sets remembered; a payload with ever new keys just takes the long way
_SHAPES: dict[tuple[object, ...], tuple[str, ...] | None] = {}
_UNSEEN = ("",)  # no key set has this shape: its one column is empty
_FLAT_TYPES = frozenset({str, int, bool, float, type(None)})


def _shape_columns(keys: tuple[object, ...]) -> tuple[str, ...] | None:
    """The columns a payload with these keys (in this order) becomes when every value is a plain
    scalar: each key a ``str`` naming a column of its own. None when a key is not text, names no
    column or shares its column with another key: ``_flatten_each`` decides (and warns) then."""
    columns = _SHAPES.get(keys, _UNSEEN)
    if columns is not _UNSEEN:
        return columns
    named = tuple(title_case(key) if type(key) is str else "" for key in keys)
    found = named if all(named) and len({column.casefold() for column in named}) == len(named) else None
    if len(_SHAPES) < _SHAPE_CACHE_LIMIT:
        _SHAPES[keys] = found
    return found


def flatten_payload(mapping: Mapping[str, object], warnings: list[str] | None = None) -> dict[str, Scalar]:
    """Traits or properties as one flat row of Title-Cased columns (FMT-1, FMT-2).

    Nested objects and lists are left out without a warning: that is the documented behaviour
    (FMT-2). Text is sent as it came (``bind_to_columns`` turns dates for Date columns). Two
    keys naming the same column - compared case-insensitively, as SFMC matches column names -
    keep the later key's value and spelling; each such collision, each key that is nothing but
    separators and each unsendable value is reported in ``warnings``.

    The payloads of a backfill repeat a few key sets: for a key set seen before whose keys each
    name a column of their own, a payload of plain values (text, numbers, booleans, null; no
    NaN or infinity) is zipped with the columns worked out once. Anything else goes key by key.
    """
    if type(mapping) is dict:
        columns = _shape_columns(tuple(mapping))
        if columns is not None:
            values = mapping.values()
            kinds = set(map(type, values))
            if kinds <= _FLAT_TYPES and (
                float not in kinds or all(map(math.isfinite, [v for v in values if type(v) is float]))
            ):
                return dict(zip(columns, values, strict=True))
    return _flatten_each(mapping, warnings)


def _flatten_each(mapping: Mapping[str, object], warnings: list[str] | None = None) -> dict[str, Scalar]:
    """``flatten_payload`` key by key: every rule and warning of FMT-1/FMT-2 applied to each key."""
    row: dict[str, Scalar] = {}
    source_of: dict[str, tuple[str, str]] = {}  # folded column -> (source key, column spelling)
    for raw_key, raw_value in mapping.items():
        source_key = str(raw_key)
        if is_nested(raw_value):
            continue
        column = title_case(source_key)
        if not column:
            _warn(warnings, f"key {source_key!r} has no letters or digits to name a column; left out")
            continue
        try:
            value = normalize_scalar(raw_value, warnings, label=source_key)
        except UnsupportedValue as error:
            _warn(warnings, f"{error}; left out")
            continue
        folded = column.casefold()
        if folded in source_of:
            earlier_key, earlier_column = source_of[folded]
            del row[earlier_column]
            _warn(
                warnings,
                f"keys {earlier_key!r} and {source_key!r} both become column {column!r}; "
                f"kept the value of {source_key!r} (the later one)",
            )
        row[column] = value
        source_of[folded] = (source_key, column)
    return row


# ---------------------------------------------------------------------------------------------
# Context attributes (CTX-1)
# ---------------------------------------------------------------------------------------------

CONTEXT_ATTRIBUTES: dict[str, str] = {
    "app.name": "App Name",
    "app.version": "App Version",
    "app.build": "App Build",
    "campaign.name": "UTM Campaign",
    "campaign.source": "UTM Source",
    "campaign.medium": "UTM Medium",
    "campaign.term": "UTM Term",
    "campaign.content": "UTM Content",
    "locale": "Locale",
    "userAgent": "User Agent",
    "ip": "IP Address",
    "device.adTrackingEnabled": "Ad Tracking Enabled",
    "device.manufacturer": "Device Manufacturer",
    "device.model": "Device-model",
    "device.name": "Device Name",
    "device.type": "Device Type",
    "network.bluetooth": "Bluetooth Enabled",
    "network.carrier": "Network Carrier",
    "network.cellular": "Cellular Enabled",
    "network.wifi": "Wifi Enabled",
    "screen.density": "Screen Density",
    "screen.height": "Screen Height",
    "screen.width": "Screen Width",
}
"""Segment context path → the seed's fixed attribute name, verbatim (CTX-1)."""
_CONTEXT_PATHS = {path: tuple(path.split(".")) for path in CONTEXT_ATTRIBUTES}


def context_attributes(context: Mapping[str, object] | None) -> dict[str, Scalar]:
    """The CTX-1 attributes present in ``context``, in the seed's table order.

    Missing, null and nested values are omitted: a context field is collected automatically, so
    its absence means "unknown", not "clear the column".
    """
    attributes: dict[str, Scalar] = {}
    if not context or not isinstance(context, Mapping):
        return attributes
    for path, column in CONTEXT_ATTRIBUTES.items():
        value: object = context
        for part in _CONTEXT_PATHS[path]:
            value = value.get(part) if isinstance(value, Mapping) else None
        if value is None or is_nested(value):
            continue
        try:
            attributes[column] = normalize_scalar(value, label=f"context.{path}")
        except UnsupportedValue:
            continue
    return attributes


# ---------------------------------------------------------------------------------------------
# Binding a row to the Data Extension's column types (FMT-3)
# ---------------------------------------------------------------------------------------------

DATE_TYPE = "date"


def bind_to_columns(values: Mapping[str, Scalar], column_types: Mapping[str, str]) -> dict[str, Scalar]:
    """``values`` ready for a Data Extension whose columns have ``column_types`` (folded name → type).

    A string going to a ``Date`` column becomes ISO-8601 when it is a recognisable date
    (``iso_date_string``); every other value - and every string bound for a Text column, however
    date-like - goes unchanged. Raises AmbiguousDate for a day/month that could be either way and
    ValueError for an impossible date, naming the column.
    """
    bound: dict[str, Scalar] = {}
    for column, value in values.items():
        if isinstance(value, str) and column_types.get(column.casefold(), "").casefold() == DATE_TYPE:
            try:
                iso = iso_date_string(value)
            except AmbiguousDate as error:
                raise AmbiguousDate(f"column {column!r}: {error}") from None
            except ValueError as error:
                raise ValueError(f"column {column!r}: {error}") from None
            bound[column] = value if iso is None else iso
        else:
            bound[column] = value
    return bound


def _as_mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, Mapping) else {}


def _warn(warnings: list[str] | None, message: str) -> None:
    if warnings is not None:
        warnings.append(message)
