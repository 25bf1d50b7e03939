"""Segment's own SFMC destination (npm ``@segment/action-destinations``) as a conformance connector.

``--connector segment-actions:<action>[:<profile>]`` runs Segment's published code, unchanged, through
``run.js`` in this folder. The destination is mapping-driven: a Segment user subscribes actions to
events and maps fields by hand. The adapter turns a case's settings (the bundled connector's
vocabulary) into the subscriptions a user would configure:

- ``<action>``: the action that writes Data Extension rows: ``dataExtension`` (sync rowsets by key,
  batched when the case turns batching on), ``dataExtensionV2`` (rowsets by DE id) or
  ``asyncDataExtension`` (the async API, always batched). The two id-based actions find the DE the
  way the Segment app does: the action's own DE lookup, then its ``onMappingSave`` hook.
- ``contact`` (unless "Do Not Create Contacts") and ``apiEvent`` (per configured API event) as
  further subscriptions, with the actions' default mappings.
- ``<profile>``: ``passthrough`` (default) maps whole objects, with the actions' defaults: Contact Key
  ``$.userId``, values ``$.traits`` / ``$.properties``: what the code does with no per-field work.
  ``fields`` maps field by field, as the seed asks a user to set up SFMC: Title-Cased column names,
  the email when there is no userId, colons removed with ``@replace``, identifies without either
  left out by the subscription filter, and, with batching on, no contact or API-event subscriptions.
  Rules that pass only under ``fields`` depend on the mapping.

All HTTP leaves through the emulator's forward proxy (``HTTPS_PROXY``, CA in ``NODE_EXTRA_CA_CERTS``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from connector.transform import title_case
from emulator.launcher import start_emulator

from ..adapters import AdapterError, CommandAdapter
from ..service import EmulatorClient

HERE = Path(__file__).resolve().parent
RUNNER = HERE / "run.js"
DE_ACTIONS = ("dataExtension", "dataExtensionV2", "asyncDataExtension")
PROFILES = ("passthrough", "fields")
BATCH_ACTIONS = ("dataExtension", "dataExtensionV2", "asyncDataExtension")


class SetupError(RuntimeError):
    pass


def installed() -> bool:
    """True when node_modules holds exactly the locked tree (npm writes its own copy of the lock)."""
    lock, installed_lock = HERE / "package-lock.json", HERE / "node_modules" / ".package-lock.json"
    return installed_lock.exists() and installed_lock.stat().st_mtime >= lock.stat().st_mtime


def ensure_installed() -> None:
    """``npm ci`` in this folder when node_modules is missing or older than the lock file."""
    if installed():
        return
    npm = shutil.which("npm")
    if not npm:
        raise SetupError("npm is not installed: Segment's destination needs Node 20 and npm (make test installs it)")
    with open(HERE / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test workers install once
        if installed():
            return
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=HERE,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            raise SetupError(f"npm ci in {HERE} failed: {done.stderr.strip()[-1500:]}")


# ---------------------------------------------------------------------------------------------
# Subscriptions: a case's settings as Segment mappings
# ---------------------------------------------------------------------------------------------


def _flat_keys(events: list[dict], where: str) -> list[str]:
    """The scalar keys the events carry under ``where`` (traits/properties), in first-seen order."""
    keys: dict[str, None] = {}
    for event in events:
        for key, value in (event.get(where) or {}).items():
            if not isinstance(value, dict | list):
                keys.setdefault(key, None)
    return list(keys)


def _no_colons(value: dict) -> dict:
    return {"@replace": {"pattern": ":", "replacement": "", "value": value}}


def contact_key_mapping(profile: str) -> dict:
    if profile == "passthrough":
        return {"@path": "$.userId"}  # the default of the contact and apiEvent actions' Contact Key
    return {
        "@if": {
            "exists": {"@path": "$.userId"},
            "then": _no_colons({"@path": "$.userId"}),
            "else": _no_colons({"@path": "$.traits.email"}),
        }
    }


def _values(events: list[dict], where: str, profile: str, skip: set[str]) -> dict:
    if profile == "passthrough":
        return {"@path": f"$.{where}"}
    return {
        title_case(key): {"@path": f"$.{where}.{key}"}
        for key in _flat_keys(events, where)
        if title_case(key) not in skip
    }


def _source_of(column: str, events: list[dict], where: str) -> dict:
    for key in _flat_keys(events, where):
        if title_case(key) == column:
            return {"@path": f"$.{where}.{key}"}
    return {"@path": f"$.{where}.{column}"}


def _de_subscription(name, action, subscribe, de_key, keys, values, batching) -> dict:
    mapping = {"keys": keys, "values": values}
    sub = {"name": name, "partnerAction": action, "subscribe": subscribe, "mapping": mapping}
    if action == "dataExtension":
        mapping["key"] = de_key
        if batching:
            mapping["enable_batching"] = True
    else:
        sub["select_data_extension"] = {"key": de_key}
    sub["batch"] = action == "asyncDataExtension" or (batching and action in BATCH_ACTIONS)
    if action == "dataExtensionV2" and batching:
        mapping["enable_batching"] = True
    return sub


def subscriptions(settings: dict, events: list[dict], action: str, profile: str = "passthrough") -> list[dict]:
    """The Segment subscriptions (action, FQL filter, mapping) that carry out a case's settings."""
    if action not in DE_ACTIONS:
        raise AdapterError(f"segment-actions:{action}: the Data Extension action is one of {', '.join(DE_ACTIONS)}")
    if profile not in PROFILES:
        raise AdapterError(f"segment-actions:{action}:{profile}: the mapping profile is one of {', '.join(PROFILES)}")
    batching = bool((settings.get("batching") or {}).get("enabled"))
    identifies = [e for e in events if e.get("type") == "identify"]
    identify_filter = 'type = "identify"'
    if profile == "fields":  # ID-1: a user following the seed sends only identifies that carry an identifier
        identify_filter += " and (userId != null or traits.email != null)"
    out = []
    if settings.get("identify_de_key"):
        keys = {"Contact Key": contact_key_mapping(profile)}
        values = _values(identifies, "traits", profile, {"Contact Key"})
        out.append(
            _de_subscription(
                f"identify → {action} {settings['identify_de_key']}",
                action,
                identify_filter,
                settings["identify_de_key"],
                keys,
                values,
                batching,
            )
        )
    for conversion in settings.get("conversion_events") or []:
        tracks = [e for e in events if e.get("type") == "track" and e.get("event") == conversion["event"]]
        if conversion.get("uuid_primary_key"):
            keys = {"Uuid": {"@path": "$.messageId"}}
            values = _values(tracks, "properties", profile, {"Uuid"})
            if profile == "passthrough":
                values = {
                    "@merge": {"objects": [{"Contact Key": contact_key_mapping(profile)}, values], "direction": "right"}
                }
            else:
                values = {"Contact Key": contact_key_mapping(profile), **values}
        else:
            columns = [c.strip() for c in str(conversion.get("primary_keys") or "Contact Key").split(",") if c.strip()]
            keys = {
                column: contact_key_mapping(profile)
                if column == "Contact Key"
                else _source_of(column, tracks, "properties")
                for column in columns
            }
            values = _values(tracks, "properties", profile, set(columns))
        event_name = str(conversion["event"]).replace('"', '\\"')
        out.append(
            _de_subscription(
                f"track {conversion['event']} → {action} {conversion['de_key']}",
                action,
                f'type = "track" and event = "{event_name}"',
                conversion["de_key"],
                keys,
                values,
                batching,
            )
        )
    user_setup = profile == "fields"
    if not (batching and user_setup):
        for event, definition_key in (settings.get("api_events") or {}).items():
            event_name = str(event).replace('"', '\\"')
            tracks = [e for e in events if e.get("type") == "track" and e.get("event") == event]
            data = _values(tracks, "properties", profile, set())
            out.append(
                {
                    "name": f"track {event} → apiEvent {definition_key}",
                    "partnerAction": "apiEvent",
                    "subscribe": f'type = "track" and event = "{event_name}"',
                    "mapping": {
                        "eventDefinitionKey": definition_key,
                        "contactKey": contact_key_mapping(profile),
                        "data": data,
                    },
                    "batch": False,
                }
            )
        if not settings.get("do_not_create_contacts"):
            out.append(
                {
                    "name": "identify → contact",
                    "partnerAction": "contact",
                    "subscribe": identify_filter,
                    "mapping": {"contactKey": contact_key_mapping(profile)},
                    "batch": False,
                }
            )
    return out


