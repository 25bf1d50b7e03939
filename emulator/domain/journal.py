"""The request journal: every SFMC call the emulator answered, queryable and bounded.

Each tenant (and the unknown tenant ``None``, for calls that failed authentication) has a ring
buffer of ``size`` entries; the oldest entry is evicted when it is full and evictions are
counted. All tenants together also stay under ``max_bytes`` (bodies, headers, path and query as
recorded; the oldest entries of any tenant go first), and each header value is cut at
``HEADER_LIMIT``, so memory stays bounded however many tenants a long CI run creates. Patterns select entries by tenant,
method, path (glob or substring; never a regular expression, which could take seconds of CPU while
the journal's lock holds every SFMC call), status (``429`` or a class such as ``4xx``), time and body text;
``count`` answers WireMock-style verifications.

An entry is kept as the request chain leaves it (``RawEntry``: bodies as bytes, the latency in seconds)
and built into the ``JournalEntry`` readers see only when it is read, so the calls pay for keeping the
pieces and the readers for the formatting; what a reader sees, and what an entry counts against
``max_bytes``, is the same as if it had been built at once.
"""

from __future__ import annotations

import fnmatch
import itertools
import json
import math
import re
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Final, Literal, NamedTuple, NotRequired, TypedDict

from ..clock import Clock


class _Any(Enum):
    ANY = "any"


ANY: Final = _Any.ANY  # a pattern field that was not given: every tenant
TenantSelector = str | None | Literal[_Any.ANY]  # a tenant id, None (unauthenticated calls) or ANY
BODY_LIMIT = 16 * 1024
HEADER_LIMIT = 1024  # bytes of one header value kept
MAX_BYTES = 256 * 1024 * 1024  # the default bound on all entries of all tenants together
MAX_HEADERS = 30  # headers kept of one request
TOKEN_FIELDS = ("access_token", "accessToken", "refreshToken", "legacyToken")  # never replayed by the journal


class PatternError(ValueError):
    pass


class JournalEntry(TypedDict):
    """One answered SFMC call, as the request chain records it."""

    id: NotRequired[int]  # set by Journal.record
    at: NotRequired[float]  # set by Journal.record unless given
    tenant: str | None
    mid: int | None
    method: str
    host: str
    path: str
    query: str
    route: str
    status: int | None  # None: the connection was dropped
    latency_ms: float
    request_headers: dict[str, str]
    request_body: str | None
    request_body_truncated: bool
    response_body: str | None
    response_body_truncated: bool
    keys_ignored: list[str]
    rules_broken: list[str]
    rows_written: int
    fault: str | None  # the id of the fault rule that answered
    soap: dict[str, object] | None  # operation and object types of a /Service.asmx call


@dataclass(frozen=True)
class Pattern:
    tenant: TenantSelector = ANY
    method: str | None = None
    path: str | None = None
    path_contains: str | None = None
    status: int | None = None
    status_class: int | None = None  # 4 for "4xx"
    since: float | None = None
    since_id: int | None = None
    body_contains: str | None = None

    def matches(self, entry: JournalEntry) -> bool:
        tenant, method, path, status = entry["tenant"], entry["method"], entry["path"], entry["status"]
        if not self._matches(tenant, method, path, status, entry["at"], entry["id"]):
            return False
        return not (self.body_contains and self.body_contains not in (entry["request_body"] or ""))

    def matches_raw(self, entry_id: int, at: float, raw: RawEntry) -> bool:
        """``matches`` for an entry not built yet (its request body is decoded only if the pattern asks)."""
        if not self._matches(raw.tenant, raw.method, raw.path, raw.status, at, entry_id):
            return False
        return not (self.body_contains and self.body_contains not in (raw.request_text() or ""))

    def _matches(
        self, tenant: str | None, method: str, path: str, status: int | None, at: float, entry_id: int
    ) -> bool:
        if self.tenant is not ANY and tenant != self.tenant:
            return False
        if self.method and method != self.method:
            return False
        if self.path and not fnmatch.fnmatchcase(path, self.path):
            return False
        if self.path_contains and self.path_contains not in path:
            return False
        if self.status is not None and status != self.status:
            return False
        if self.status_class is not None and (status or 0) // 100 != self.status_class:
            return False
        if self.since is not None and at < self.since:
            return False
        return not (self.since_id is not None and entry_id <= self.since_id)


