"""``python -m conformance.segment_actions.report``: the seed's rules against Segment's published SFMC
destination, rule by rule, written to ``docs/conformance-segment.md``.

Every case runs under four configurations of Segment's code: the Data Extension rows written by
``dataExtension`` (sync rowsets; batched when the case turns batching on) or by
``asyncDataExtension`` (the async API), each with the ``passthrough`` mapping (whole objects, the
actions' defaults) and the ``fields`` mapping (field by field, as the seed asks a user to set up
SFMC). A case's own path is ``asyncDataExtension`` when it turns batching on, else
``dataExtension``. A rule is

- **met** when its cases pass on their own path with the passthrough mapping,
- **depends on mapping** when they pass only with the fields mapping (the mapping is shown),
- **not met** when they fail under both.
"""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click

from ..cases import Case, load_cases
from ..connectors import make_adapter
from ..report import MARK
from ..rules import ALL_RULES, rule_order
from ..runner import PASSED, CaseResult, run_case
from ..service import EmulatorClient
from . import HERE, ensure_installed, proxied_emulator

SPECS = (
    "segment-actions:dataExtension",
    "segment-actions:dataExtension:fields",
    "segment-actions:asyncDataExtension",
    "segment-actions:asyncDataExtension:fields",
)
EXPECTED = HERE / "expected.json"
MET, DEPENDS, NOT_MET = "met", "depends on mapping", "not met"
# Rules that a Segment user's subscriptions and field mappings decide (the others are the code's own:
# authentication, retries, rate limits, batching mechanics, error reporting).
MAPPING_RULES = frozenset(
    {
        *(f"ID-{i}" for i in range(1, 7)),
        *(f"FMT-{i}" for i in range(1, 6)),
        *(f"TR-{i}" for i in range(1, 6)),
        "CTX-1",
        "CTX-2",
        "API-1",
        "BAT-2",
        *(f"PER-{i}" for i in range(1, 6)),
    }
)


def own_action(case: Case) -> str:
    batching = bool((case.settings.get("batching") or {}).get("enabled"))
    return "asyncDataExtension" if batching else "dataExtension"


def run_specs(
    client: EmulatorClient, proxy_env: dict, cases: list[Case], specs=SPECS, jobs: int = 4
) -> dict[str, dict[str, CaseResult]]:
    out: dict[str, dict[str, CaseResult]] = {}
    for spec in specs:
        adapter = make_adapter(spec)
        adapter.proxy_env = proxy_env
        with ThreadPoolExecutor(jobs) as pool:
            results = list(pool.map(lambda case, a=adapter: run_case(case, a, client), cases))
        out[spec] = {r.case.id: r for r in results}
    return out


def case_outcome(case: Case, runs: dict[str, dict[str, CaseResult]]) -> tuple[str, str]:
    """("defaults" | "fields" | "neither", the spec shown) for one case on its own path."""
    action = own_action(case)
    plain, fields = f"segment-actions:{action}", f"segment-actions:{action}:fields"
    if runs[plain][case.id].status == PASSED:
        return "defaults", plain
    if runs[fields][case.id].status == PASSED:
        return "fields", fields
    return "neither", fields  # shown with the field-by-field mapping: the failure is then the rule's own


def verdict(rule: str, outcome: str) -> str:
    if outcome == "defaults":
        return MET
    if outcome == "fields":
        # a transport rule (tokens, retries, limits) whose case needs the mapping only for its row checks
        return DEPENDS if rule in MAPPING_RULES else MET
    return NOT_MET


def rule_verdicts(cases: list[Case], runs) -> dict[str, str]:
    order = {MET: 0, DEPENDS: 1, NOT_MET: 2}
    worst: dict[str, str] = {}
    for case in cases:
        outcome, _ = case_outcome(case, runs)
        for rule in case.rules:
            found = verdict(rule, outcome)
            if rule not in worst or order[found] > order[worst[rule]]:
                worst[rule] = found
    return dict(sorted(worst.items(), key=lambda item: rule_order(item[0])))