class SegmentActionsAdapter(CommandAdapter):
    """Segment's published destination, run by ``run.js`` once per case."""

    def __init__(self, spec: str):
        action, _, profile = spec.partition(":")
        action = action or "dataExtension"
        profile = profile or "passthrough"
        subscriptions({}, [], action, profile)  # validates both names
        self.action, self.profile = action, profile
        node = shutil.which("node")
        if not node:
            raise AdapterError("segment-actions: Node 20 is needed to run Segment's destination (node not found)")
        super().__init__(f"{node} {RUNNER}")
        self.name = f"segment-actions:{action}" + (f":{profile}" if profile != "passthrough" else "")
        self.proxy_env = proxy_environment()  # the harness's own HTTPS_PROXY / NODE_EXTRA_CA_CERTS

    def emulator_options(self) -> list[str]:
        """A forward proxy with a throw-away CA, which this adapter's runs then go through."""
        self._ca_dir = tempfile.TemporaryDirectory(prefix="sfmc-segment-ca-")
        options, self.proxy_env = proxy_serve_args(self._ca_dir.name)
        return options

    def run(self, settings, events, env, settle, timeout):
        try:
            ensure_installed()
        except SetupError as err:
            return {"failed": True, "error": str(err)}
        subs = subscriptions(settings, events, self.action, self.profile)
        account_id = settings.get("account_id") or env.get("SFMC_ACCOUNT_ID")
        run_settings = {
            "settings": {
                "subdomain": settings.get("subdomain") or env.get("SFMC_SUBDOMAIN"),
                "account_id": str(account_id) if account_id is not None else "",
                "client_id": settings.get("client_id") or env.get("SFMC_CLIENT_ID"),
                "client_secret": settings.get("client_secret") or env.get("SFMC_CLIENT_SECRET"),
            },
            "subscriptions": subs,
        }
        child_env = {**env, **self.proxy_env}
        result = super().run(run_settings, events, child_env, settle, timeout)
        result["mapping"] = subs
        return result


