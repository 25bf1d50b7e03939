"""Property-based calls from the emulator's own OpenAPI document against a live emulator (schemathesis).

Every documented operation gets generated calls, valid and invalid by the document (its path,
query, header and body parameters), sent over HTTP to a real server; every answer is checked:
no 5xx, a documented status code, a documented content type, a body that fits the documented
schema of its status. The figures printed are what the run saw; the exit status is 1 when any
answer was a 5xx or broke the document.

    python -m loadtests.fuzz                                  # >= 10,000 calls against a fresh emulator
    python -m loadtests.fuzz --examples 50 --seed 7           # fewer calls per operation, another seed
    python -m loadtests.fuzz --url http://127.0.0.1:8085      # an emulator already running (its admin API open)

``tests/emulator/test_schemathesis.py`` runs the same ``fuzz`` with a small budget in ``make test``.
Operations that change what every other call sees by design are left out: fault rules (they inject
5xx answers and dropped connections on purpose), scenarios (they may carry fault rules), the clock
(moving it expires the run's own token) and the resets (they revoke it).
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import click
import hypothesis
import hypothesis.errors
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .common import credentials, ensure_tenant, get_token, running, start_emulator

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

# (method, path) left out of the run: see the module docstring
EXCLUDED = {
    ("POST", "/_emulator/faults"),
    ("POST", "/_emulator/scenarios"),
    ("POST", "/_emulator/clock"),
    ("POST", "/_emulator/reset"),
    ("POST", "/_emulator/tenants/{tenant_id}/reset"),
}

TENANT = "fuzz"
DE_KEY = "fuzz-de"
EVENT_KEY = "fuzz-event"
FIELDS = [
    {"name": "Contact Key", "type": "Text", "length": 254, "isPrimaryKey": True},
    {"name": "Email", "type": "EmailAddress"},
    {"name": "Age", "type": "Number"},
    {"name": "Score", "type": "Decimal", "precision": 5, "scale": 2},
    {"name": "Joined", "type": "Date"},
]


@dataclass
class Tally:
    """What a run saw: calls made, 5xx answers, answers that broke the document, and the first of each kind."""

    requests: int = 0
    server_errors: int = 0
    violations: int = 0
    statuses: Counter = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)  # one reproduction per (operation, failure)

    def record(self, label: str, problem: str, curl: str) -> None:
        self.examples.setdefault(f"{label}: {problem[:300]}", curl)


def known_values(tenant_id: str, de_id: str, event_id: str) -> dict[str, list[str]]:
    """Path parameter values that reach existing objects, mixed in with generated ones."""
    return {
        "tenant_id": [tenant_id],
        "ref": [f"key:{DE_KEY}", de_id, f"key:{EVENT_KEY}", event_id],
        "key": [DE_KEY],
        "de_id": [de_id],
        "primary_keys": ["Contact Key:fuzz-1"],
        "filename": ["index.html", "app.js"],
    }


def fuzz(
    url: str,
    token: str,
    *,
    examples: int,
    seed: int = 0,
    known: dict[str, list[str]] | None = None,
    progress: Callable[[str, Tally], None] | None = None,
) -> Tally:
    """Up to ``examples`` calls per documented operation, valid and invalid ones mixed; returns the tally.

    Generation is seeded (``seed`` picks the examples), with no deadline and no example
    database, so the same emulator gets the same calls every run.
    """
    schema = schemathesis.openapi.from_url(f"{url}/_emulator/openapi.json")
    schema.config.update(base_url=url)
    session = requests.Session()
    headers = {"Authorization": f"Bearer {token}"}
    tally = Tally()
    known = known or {}

    def check(case, label: str) -> None:
        try:
            response = case.call(session=session, headers=headers, timeout=30)
        except requests.RequestException as exc:  # a dropped connection is as bad as a 5xx
            tally.requests += 1
            tally.server_errors += 1
            tally.record(label, f"no answer: {exc}", case.as_curl_command())
            return
        tally.requests += 1
        tally.statuses[response.status_code] += 1
        if response.status_code >= 500:
            tally.server_errors += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:  # one or more checks failed
            tally.violations += 1
            for failure in group.exceptions:
                title = getattr(failure, "title", type(failure).__name__)
                message = " ".join(str(getattr(failure, "message", failure)).split())
                tally.record(label, f"{title} [{response.status_code}]: {message}", case.as_curl_command())

    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in EXCLUDED:
            continue
        label = f"{operation.method.upper()} {operation.path}"
        names = {p.name for p in operation.path_parameters}
        overrides = {n: v for n, v in known.items() if n in names}
        strategies = []
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                strategies.append(operation.as_strategy(generation_mode=mode))
            except Exception as exc:  # nothing in the operation to negate
                tally.record(label, f"no {mode} calls: {type(exc).__name__}: {exc}", "")
        pick = st.fixed_dictionaries({n: st.one_of(st.none(), st.sampled_from(v)) for n, v in overrides.items()})

        @settings(
            max_examples=examples,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            report_multiple_bugs=False,
        )
        @hypothesis.seed(seed)
        @given(case=st.one_of(strategies), chosen=pick)
        def run(case, chosen):
            for name, value in chosen.items():
                if value is not None:
                    case.path_parameters[name] = value
            check(case, f"{case.operation.method.upper()} {case.operation.path}")

        try:
            run()
        except hypothesis.errors.Unsatisfiable:
            tally.record(label, "no calls could be generated", "")
        if progress:
            progress(label, tally)
    return tally


def prepare(url: str) -> tuple[str, dict[str, list[str]]]:
    """The run's own tenant (a DE and an event definition on it), its token and the path values that reach them."""
    tenant = ensure_tenant(
        url,
        TENANT,
        {"rate_limit": 0, "token_lifetime": 86400, "require_complete_definitions": False},
        [{"key": DE_KEY, "name": "Fuzz", "fields": FIELDS}],
    )
    token = get_token(url, *credentials(tenant))
    auth = {"Authorization": f"Bearer {token}"}
    de = requests.get(f"{url}/data/v1/customobjects/key:{DE_KEY}", headers=auth, timeout=30).json()
    created = requests.post(
        f"{url}/interaction/v1/eventDefinitions",
        json={"eventDefinitionKey": EVENT_KEY, "name": "Fuzz event", "dataExtensionId": de["id"]},
        headers=auth,
        timeout=30,
    )
    event_id = created.json().get("id", EVENT_KEY) if created.status_code < 300 else EVENT_KEY
    return token, known_values(TENANT, de["id"], event_id)