def _number(raw: object, name: str, kind: type[int] | type[float] = float) -> float:
    try:
        if isinstance(raw, bool) or len(str(raw)) > 40:  # bounded before conversion
            raise ValueError(raw)
        if not isinstance(raw, int | float | str):  # a list or an object: no number
            raise TypeError(raw)
        value = kind(raw)
        if not math.isfinite(value):
            raise ValueError(raw)
        return value
    except (TypeError, ValueError, OverflowError):
        raise PatternError(f"'{name}' must be a finite number, got {str(raw)[:40]!r}") from None


def parse_pattern(raw: object) -> Pattern:
    """A pattern from JSON (``POST /journal/count``) or query arguments; ``tenant: null`` means unauthenticated."""
    if not isinstance(raw, dict):
        raise PatternError("a journal pattern must be a JSON object")
    if raw.get("path_regex"):
        raise PatternError(
            "'path_regex' is not supported (a regular expression can run for seconds); "
            "use 'path' (a glob such as /hub/*) or 'path_contains' (a substring)"
        )
    unknown = set(raw) - {
        "tenant",
        "method",
        "path",
        "path_regex",
        "path_contains",
        "status",
        "since",
        "since_id",
        "body_contains",
    }
    if unknown:
        raise PatternError(f"unknown pattern field(s): {', '.join(sorted(unknown))}")
    tenant: TenantSelector = ANY
    if "tenant" in raw:
        tenant = None if raw["tenant"] in (None, "null") else str(raw["tenant"])
    status, status_class = None, None
    given_status = raw.get("status")
    if given_status not in (None, ""):
        text = str(given_status).lower()
        if re.fullmatch(r"[1-5]xx", text):
            status_class = int(text[0])
        else:
            status = int(_number(given_status, "status", int))
    return Pattern(
        tenant=tenant,
        method=str(raw["method"]).upper() if raw.get("method") else None,
        path=str(raw["path"]) if raw.get("path") else None,
        path_contains=str(raw["path_contains"]) if raw.get("path_contains") else None,
        status=status,
        status_class=status_class,
        since=_number(raw["since"], "since") if raw.get("since") not in (None, "") else None,
        since_id=int(_number(raw["since_id"], "since_id", int)) if raw.get("since_id") not in (None, "") else None,
        body_contains=str(raw["body_contains"]) if raw.get("body_contains") else None,
    )


def cap(data: bytes | None, limit: int = BODY_LIMIT) -> tuple[str | None, bool]:
    """A body as text, cut at ``limit`` bytes; and whether it was cut."""
    if not data:
        return None, False
    return data[:limit].decode("utf-8", errors="replace"), len(data) > limit


def cap_headers(items: Iterable[tuple[str, str]], limit: int = HEADER_LIMIT) -> dict[str, str]:
    """Header values as recorded: each cut at ``limit`` characters, saying how long it was."""
    out: dict[str, str] = {}
    for name, value in items:
        out[name] = value if len(value) <= limit else f"{value[:limit]}… ({len(value)} characters)"
    return out


# What each WSGI environ key is to the journal: a header as werkzeug's ``EnvironHeaders`` names it (and
# whether it carries a credential), or None (not a header). Learned once per key; bounded, since
# clients choose header names (past the bound a key is worked out on every request instead).
_ENVIRON_KEYS: dict[str, tuple[str, bool] | None] = {}
_UNSEEN: Final[tuple[str, bool]] = ("", False)  # a key not learned yet
_NOT_HEADERS = frozenset({"HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"})
_CREDENTIAL_HEADERS = frozenset({"authorization", "x-emulator-admin-token"})


