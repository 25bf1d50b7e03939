"""Run one case: a fresh tenant, its faults, the connector, then every expectation checked."""

from __future__ import annotations

import copy
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from . import checks
from .adapters import Adapter
from .cases import Case, deep_merge
from .checks import Failure
from .service import AdminError, EmulatorClient, EmulatorUnavailable

PASSED, FAILED, ERROR, WAITING = "passed", "failed", "error", "waiting"
DEFAULT_TENANT_SETTINGS = {"async_pickup_delay": 0}
QUIET_SECONDS = 0.75


@dataclass
class Profile:
    """Faults replayed under every case (``conformance/faults/*.yaml``)."""

    name: str
    faults: list = field(default_factory=list)
    tenant_settings: dict = field(default_factory=dict)
    relax: tuple[str, ...] = ()  # traffic checks the profile's faults make meaningless
    description: str = ""


def bundled_profiles_dir() -> Path:
    return Path(__file__).with_name("faults")


def load_profile(name_or_path: str) -> Profile:
    path = Path(name_or_path)
    if not path.exists():
        path = bundled_profiles_dir() / f"{name_or_path}.yaml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in bundled_profiles_dir().glob("*.yaml")))
        raise ValueError(f"no fault profile '{name_or_path}' (bundled: {known})")
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return Profile(
        path.stem,
        list(doc.get("faults") or []),
        dict(doc.get("tenant_settings") or {}),
        tuple(doc.get("relax") or ()),
        doc.get("description", ""),
    )


@dataclass
class CaseResult:
    case: Case
    status: str
    failures: list[Failure] = field(default_factory=list)
    result: dict = field(default_factory=dict)
    requests: list[dict] = field(default_factory=list)
    duration: float = 0.0
    reason: str = ""  # for error/waiting

    @property
    def failed_rules(self) -> set[str]:
        return set(self.case.rules) if self.status == FAILED else set()

    def as_dict(self) -> dict:
        return {
            "id": self.case.id,
            "rules": list(self.case.rules),
            "title": self.case.title,
            "section": self.case.section,
            "source": self.case.source,
            "status": self.status,
            "reason": self.reason,
            "duration": round(self.duration, 3),
            "failures": [f.as_dict() for f in self.failures],
            "result": self.result,
            "requests": self.requests,
        }


def _tenant_body(case: Case, adapter: Adapter, profile: Profile | None) -> dict:
    body = copy.deepcopy(case.tenant)
    body["settings"] = {
        **DEFAULT_TENANT_SETTINGS,
        **(body.get("settings") or {}),
        **(profile.tenant_settings if profile else {}),
    }
    body["id"] = f"{case.id[:40]}-{uuid.uuid4().hex[:10]}"
    if adapter.fixed_credentials:
        creds = adapter.fixed_credentials
        package = {
            **((body.get("packages") or [{}])[0]),
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
        }
        body["packages"] = [package]
        if creds.get("subdomain"):
            body["subdomain"] = creds["subdomain"]
    return body


def _placeholders(tenant: dict, url: str) -> dict:
    package = tenant["packages"][0]
    return {
        "mid": [bu["mid"] for bu in tenant["business_units"]],
        "subdomain": tenant["subdomain"],
        "client_id": package["client_id"],
        "client_secret": package["client_secret"],
        "tenant": tenant["id"],
        "url": url,
    }


def connector_settings(case: Case, tenant: dict, url: str) -> dict:
    """The case's settings template with the tenant's credentials and the emulator's URLs filled in."""
    values = _placeholders(tenant, url)
    base = {
        "client_id": values["client_id"],
        "client_secret": values["client_secret"],
        "subdomain": values["subdomain"],
        "auth_base_url": url,
        "rest_base_url": url,
    }
    return checks.fill(deep_merge(base, case.settings), values)


def case_events(case: Case) -> list[dict]:
    events = []
    for i, event in enumerate(case.events):
        event = copy.deepcopy(event)
        event.setdefault("messageId", f"{case.id}-{i + 1}")
        events.append(event)
    return events