def proxy_environment(environ=None) -> dict:
    """The proxy and CA variables for the runner (``eval "$(sfmc-emulator env)"`` sets them)."""
    environ = os.environ if environ is None else environ
    proxy = environ.get("HTTPS_PROXY") or environ.get("https_proxy")
    out = {"HTTPS_PROXY": proxy} if proxy else {}
    if environ.get("NODE_EXTRA_CA_CERTS"):
        out["NODE_EXTRA_CA_CERTS"] = environ["NODE_EXTRA_CA_CERTS"]
    return out


def proxy_serve_args(ca_dir: str | Path) -> tuple[list[str], dict]:
    """``sfmc-emulator serve`` options for a forward proxy on a free port with a CA in ``ca_dir``, and the
    variables that point the runner at it (the CA file is ``ca.pem`` there, made when the emulator starts)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = ["--proxy-port", str(port), "--ca-dir", str(ca_dir)]
    return args, {"HTTPS_PROXY": f"http://127.0.0.1:{port}", "NODE_EXTRA_CA_CERTS": str(Path(ca_dir) / "ca.pem")}


@contextlib.contextmanager
def proxied_emulator(url: str | None = None):
    """(client, proxy variables): a running emulator whose proxy the environment names, or a fresh one
    (``sfmc-emulator serve --proxy-port N`` with a throw-away CA)."""
    if url:
        yield EmulatorClient(url), proxy_environment()
        return
    with tempfile.TemporaryDirectory(prefix="sfmc-segment-ca-") as ca_dir:
        args, variables = proxy_serve_args(ca_dir)
        server = start_emulator(*args)
        try:
            yield EmulatorClient(server.url), variables
        finally:
            server.stop()