def _environ_key(key: str) -> tuple[str, bool] | None:
    info: tuple[str, bool] | None = None
    if key.startswith("HTTP_"):
        if key not in _NOT_HEADERS:
            name = key[5:].replace("_", "-").title()
            info = (name, name.lower() in _CREDENTIAL_HEADERS)
    elif key == "CONTENT_TYPE":
        info = ("Content-Type", False)
    elif key == "CONTENT_LENGTH":
        info = ("Content-Length", False)
    if len(_ENVIRON_KEYS) < 512:
        _ENVIRON_KEYS[key] = info
    return info


# The header keys of an environ, in its order, with what each is (``_environ_key``), per distinct
# sequence of environ keys: a client sends the same headers call after call, and about half an
# environ's keys are no headers (the server's and WSGI's own). Bounded as ``_ENVIRON_KEYS`` is.
_LAYOUTS: dict[tuple[str, ...], tuple[tuple[str, str, bool], ...]] = {}


def _layout(keys: tuple[str, ...]) -> tuple[tuple[str, str, bool], ...]:
    found = []
    for key in keys:
        info = _ENVIRON_KEYS.get(key, _UNSEEN)
        if info is _UNSEEN:
            info = _environ_key(key)
        if info is not None:
            found.append((key, *info))
    layout = tuple(found)
    if len(_LAYOUTS) < 256:
        _LAYOUTS[keys] = layout
    return layout


def request_headers(environ: Mapping[str, object], limit: int = HEADER_LIMIT) -> tuple[dict[str, str], int]:
    """A request's first ``MAX_HEADERS`` headers as werkzeug's ``request.headers`` lists them (names,
    order, an empty Content-Type or Content-Length left out), read from the WSGI environ in one pass,
    credentials hidden and values cut at ``limit``; and the characters they hold (what ``entry_bytes``
    counts of them)."""
    out: dict[str, str] = {}
    shown = 0
    keys = tuple(environ)
    layout = _LAYOUTS.get(keys)
    if layout is None:
        layout = _layout(keys)
    for key, name, credential in layout:
        value = environ[key]
        if not isinstance(value, str):
            continue
        if credential:
            scheme, space, _credential = value.partition(" ")
            value = f"{scheme} …" if space else "…"  # no part of a credential is shown (docs/fidelity.md, SEC-1)
        elif len(value) > limit:
            value = f"{value[:limit]}… ({len(value)} characters)"
        elif not value and (name == "Content-Type" or name == "Content-Length"):
            continue
        out[name] = value
        shown += 1
        if shown == MAX_HEADERS:
            break
    return out, sum(map(len, out)) + sum(map(len, out.values()))


# SOAP elements whose text is a credential: the caller's token (``<fueloauth>``, ``<oAuth><oAuthToken>``, what
# ``domain/soap.py`` reads) and a WS-Security password. Their text (CDATA included) is hidden as a bearer
# header's is (docs/fidelity.md, SEC-1); an element with no text, or one closed on its own, is left as sent.
_SOAP_SECRET = re.compile(
    rb"(<(?:[\w.-]+:)?(?:fueloauth|oAuthToken|Password)(?:\s[^>]*)?(?<!/)>)(?:<!\[CDATA\[.*?\]\]>|[^<])+(?=</)",
    re.DOTALL,
)
_SOAP_SECRET_NAMES = (b"fueloauth", b"oAuthToken", b"Password")


def soap_without_credentials(data: bytes) -> bytes:
    """A SOAP request body as the journal keeps it: the text of each credential element replaced by ``…``."""
    if not any(name in data for name in _SOAP_SECRET_NAMES):
        return data
    return _SOAP_SECRET.sub(lambda m: m.group(1) + "…".encode(), data)


def without_tokens(text: str) -> str:
    """A token answer as the journal keeps it: the issued credentials replaced by ``***``."""
    try:
        body = json.loads(text)
    except ValueError:
        return text
    if isinstance(body, dict):
        body = {k: ("***" if k in TOKEN_FIELDS else v) for k, v in body.items()}
    return json.dumps(body)


