"""Fidelity mode: check an SFMC-compatible endpoint's own answers against SFMC's documented shapes.

Against the emulator (its control plane reachable) each check gets a fresh tenant with a
``fidelity`` DE; against another endpoint (``--target``) the caller gives credentials and a DE
key, and the checks that need the control plane are skipped.
"""

from __future__ import annotations

import re
import time
from functools import lru_cache
from pathlib import Path
from xml.etree import ElementTree as ET

import requests
import yaml

from .checks import fill
from .service import EmulatorClient

FIDELITY_DE = {
    "key": "fidelity",
    "name": "Fidelity",
    "fields": [
        {"name": "Contact Key", "type": "Text", "length": 254, "isPrimaryKey": True},
        {"name": "Email", "type": "EmailAddress"},
        {"name": "First Name", "type": "Text"},
    ],
}
TYPES = {"string": str, "integer": int, "array": list, "object": dict, "number": (int, float)}


@lru_cache(maxsize=1)
def _checks_text() -> str:
    return Path(__file__).with_name("fidelity").joinpath("checks.yaml").read_text(encoding="utf-8")


def load_checks() -> list[dict]:
    checks = yaml.safe_load(_checks_text())["checks"]
    for check in checks:
        check["rule"] = check["rule"] if isinstance(check["rule"], list) else [check["rule"]]
    return checks


def _token(base: str, values: dict, scope: str | None = None) -> str:
    body = {
        "grant_type": "client_credentials",
        "client_id": values["client_id"],
        "client_secret": values["client_secret"],
    }
    if scope is not None:
        body["scope"] = scope
    response = requests.post(f"{base}/v2/token", json=body, timeout=30)
    response.raise_for_status()
    return response.json()["access_token"]


def _at(body: object, path: str) -> object:
    """``links.next`` in a JSON body (names are plain keys, dots step into objects)."""
    for name in path.split("."):
        body = body.get(name) if isinstance(body, dict) else None
    return body


def _problems(response: requests.Response, expect: dict) -> list[str]:
    problems = []
    if "status" in expect and response.status_code != expect["status"]:
        problems.append(f"status {response.status_code}, expected {expect['status']}: {response.text[:300]}")
        return problems
    try:
        body = response.json()
    except ValueError:
        body = None
    if expect.get("json_is_list") and not isinstance(body, list):
        problems.append(f"body is not a JSON array: {response.text[:200]}")
    wants_object = any(k in expect for k in ("json_types", "json_equals", "json_matches", "additional_errors"))
    if wants_object and not isinstance(body, dict):
        return [*problems, f"body is not a JSON object: {response.text[:200]}"]
    for key, kind in (expect.get("json_types") or {}).items():
        value = _at(body, key)
        if not isinstance(value, TYPES[kind]) or (kind == "integer" and isinstance(value, bool)):
            problems.append(f"'{key}' should be a {kind}, got {value!r}")
    for key, value in (expect.get("json_equals") or {}).items():
        if _at(body, key) != value:
            problems.append(f"'{key}' should be {value!r}, got {_at(body, key)!r}")
    for key, pattern in (expect.get("json_matches") or {}).items():
        found = _at(body, key)
        if not isinstance(found, str) or not re.search(pattern, found):
            problems.append(f"'{key}' should match {pattern!r}, got {found!r}")
    if expect.get("empty_body") and response.content:
        problems.append(f"the body should be empty, got {response.text[:200]!r}")
    if "additional_errors" in expect:
        details = body.get("additionalErrors")
        if not isinstance(details, list) or not details:
            problems.append(f"'additionalErrors' should be a non-empty list, got {details!r}")
        else:
            for key, value in expect["additional_errors"].items():
                if any(d.get(key) != value for d in details if isinstance(d, dict)):
                    problems.append(f"every additionalErrors item should have {key} = {value!r}: {details}")
    for header, needle in (expect.get("headers") or {}).items():
        got = response.headers.get(header)
        if got is None or needle not in got:
            problems.append(f"header {header} should contain {needle!r}, got {got!r}")
    return problems


