"""Reports of a run: readable text grouped by rule, JUnit XML for CI, JSON for tools."""

from __future__ import annotations

import json
from collections import defaultdict
from xml.etree import ElementTree as ET

from .rules import ALL_RULES, rule_order
from .runner import ERROR, FAILED, PASSED, WAITING, CaseResult

MARK = {PASSED: "PASS", FAILED: "FAIL", ERROR: "ERROR", WAITING: "WAIT"}


def by_rule(results: list[CaseResult]) -> dict[str, list[CaseResult]]:
    grouped: dict[str, list[CaseResult]] = defaultdict(list)
    for result in results:
        for rule in result.case.rules:
            grouped[rule].append(result)
    return dict(sorted(grouped.items(), key=lambda item: rule_order(item[0])))


def _short(value, limit: int = 400) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 3] + "..."


def text_report(results: list[CaseResult], connector: str, verbose: bool = False) -> str:
    lines = [f"SFMC conformance of {connector}", ""]
    for rule, rule_results in by_rule(results).items():
        info = ALL_RULES.get(rule)
        worst = (
            "FAIL"
            if any(r.status == FAILED for r in rule_results)
            else "ERROR"
            if any(r.status == ERROR for r in rule_results)
            else "WAIT"
            if any(r.status == WAITING for r in rule_results)
            else "PASS"
        )
        lines.append(f"{worst:<5} {rule}  {info.text if info else ''}")
        for result in rule_results:
            lines.append(f"      {MARK[result.status]:<5} {result.case.id}  ({result.duration:.1f}s)")
    problems = [r for r in results if r.status != PASSED]
    if problems:
        lines += ["", "Details", "-------"]
    for result in problems:
        lines.append(
            f"\n{MARK[result.status]} {result.case.id} [{', '.join(result.case.rules)}] "
            f"{result.case.title}\n  case: {result.case.source}"
        )
        if result.reason:
            lines.append(f"  {result.reason}")
        involved: set[int] = set()
        for failure in result.failures:
            lines.append(f"  - {failure.message}")
            if failure.expected not in (None, [], {}) and failure.check.startswith(("rows", "journey", "fields")):
                lines.append(f"      expected: {_short(failure.expected)}")
                lines.append(f"      actual:   {_short(failure.actual)}")
            involved.update(failure.requests)
        if result.result.get("error"):
            lines.append(f"  connector said: {_short(result.result['error'])}")
        report_keys = {
            k: result.result[k] for k in ("delivered", "rejected", "dropped", "pending") if k in result.result
        }
        if report_keys:
            lines.append(f"  connector report: {_short(report_keys)}")
        shown = [r for r in result.requests if r["id"] in involved] or result.requests
        if shown:
            lines.append("  requests (from the emulator's journal):")
            for entry in shown[:15]:
                fault = f" [fault {entry['fault']}]" if entry.get("fault") else ""
                lines.append(f"    #{entry['id']} {entry['method']} {entry['path']} -> {entry['status']}{fault}")
                if entry["request_body"] and (verbose or entry["id"] in involved):
                    lines.append(f"        sent: {_short(entry['request_body'], 300)}")
                if entry["rules_broken"]:
                    lines.append(f"        refused: {_short(entry['rules_broken'], 300)}")
            if len(shown) > 15:
                lines.append(f"    ... {len(shown) - 15} more")
    counts = defaultdict(int)
    for result in results:
        counts[result.status] += 1
    lines += [
        "",
        f"{len(results)} case(s): {counts[PASSED]} passed, {counts[FAILED]} failed, "
        f"{counts[ERROR]} errors, {counts[WAITING]} waiting for the emulator",
    ]
    failed_rules = sorted({rule for r in results for rule in r.failed_rules}, key=rule_order)
    if failed_rules:
        lines.append(f"rules broken: {', '.join(failed_rules)}")
    waiting = sorted({r.reason for r in results if r.status == WAITING})
    for reason in waiting:
        lines.append(f"waiting: {reason}")
    return "\n".join(lines)


def junit_xml(results: list[CaseResult], connector: str) -> str:
    suite = ET.Element(
        "testsuite",
        name=f"sfmc-conformance {connector}",
        tests=str(len(results)),
        failures=str(sum(r.status == FAILED for r in results)),
        errors=str(sum(r.status == ERROR for r in results)),
        skipped=str(sum(r.status == WAITING for r in results)),
        time=f"{sum(r.duration for r in results):.3f}",
    )
    for result in results:
        case = ET.SubElement(
            suite, "testcase", classname=" ".join(result.case.rules), name=result.case.id, time=f"{result.duration:.3f}"
        )
        ET.SubElement(case, "properties").extend(
            [ET.Element("property", name="rule", value=rule) for rule in result.case.rules]
        )
        if result.status == FAILED:
            node = ET.SubElement(case, "failure", message="; ".join(f.message for f in result.failures)[:1000])
            node.text = text_report([result], connector)
        elif result.status == ERROR:
            ET.SubElement(case, "error", message=result.reason[:1000])
        elif result.status == WAITING:
            ET.SubElement(case, "skipped", message=result.reason[:1000])
    return ET.tostring(suite, encoding="unicode")


def json_report(results: list[CaseResult], connector: str) -> str:
    return json.dumps(
        {
            "connector": connector,
            "results": [r.as_dict() for r in results],
            "failed_rules": sorted({rule for r in results for rule in r.failed_rules}, key=rule_order),
        },
        indent=2,
        default=str,
    )