def broken_rules(written: list[str], error_body: bytes | None = None) -> list[str]:
    """The rules a call broke: its refused rows' problems, then the messages of its JSON error answer
    (``additionalErrors`` or ``resultMessages``) not already among them; at most 50."""
    found = list(written)
    if error_body is not None and (b'"additionalErrors"' in error_body or b'"resultMessages"' in error_body):
        try:
            body = json.loads(error_body)
        except ValueError:
            body = None
        if isinstance(body, dict):
            for item in body.get("additionalErrors") or []:
                if isinstance(item, dict) and item.get("message") not in found:
                    found.append(str(item.get("message")))
            for item in body.get("resultMessages") or []:
                if isinstance(item, dict) and item.get("message") not in found:
                    found.append(str(item.get("message")))
    return found[:50]


class RawEntry(NamedTuple):
    """One answered SFMC call as the request chain leaves it: the pieces kept as they are (bodies as
    bytes, the latency in seconds), the ``JournalEntry`` built from them only when it is read. What a
    reader sees is the same either way; recording costs the call much less."""

    tenant: str | None
    mid: int | None
    method: str
    host: str
    path: str
    query: bytes  # as WSGI gives it (latin-1)
    route: str
    status: int | None  # None: the connection was dropped
    latency: float  # seconds
    request_headers: dict[str, str]  # as shown (``request_headers``)
    headers_size: int  # the characters they hold
    request_body: bytes | str | None  # bytes: cut at BODY_LIMIT, decoded when read; str: shown as it is
    request_body_truncated: bool
    response_body: bytes | str | None
    response_body_truncated: bool
    rows_written: int  # the call's row writes (its ``WriteCapture``), kept as immutable values:
    keys_ignored: tuple[str, ...]  # an entry then holds no object the cyclic garbage collector must
    rules_broken: tuple[str, ...]  # walk on every full collection, however many entries are kept
    fault: str | None
    soap: dict[str, object] | None

    def request_text(self) -> str | None:
        return _text(self.request_body)

    def fields(self) -> JournalEntry:
        """The entry as readers see it (without ``id`` and ``at``, which the journal adds)."""
        return {
            "tenant": self.tenant,
            "mid": self.mid,
            "method": self.method,
            "host": self.host,
            "path": self.path,
            "query": self.query.decode("latin-1"),
            "route": self.route,
            "status": self.status,
            "latency_ms": round(self.latency * 1000, 3),
            "request_headers": self.request_headers,
            "request_body": _text(self.request_body),
            "request_body_truncated": self.request_body_truncated,
            "response_body": _text(self.response_body),
            "response_body_truncated": self.response_body_truncated,
            "keys_ignored": list(self.keys_ignored),
            "rules_broken": list(self.rules_broken),
            "rows_written": self.rows_written,
            "fault": self.fault,
            "soap": self.soap,
        }

    def size(self) -> int:
        """``entry_bytes`` of the entry it becomes, without building it."""
        return (
            3072
            + len(self.path)
            + len(self.query)
            + _text_length(self.request_body)
            + _text_length(self.response_body)
            + self.headers_size
        )


def _text(body: bytes | str | None) -> str | None:
    if isinstance(body, bytes):
        return body.decode("utf-8", errors="replace") if body else None
    return body or None


def _text_length(body: bytes | str | None) -> int:
    if isinstance(body, bytes):
        return len(body) if body.isascii() else len(body.decode("utf-8", errors="replace"))
    return len(body or "")


def entry_bytes(entry: JournalEntry) -> int:
    """What an entry holds, roughly: the text it keeps plus what Python spends on its dict and strings
    (about 3 KB, measured with loadtests.journal_memory)."""
    text = (
        len(entry.get("path") or "")
        + len(entry.get("query") or "")
        + len(entry.get("request_body") or "")
        + len(entry.get("response_body") or "")
        + sum(len(k) + len(v) for k, v in (entry.get("request_headers") or {}).items())
    )
    return 3072 + text