def _run_one(check: dict, base: str, values: dict, client: EmulatorClient | None, tenant_id: str | None) -> dict:
    request = fill(check["request"], values)
    auth = request.get("auth", "token")
    headers = {}
    if auth == "token_before_faults" or auth == "token":
        headers["Authorization"] = f"Bearer {_token(base, values)}"
    elif isinstance(auth, dict):
        headers["Authorization"] = f"Bearer {_token(base, values, auth.get('scope'))}"
    if client is not None and check.get("faults"):
        client.add_faults([{**rule, "tenant": tenant_id} for rule in check["faults"]])
    response = None
    for _ in range(int(check.get("repeat", 1))):
        kwargs = (
            {"json": request["json"]} if "json" in request else {"data": request["form"]} if "form" in request else {}
        )
        response = requests.request(request["method"], base + request["path"], headers=headers, timeout=30, **kwargs)
    if (
        response.status_code == 404
        and response.headers.get("Content-Type", "").startswith("application/json")
        and (response.json() or {}).get("message") == "Not Found"
        and check["expect"].get("status") != 404
    ):
        return {"status": "waiting", "problems": [f"{request['method']} {request['path']} is not served"]}
    problems = _problems(response, check["expect"])
    return {"status": "failed" if problems else "passed", "problems": problems}


def run_fidelity(
    emulator_url: str | None,
    *,
    admin_token: str | None = None,
    target: str | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
    de_key: str | None = None,
) -> list[dict]:
    outcomes = []
    client = EmulatorClient(emulator_url, admin_token) if not target else None
    for check in load_checks():
        started = time.monotonic()
        outcome = {"id": check["id"], "rule": check["rule"], "title": check["title"]}
        if target:
            if check.get("needs") == "control_plane":
                outcomes.append(
                    {
                        **outcome,
                        "status": "skipped",
                        "problems": ["needs the emulator's control plane"],
                        "duration": 0.0,
                    }
                )
                continue
            values = {"client_id": client_id, "client_secret": client_secret, "de_key": de_key or "fidelity"}
            outcome.update(_run_one(check, target.rstrip("/"), values, None, None))
        else:
            tenant = client.create_tenant(
                {
                    "data_extensions": [FIDELITY_DE],
                    "settings": {"rate_limit": 0, **(check.get("tenant_settings") or {})},
                }
            )
            package = tenant["packages"][0]
            values = {
                "client_id": package["client_id"],
                "client_secret": package["client_secret"],
                "de_key": "fidelity",
            }
            try:
                outcome.update(_run_one(check, client.url, values, client, tenant["id"]))
            finally:
                client.delete_tenant(tenant["id"])
        outcome["duration"] = time.monotonic() - started
        outcomes.append(outcome)
    return outcomes


def fidelity_report(outcomes: list[dict], where: str) -> str:
    lines = [f"SFMC fidelity of {where}", ""]
    for outcome in outcomes:
        lines.append(f"{outcome['status'].upper():<8} {outcome['id']:<42} [{', '.join(outcome['rule'])}]")
        lines += [f"         - {p}" for p in outcome["problems"] if outcome["status"] != "passed"]
    counts = {s: sum(o["status"] == s for o in outcomes) for s in ("passed", "failed", "skipped", "waiting")}
    lines += ["", ", ".join(f"{n} {s}" for s, n in counts.items())]
    return "\n".join(lines)


def fidelity_junit(outcomes: list[dict]) -> str:
    suite = ET.Element(
        "testsuite",
        name="sfmc-fidelity",
        tests=str(len(outcomes)),
        failures=str(sum(o["status"] == "failed" for o in outcomes)),
    )
    for outcome in outcomes:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=" ".join(outcome["rule"]),
            name=outcome["id"],
            time=f"{outcome.get('duration', 0):.3f}",
        )
        if outcome["status"] == "failed":
            ET.SubElement(case, "failure", message="; ".join(outcome["problems"])[:1000])
        elif outcome["status"] in ("skipped", "waiting"):
            ET.SubElement(case, "skipped", message="; ".join(outcome["problems"])[:1000])
    return ET.tostring(suite, encoding="unicode")