def statuses(runs) -> dict[str, dict[str, str]]:
    return {spec: {case_id: r.status for case_id, r in sorted(results.items())} for spec, results in runs.items()}


def _code(text: str, limit: int = 700) -> str:
    text = " ".join(text.split())
    text = text if len(text) <= limit else text[: limit - 3] + "..."
    return text.replace("`", "'")


def _sent(result: CaseResult) -> list[str]:
    lines = []
    for request in result.requests:
        if request["path"].startswith("/v2/token"):
            body = "(client credentials)"
        else:
            body = _code(request["request_body"] or "", 300)
        answer = _code(request["response_body"] or "", 160)
        fault = f" (injected: {request['fault']})" if request.get("fault") else ""
        ignored = f"; ignored keys: {', '.join(request['keys_ignored'])}" if request.get("keys_ignored") else ""
        lines.append(
            f"  - `{request['method']} {request['path']}` {body} → **{request['status']}**{fault} {answer}{ignored}"
        )
    return lines or ["  - (no request reached the emulator)"]


def _mapping(result: CaseResult) -> str:
    subs = [
        {k: v for k, v in sub.items() if k in ("partnerAction", "subscribe", "mapping", "select_data_extension")}
        for sub in result.result.get("mapping") or []
    ]
    return json.dumps(subs, indent=1, ensure_ascii=False)


def markdown(cases: list[Case], runs, command: str) -> str:
    verdicts = rule_verdicts(cases, runs)
    counts = {v: sum(1 for x in verdicts.values() if x == v) for v in (MET, DEPENDS, NOT_MET)}
    lines = [
        "# Segment's own SFMC destination against the seed's rules",
        "",
        "Generated by `" + command + "` (do not edit by hand). It runs the published npm package",
        "`@segment/action-destinations` (the *Salesforce Marketing Cloud (Actions)* destination), unchanged,",
        "through `conformance/segment_actions/run.js`: the case's events go through the destination's own",
        "entry points (`Destination.onEvent`/`onBatch` of `@segment/actions-core`), so its subscription filter,",
        "mapping kit, schema validation, `perform`/`performBatch` and OAuth refresh all run as at Segment. The",
        "code builds `https://{subdomain}.auth|rest.marketingcloudapis.com` itself; every request reached the",
        "emulator through its forward proxy (`HTTPS_PROXY`, the local CA in `NODE_EXTRA_CA_CERTS`).",
        "",
        "The destination is mapping-driven: a user subscribes actions to events and maps fields. Each case",
        "runs under two mappings made from the case's settings (see `conformance/segment_actions/__init__.py`):",
        "`passthrough` (whole `traits`/`properties` objects, Contact Key `$.userId`: the actions' defaults) and",
        "`fields` (one Title-Cased column per flat field, Contact Key = userId or email with colons removed",
        "by `@replace`, identifies with neither left out by the subscription filter, and with batching on no",
        "contact/API-event subscriptions). A rule is **met** when its cases pass with `passthrough`;",
        "**depends on mapping** when a rule that subscriptions and mappings decide (identify, formatting,",
        "track, context, API events, Personas) passes only with `fields`; **not met** when neither passes.",
        "A rule about the code itself (tokens, retries, limits, batching, error reports) whose case needs the",
        "field mapping only for its row checks counts as met. Cases that turn batching on use",
        "`asyncDataExtension`, the others `dataExtension`.",
        "",
        "What to know when reading the cases:",
        "",
        "- Retries (429 Retry-After, 5xx, 10006, dropped connections) belong to Segment's delivery platform,",
        "  which is not published: the destination code makes one attempt per event (two when the first is a",
        "  401) and reports the failure, so the retry rules are reported as not met *by the published code*.",
        "- Each run starts without a token, as Segment's platform does for an OAuth destination: the first call",
        "  is answered 401, the destination's `refreshAccessToken` gets a token from `/v2/token` and the call",
        "  is made again. A token that is revoked right after it is issued (`sfmc-token-expires-mid-run`) is",
        "  therefore not renewed a second time: the event is reported lost.",
        "- A row whose `values` name no existing column is refused by SFMC (400, errorcode 10006). Segment's",
        "  `dataExtension` action sends `values: {}` for an event that carries only key fields, so such events",
        "  are refused whatever the mapping (e.g. `tr-6-track-through-data-events-api`).",
        "",
        f"Summary: {counts[MET]} rule(s) met, {counts[DEPENDS]} depend on mapping, {counts[NOT_MET]} not met.",
        "",
        "| Rule | Verdict | Seed text |",
        "| --- | --- | --- |",
    ]
    for rule, verdict in verdicts.items():
        info = ALL_RULES.get(rule)
        lines.append(f"| {rule} | {verdict} | {info.text if info else ''} |")
    lines += [
        "",
        "## Every case under every configuration",
        "",
        "| Case | Rules | " + " | ".join(spec.removeprefix("segment-actions:") for spec in runs) + " |",
        "| --- | --- | " + " | ".join("---" for _ in runs) + " |",
    ]
    for case in cases:
        cells = [MARK[runs[spec][case.id].status] for spec in runs]
        lines.append(f"| {case.id} | {', '.join(case.rules)} | " + " | ".join(cells) + " |")
    lines += ["", "## Cases, what was sent and what the emulator did", ""]
    for case in sorted(cases, key=lambda c: (rule_order(c.rules[0]), c.id)):
        outcome, spec = case_outcome(case, runs)
        result = runs[spec][case.id]
        summary = {"defaults": "passes with the defaults", "fields": "passes with the field mapping"}
        lines += [
            f"### {case.id} ({', '.join(case.rules)}): {summary.get(outcome, 'fails under both mappings')}",
            "",
            f"{case.title}. Case: `conformance/cases/{case.source}`; shown: `{spec}` ({MARK[result.status]}).",
            "",
            "Events: `" + _code(json.dumps(case.events, ensure_ascii=False), 600) + "`",
            "",
            "Mapping used:",
            "",
            "```json",
            _mapping(result),
            "```",
            "",
            "Sent, and the emulator's answers:",
            "",
            *_sent(result),
            "",
        ]
        reported = {k: v for k, v in result.result.items() if k in ("delivered", "rejected", "filtered")}
        lines.append("The destination reported: `" + _code(json.dumps(reported, ensure_ascii=False), 400) + "`")
        lines.append("")
        if result.reason:
            lines += [f"Not run: {result.reason}", ""]
        for failure in result.failures:
            lines.append(f"- {failure.message}")
        if result.failures:
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