class _DeferredFaults(threading.Thread):
    """Adds fault rules once the journal shows a matching call (e.g. a token expiring mid-run)."""

    def __init__(self, client: EmulatorClient, tenant_id: str, rules: list[dict]):
        super().__init__(daemon=True)
        self.client, self.tenant_id, self.rules = client, tenant_id, rules
        self.stop = threading.Event()

    def run(self) -> None:
        pending = list(self.rules)
        while pending and not self.stop.is_set():
            for rule in list(pending):
                hits = self.client.journal(self.tenant_id, limit=1, path=rule["on_request"])
                if hits:
                    self.client.add_faults([{k: v for k, v in rule.items() if k != "on_request"}])
                    pending.remove(rule)
            self.stop.wait(0.01)


def sfmc_paths_needed(case: Case) -> list[str]:
    """The SFMC routes a conformant connector needs for this case's settings (to tell "waiting" from "failed")."""
    settings = case.settings
    batching = bool((settings.get("batching") or {}).get("enabled"))
    needed = []
    if batching:
        needed.append("/data/v1/async/")
    if settings.get("api_events") and not batching:
        needed.append("/interaction/v1/events")
    identifies = any(e.get("type") == "identify" for e in case.events)
    if identifies and not batching and not settings.get("do_not_create_contacts"):
        needed.append("/contacts/v1/contacts")
    return needed


_served_lock = threading.Lock()
_served: dict[str, set[str] | None] = {}


def served_paths(client: EmulatorClient) -> set[str] | None:
    """The SFMC paths the emulator documents in its OpenAPI document (None when it has none)."""
    with _served_lock:
        if client.url not in _served:
            try:
                response = client.admin("GET", "/openapi.json")
                _served[client.url] = set(response.json().get("paths", {})) if response.ok else None
            except (ValueError, OSError):
                _served[client.url] = None
        return _served[client.url]


def run_case(
    case: Case, adapter: Adapter, client: EmulatorClient, profile: Profile | None = None, keep_tenant: bool = False
) -> CaseResult:
    started = time.monotonic()
    served = served_paths(client)
    if served is not None:
        missing = [p for p in sfmc_paths_needed(case) if not any(path.startswith(p) for path in served)]
        if missing:
            return CaseResult(case, WAITING, reason="the emulator does not serve " + ", ".join(missing) + " yet")
    try:
        tenant = client.create_tenant(_tenant_body(case, adapter, profile))
    except EmulatorUnavailable as err:
        return CaseResult(case, WAITING, reason=str(err), duration=time.monotonic() - started)
    except AdminError as err:
        return CaseResult(
            case, ERROR, reason=f"the case's tenant could not be created: {err}", duration=time.monotonic() - started
        )
    tenant_id = tenant["id"]
    deferred = None
    try:
        rules = [{**rule, "tenant": tenant_id} for rule in case.faults + (profile.faults if profile else [])]
        client.add_faults([r for r in rules if "on_request" not in r])
        later = [r for r in rules if "on_request" in r]
        if later:
            deferred = _DeferredFaults(client, tenant_id, later)
            deferred.start()
        values = _placeholders(tenant, client.url)
        expect = checks.fill(case.expect, values)
        settings = connector_settings(case, tenant, client.url)
        events = case_events(case)
        env = {
            "SFMC_CLIENT_ID": values["client_id"],
            "SFMC_CLIENT_SECRET": values["client_secret"],
            "SFMC_SUBDOMAIN": values["subdomain"],
            "SFMC_ACCOUNT_ID": str(values["mid"][0]),
            "SFMC_AUTH_BASE_URL": client.url,
            "SFMC_REST_BASE_URL": client.url,
        }
        relax = set(profile.relax) if profile else set()

        def evaluate(result: dict) -> list[Failure]:
            return evaluate_case(client, tenant_id, case, expect, result, relax)

        def settle(timeout: float) -> None:
            deadline = time.monotonic() + timeout
            last_count, quiet_since = -1, time.monotonic()
            while time.monotonic() < deadline:
                count = len(client.journal(tenant_id))
                if count != last_count:
                    last_count, quiet_since = count, time.monotonic()
                elif time.monotonic() - quiet_since >= QUIET_SECONDS and count and not evaluate({}):
                    return
                time.sleep(0.1)

        result = _run_adapter(adapter, settings, events, env, settle, case)
        if deferred:
            deferred.stop.set()
        failures = evaluate(result)
        if result.get("failed") and not case.expect.get("report"):
            failures.insert(0, Failure("connector", f"the connector failed: {result.get('error')}"))
        journal = client.journal(tenant_id)
        status = FAILED if failures else PASSED
        return CaseResult(case, status, failures, result, [_summary(e) for e in journal], time.monotonic() - started)
    except EmulatorUnavailable as err:
        return CaseResult(case, WAITING, reason=str(err), duration=time.monotonic() - started)
    except AdminError as err:
        return CaseResult(case, ERROR, reason=str(err), duration=time.monotonic() - started)
    finally:
        if deferred:
            deferred.stop.set()
        if not keep_tenant:
            client.delete_tenant(tenant_id)