@click.command()
@click.option("--url", default=None, help="An emulator already running; default: a fresh one on 127.0.0.1.")
@click.option(
    "--examples", default=120, show_default=True, help="Calls generated per operation (valid and invalid mixed)."
)
@click.option(
    "--seed", default=0, show_default=True, help="Picks the generated calls (the same seed makes the same calls)."
)
@click.option("--show", default=20, show_default=True, help="Failures to print, each with a curl command.")
def main(url: str | None, examples: int, seed: int, show: int) -> None:
    def report(label: str, tally: Tally) -> None:
        click.echo(f"  {label:<70} {tally.requests:>7} calls  {tally.server_errors} 5xx  {tally.violations} violations")

    def go(target: str) -> Tally:
        token, known = prepare(target)
        return fuzz(target, token, examples=examples, seed=seed, known=known, progress=report)

    started = time.monotonic()
    if url:
        tally = go(url.rstrip("/"))
    else:
        with tempfile.TemporaryDirectory(prefix="sfmc-fuzz-") as tmp:
            server = start_emulator(Path(tmp), "--rate-limit", "0")
            with running(server):
                tally = go(server.url)
    seconds = time.monotonic() - started
    for problem, curl in list(tally.examples.items())[:show]:
        click.echo(f"\n{problem}\n    {curl}")
    statuses = ", ".join(f"{code}: {n}" for code, n in sorted(tally.statuses.items()))
    click.echo(f"\nstatuses: {statuses}")
    click.echo(
        f"requests: {tally.requests}  5xx: {tally.server_errors}  schema violations: {tally.violations}  "
        f"duration: {seconds:.1f} s ({tally.requests / seconds:.0f} requests/s)"
    )
    raise SystemExit(1 if tally.server_errors or tally.violations else 0)


if __name__ == "__main__":
    main()