@click.command()
@click.option("--write", "write_path", type=click.Path(dir_okay=False), help="Write the Markdown report here.")
@click.option("--expected", "expected_path", type=click.Path(dir_okay=False), help="Write the statuses per case here.")
@click.option("-k", "pattern", help="Only cases whose id, rule or title contains PATTERN.")
@click.option("--jobs", "-j", default=4, show_default=True, type=click.IntRange(1, 16))
@click.option(
    "--emulator",
    "emulator_url",
    help="A running emulator whose proxy HTTPS_PROXY and NODE_EXTRA_CA_CERTS name; default: start one.",
)
def main(write_path, expected_path, pattern, jobs, emulator_url):
    """Run the case library against Segment's published destination and report rule by rule."""
    ensure_installed()
    cases = load_cases(None, pattern)
    with proxied_emulator(emulator_url) as (client, proxy_env):
        runs = run_specs(client, proxy_env, cases, jobs=jobs)
    command = "python -m conformance.segment_actions.report --write docs/conformance-segment.md"
    text = markdown(cases, runs, command)
    if write_path:
        Path(write_path).write_text(text, encoding="utf-8")
        click.echo(f"wrote {write_path}", err=True)
    else:
        click.echo(text)
    if expected_path:
        Path(expected_path).write_text(json.dumps(statuses(runs), indent=1) + "\n", encoding="utf-8")
        click.echo(f"wrote {expected_path}", err=True)
    for rule, verdict in rule_verdicts(cases, runs).items():
        click.echo(f"{rule:<22} {verdict}", err=True)


if __name__ == "__main__":
    sys.exit(main())
