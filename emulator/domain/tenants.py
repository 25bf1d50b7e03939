"""Tenants: SFMC accounts with business units, installed packages and settings.

``build_tenant`` turns a scenario entry or an admin-API body into a ``Tenant``, filling in what
was left out (subdomain, credentials) so a test can create an isolated account with ``{}``.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from .problems import Problems

# The permissions the seed tells users to grant (AUTH-1), as SFMC scope names.
SEED_SCOPES = (
    "email_read",
    "email_write",
    "web_read",
    "web_write",
    "automations_read",
    "automations_write",
    "automations_execute",
    "journeys_read",
    "list_and_subscribers_read",
    "list_and_subscribers_write",
    "data_extensions_read",
    "data_extensions_write",
    "tracking_events_read",
    "webhooks_read",
    "webhooks_write",
)
SUBDOMAIN = re.compile(r"^mc[a-z0-9-]{26}$")
_ALPHABET = string.ascii_lowercase + string.digits


def _random(n: int, alphabet: str = _ALPHABET) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def new_subdomain() -> str:
    return "mc" + _random(26)


class TenantError(Problems):
    """A tenant description the emulator cannot build."""


MAX_SETTING = 1e9  # every number setting (rates, lifetimes, delays) stays finite and far from overflow


@dataclass(frozen=True)
class TenantSettings:
    rate_limit: float = 20.0  # REST calls per second; 0 turns throttling off
    burst: float = 20.0  # calls allowed at once before the rate applies
    token_lifetime: int = 1200  # seconds an access token lives (SFMC: 20 minutes)
    legacy_token_lifetime: int = 3600  # seconds a legacy v1/requestToken token lives (SFMC: 1 hour)
    async_api_enabled: bool = True  # the seed's BAT-3: off means batched data is dropped
    strict_columns: bool = False  # unknown columns answer 400 instead of being ignored
    require_title_case: bool = True  # refuse Data Extension fields that are not Title Case (FMT-5)
    async_pickup_delay: float = 0.2  # seconds before an async job is picked up
    require_complete_definitions: bool = True  # REST DE create needs categoryId and complete field objects
    accept_sfmc_date_formats: bool = False  # also take US dates (6/23/2024 3:04 PM); off: ISO-8601 only (FMT-3)
    sfmc_read_formats: bool = True  # rows read back as SFMC renders them (dates M/d/yyyy h:mm:ss AM); off: as written

    def updated(self, changes: dict[str, Any]) -> TenantSettings:
        known = {f.name: f.type for f in fields(self)}
        unknown = sorted(set(changes) - set(known))
        if unknown:
            raise TenantError([f"settings: unknown setting(s) {', '.join(unknown)}; known: {', '.join(known)}"])
        clean = {}
        for name, value in changes.items():
            current = getattr(self, name)
            try:
                if isinstance(current, bool):
                    if not isinstance(value, bool):
                        raise ValueError
                    clean[name] = value
                else:
                    if isinstance(value, bool) or len(str(value)) > 40:  # bounded before conversion
                        raise ValueError
                    number = type(current)(value)
                    if not 0 <= number <= MAX_SETTING:  # also refuses NaN and infinity
                        raise ValueError
                    clean[name] = number
            except (TypeError, ValueError, OverflowError):
                raise TenantError(
                    [
                        f"settings.{name}: expected a {type(current).__name__} 0..{MAX_SETTING:g}, "
                        f"got {str(value)[:40]!r}"
                    ]
                ) from None
        return replace(self, **clean)


@dataclass(frozen=True)
class Package:
    client_id: str
    client_secret: str
    name: str = "Installed Package"
    scopes: tuple[str, ...] = SEED_SCOPES


@dataclass(frozen=True)
class BusinessUnit:
    mid: int
    name: str = "Business Unit"


@dataclass(frozen=True)
class Tenant:
    id: str
    name: str
    subdomain: str
    business_units: tuple[BusinessUnit, ...]
    packages: tuple[Package, ...]
    settings: TenantSettings = field(default_factory=TenantSettings)
    created_at: float = 0.0

    @property
    def default_mid(self) -> int:
        return self.business_units[0].mid

    def has_mid(self, mid: int) -> bool:
        return any(bu.mid == mid for bu in self.business_units)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Tenant:
        return cls(
            id=d["id"],
            name=d["name"],
            subdomain=d["subdomain"],
            business_units=tuple(BusinessUnit(**bu) for bu in d["business_units"]),
            packages=tuple(Package(**{**p, "scopes": tuple(p["scopes"])}) for p in d["packages"]),
            settings=TenantSettings(**d["settings"]),
            created_at=d.get("created_at", 0.0),
        )


def build_tenant(raw: dict[str, Any], *, now: float = 0.0, base_settings: TenantSettings | None = None) -> Tenant:
    """A Tenant from a scenario/admin description; everything left out is generated."""
    problems: list[str] = []
    tenant_id = str(raw.get("id") or "t-" + _random(10))
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", tenant_id):
        problems.append(f"id: '{tenant_id}' must be 1-64 letters, digits, '-', '_' or '.'")
    subdomain = str(raw.get("subdomain") or new_subdomain())
    if not SUBDOMAIN.match(subdomain):
        problems.append(f"subdomain: '{subdomain}' must be 28 characters: 'mc' then lower-case letters, digits or '-'")
    units = raw.get("business_units") or [{"mid": 100000000 + secrets.randbelow(899999999), "name": "Parent"}]
    business_units = []
    for i, bu in enumerate(units):
        try:
            business_units.append(BusinessUnit(mid=int(bu["mid"]), name=str(bu.get("name", f"Business Unit {i}"))))
        except (KeyError, TypeError, ValueError):
            problems.append(f"business_units[{i}]: needs a numeric 'mid'")
    packages = []
    for i, p in enumerate(raw.get("packages") or [{}]):
        scopes = p.get("scopes", SEED_SCOPES)
        if isinstance(scopes, str):
            scopes = scopes.split()
        packages.append(
            Package(
                client_id=str(p.get("client_id") or _random(24)),
                client_secret=str(p.get("client_secret") or _random(24, _ALPHABET + string.ascii_uppercase)),
                name=str(p.get("name", f"Package {i + 1}")),
                scopes=tuple(scopes),
            )
        )
    try:
        settings = (base_settings or TenantSettings()).updated(raw.get("settings") or {})
    except TenantError as err:
        problems.extend(err.problems)
        settings = TenantSettings()
    if problems:
        raise TenantError(problems)
    return Tenant(
        id=tenant_id,
        name=str(raw.get("name") or tenant_id),
        subdomain=subdomain,
        business_units=tuple(business_units),
        packages=tuple(packages),
        settings=settings,
        created_at=now,
    )