def _run_adapter(adapter: Adapter, settings: dict, events: list[dict], env: dict, settle, case: Case) -> dict:
    if case.concurrency <= 1:
        return adapter.run(settings, events, env, settle, case.timeout)
    shares = [events[i :: case.concurrency] for i in range(case.concurrency)]
    with ThreadPoolExecutor(case.concurrency) as pool:
        results = list(pool.map(lambda share: adapter.run(settings, share, env, settle, case.timeout), shares))
    merged: dict = {"runs": results}
    for key in ("delivered", "pending"):
        merged[key] = sum(r.get(key, 0) for r in results if isinstance(r.get(key, 0), int))
    merged["rejected"] = sum(checks.count(r.get("rejected")) for r in results)
    failed = [r for r in results if r.get("failed")]
    if failed:
        merged["failed"], merged["error"] = True, failed[0].get("error")
    return merged


def evaluate_case(
    client: EmulatorClient, tenant_id: str, case: Case, expect: dict, result: dict, relax: set[str]
) -> list[Failure]:
    failures: list[Failure] = []
    for de_key, spec in (expect.get("rows") or {}).items():
        failures += checks.check_rows(f"rows[{de_key}]", spec, client.rows(tenant_id, de_key))
    definitions = None
    if expect.get("fields") or expect.get("created_data_extensions"):
        definitions = {d["key"].casefold(): d for d in client.data_extensions(tenant_id)}
    for de_key, wanted in (expect.get("fields") or {}).items():
        failures += checks.check_fields(de_key, wanted, definitions.get(de_key.casefold()))
    if expect.get("created_data_extensions"):
        failures += _check_created(client, tenant_id, case, expect["created_data_extensions"], definitions)
    if "contacts" in expect:
        keys = [str(c.get("contactKey")) for c in client.items(tenant_id, "contacts")]
        failures += checks.check_keys("contacts", expect["contacts"], keys)
    if "journey_entries" in expect:
        failures += checks.check_rows(
            "journey_entries", expect["journey_entries"], client.items(tenant_id, "journey-entries")
        )
    journal = None
    if expect.get("not_forwarded") or expect.get("traffic"):
        journal = client.journal(tenant_id)
    if expect.get("not_forwarded"):
        failures += checks.check_not_forwarded(expect["not_forwarded"], journal)
    if expect.get("traffic"):
        traffic = {k: v for k, v in expect["traffic"].items() if k not in relax}
        failures += checks.check_traffic(traffic, journal, client.fault)
    if expect.get("report"):
        failures += checks.check_report(expect["report"], result)
    return failures


def _check_created(client, tenant_id, case, spec, definitions) -> list[Failure]:
    declared = {d["key"].casefold() for d in case.tenant.get("data_extensions") or []}
    created = [d for key, d in definitions.items() if key not in declared]
    failures = []
    if "count" in spec and len(created) != spec["count"]:
        failures.append(
            Failure(
                "created_data_extensions.count",
                f"{len(created)} data extension(s) were created, {spec['count']} expected",
                expected=spec["count"],
                actual=[d["key"] for d in created],
            )
        )
    for de in created:
        if spec.get("fields_include"):
            failures += checks.check_fields(de["key"], spec["fields_include"], de)
        if spec.get("rows"):
            failures += checks.check_rows(f"rows[{de['key']}]", spec["rows"], client.rows(tenant_id, de["key"]))
    if not created and (spec.get("fields_include") or spec.get("rows")):
        failures.append(Failure("created_data_extensions", "no data extension was created"))
    return failures


def _summary(entry: dict) -> dict:
    return {
        "id": entry["id"],
        "at": entry["at"],
        "method": entry["method"],
        "path": entry["path"],
        "status": entry["status"],
        "fault": entry.get("fault"),
        "request_body": (entry.get("request_body") or "")[:600],
        "response_body": (entry.get("response_body") or "")[:300],
        "keys_ignored": entry.get("keys_ignored") or [],
        "rules_broken": entry.get("rules_broken") or [],
    }