Held = tuple[int, float, RawEntry, int]  # id, at, the raw entry, its size (``entry_bytes`` of its entry)


def _entry(held: Held) -> JournalEntry:
    entry_id, at, raw, _size = held
    entry = raw.fields()
    entry["id"] = entry_id
    entry["at"] = at
    return entry


class Journal:
    """Entries are kept raw (``RawEntry``) and built when read: a call pays for keeping its pieces,
    a reader for the formatting."""

    def __init__(self, clock: Clock, size: int = 1000, max_bytes: int = MAX_BYTES):
        self.clock = clock
        self.size = max(1, int(size))
        self.max_bytes = max(1, int(max_bytes))
        self._rings: dict[str | None, deque[Held]] = {}
        self._evicted: dict[str | None, int] = {}
        self._bytes = 0
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def record(self, raw: RawEntry) -> int:
        """Store an entry and return its id (its ``at`` is now); evicts the tenant's oldest
        when full, and the oldest of any tenant while all entries together are over ``max_bytes``."""
        size = raw.size()
        tenant = raw.tenant
        with self._lock:
            entry_id = next(self._ids)
            ring = self._rings.get(tenant)
            if ring is None:
                ring = self._rings[tenant] = deque()
            if len(ring) == self.size:
                self._evict(tenant)
            ring.append((entry_id, self.clock.now(), raw, size))
            self._bytes += size
            while self._bytes > self.max_bytes and self._held() > 1:
                oldest = min((t for t, r in self._rings.items() if r), key=lambda t: self._rings[t][0][0])
                self._evict(oldest)
        return entry_id

    def _evict(self, tenant: str | None) -> None:
        size = self._rings[tenant].popleft()[3]
        self._bytes -= size
        self._evicted[tenant] = self._evicted.get(tenant, 0) + 1

    def _held(self) -> int:
        return sum(len(r) for r in self._rings.values())

    def _entries(self, tenant: TenantSelector) -> list[Held]:
        rings: list[Iterable[Held]]
        rings = [self._rings.get(tenant, ())] if tenant is not ANY else list(self._rings.values())
        return [held for ring in rings for held in ring]

    def query(self, pattern: Pattern, limit: int = 100) -> list[JournalEntry]:
        """Matching entries, newest first (built outside the lock, only those returned)."""
        with self._lock:
            found = [h for h in self._entries(pattern.tenant) if pattern.matches_raw(h[0], h[1], h[2])]
        found.sort(key=lambda h: h[0], reverse=True)
        return [_entry(h) for h in found[:limit]]

    def count(self, pattern: Pattern) -> int:
        with self._lock:
            return sum(1 for h in self._entries(pattern.tenant) if pattern.matches_raw(h[0], h[1], h[2]))

    def get(self, entry_id: int) -> JournalEntry | None:
        with self._lock:
            held = next((h for h in self._entries(ANY) if h[0] == entry_id), None)
        return _entry(held) if held is not None else None

    def clear(self, tenant: TenantSelector = ANY) -> int:
        with self._lock:
            if tenant is ANY:
                removed = self._held()
                self._rings.clear()
                self._evicted.clear()
                self._bytes = 0
            else:
                ring = self._rings.pop(tenant, deque())
                removed = len(ring)
                self._bytes -= sum(h[3] for h in ring)
                self._evicted.pop(tenant, None)
            return removed

    def evicted(self, tenant: TenantSelector = ANY) -> int:
        with self._lock:
            return sum(self._evicted.values()) if tenant is ANY else self._evicted.get(tenant, 0)

    def evictions(self) -> dict[str | None, int]:
        with self._lock:
            return dict(self._evicted)

    def held(self) -> int:
        with self._lock:
            return self._held()

    def held_bytes(self) -> int:
        with self._lock:
            return self._bytes
