"""Expectations of a case, checked against what the emulator holds and what its journal recorded.

Every check returns ``Failure`` objects that say what was expected, what was found and, where
it helps, the rows or requests involved. Nothing here knows which connector ran.
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from datetime import datetime

TOKEN_PATHS = ("/v2/token", "/v1/requestToken")
FIXED_NAMES = {"Device-model"}  # the seed's context names used verbatim (CTX-1)
RETRY_AFTER_TOLERANCE = 0.05


@dataclass
class Failure:
    check: str
    message: str
    expected: object = None
    actual: object = None
    requests: list[int] = field(default_factory=list)  # journal entry ids involved

    def as_dict(self) -> dict:
        return {
            "check": self.check,
            "message": self.message,
            "expected": self.expected,
            "actual": self.actual,
            "requests": self.requests,
        }


# -- values and rows ------------------------------------------------------------------------------


def _instant(text: str):
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def same_value(expected, actual) -> bool:
    """The emulator hands every value back as text; compare it the way its column type means it."""
    if expected is None:
        return actual is None or actual == ""
    if actual is None:
        return False
    if isinstance(expected, bool):
        return str(actual).strip().lower() in (("true", "1") if expected else ("false", "0"))
    if isinstance(expected, int | float):
        try:
            return float(actual) == float(expected)
        except (TypeError, ValueError):
            return False
    if isinstance(actual, dict | list):
        return False
    if str(actual) == str(expected):
        return True
    left, right = _instant(str(expected)), _instant(str(actual))
    if left is not None and right is not None and (left.tzinfo is None) == (right.tzinfo is None):
        return left == right
    return False


def row_matches(expected: dict, actual: dict) -> bool:
    folded = {str(k).casefold(): v for k, v in actual.items()}
    return all(same_value(value, folded.get(str(column).casefold())) for column, value in expected.items())


def match_rows(expected: list[dict], actual: list[dict]) -> tuple[list[dict], list[dict]]:
    """(expected rows with no partner, actual rows left over), pairing each actual row once."""
    left = list(actual)
    missing = []
    for row in expected:
        partner = next((i for i, candidate in enumerate(left) if row_matches(row, candidate)), None)
        if partner is None:
            missing.append(row)
        else:
            left.pop(partner)
    return missing, left


def check_rows(name: str, spec: dict, actual: list[dict] | None) -> list[Failure]:
    if actual is None:
        return [Failure(name, f"{name}: the data extension does not exist")]
    mode, expected = next(iter(spec.items()))
    missing, extra = match_rows(expected, actual)
    problems = []
    if missing:
        problems.append(f"{len(missing)} expected row(s) not found")
    if mode == "exact" and extra:
        problems.append(f"{len(extra)} unexpected row(s)")
    if not problems:
        return []
    return [
        Failure(
            name,
            f"{name} ({mode}): " + "; ".join(problems),
            expected=missing,
            actual=actual if len(actual) <= 20 else actual[:20],
        )
    ]


def check_keys(name: str, spec: dict, actual: list[str]) -> list[Failure]:
    mode, expected = next(iter(spec.items()))
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected)) if mode == "exact" else []
    if not missing and not extra:
        return []
    parts = ([f"missing {missing}"] if missing else []) + ([f"unexpected {extra}"] if extra else [])
    return [Failure(name, f"{name} ({mode}): " + "; ".join(parts), expected=expected, actual=sorted(actual))]


def check_fields(de_key: str, wanted: list[dict], definition: dict | None) -> list[Failure]:
    name = f"fields[{de_key}]"
    if definition is None:
        return [Failure(name, f"{name}: the data extension does not exist")]
    fields = definition.get("fields", [])
    missing = [
        w
        for w in wanted
        if not any(all(str(f.get(k)).casefold() == str(v).casefold() for k, v in w.items()) for f in fields)
    ]
    if not missing:
        return []
    return [
        Failure(
            name,
            f"{name}: {len(missing)} field(s) missing or different",
            expected=missing,
            actual=[{k: f.get(k) for k in ("name", "type", "isPrimaryKey", "isNullable")} for f in fields],
        )
    ]


# -- the journal ----------------------------------------------------------------------------------


def is_token_call(entry: dict) -> bool:
    return entry["path"] in TOKEN_PATHS


def _body(entry: dict):
    text = entry.get("request_body")
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def row_payloads(entry: dict) -> list[dict]:
    """The rows a write sent: rowset ``keys``/``values``, a PUT row's ``values``, async ``items``."""
    body = _body(entry)
    path = entry["path"]
    out = []
    if path.startswith("/hub/v1/dataevents") and isinstance(body, list):
        for item in body:
            if isinstance(item, dict):
                out.extend(part for part in (item.get("keys"), item.get("values")) if isinstance(part, dict))
    elif path.startswith("/hub/v1/dataevents") and isinstance(body, dict):
        out.extend(part for part in (body.get("keys"), body.get("values")) if isinstance(part, dict))
    elif path.startswith("/data/v1/async/") and isinstance(body, dict):
        out.extend(item for item in body.get("items") or [] if isinstance(item, dict))
    return out


def _rows_without_values(entry: dict) -> int:
    """Rows of a rowset (or one-row PUT) sent with ``values`` empty or missing."""
    if not entry["path"].startswith("/hub/v1/dataevents"):
        return 0
    body = _body(entry)
    items = body if isinstance(body, list) else [body] if isinstance(body, dict) else []
    return sum(1 for item in items if isinstance(item, dict) and not item.get("values"))


def is_title_case(name: str) -> bool:
    """Each space-separated word starts with an upper-case letter or a digit (design notes); fixed names pass."""
    if name in FIXED_NAMES:
        return True
    words = name.split(" ")
    return all(word and (word[0].isupper() or word[0].isdigit()) for word in words)


def contact_keys_sent(entry: dict) -> list[str]:
    body = _body(entry)
    keys = []
    for row in row_payloads(entry):
        keys.extend(str(v) for k, v in row.items() if str(k).casefold() == "contact key" and v is not None)
    if isinstance(body, dict) and entry["path"].startswith(("/contacts/", "/interaction/")):
        keys.extend(str(v) for k, v in body.items() if k.casefold() == "contactkey" and v is not None)
        for member in body.get("members") or []:
            if isinstance(member, dict) and member.get("contactKey") is not None:
                keys.append(str(member["contactKey"]))
    return keys


def retry_hint(entry: dict, fault_lookup) -> float | None:
    try:
        body = json.loads(entry.get("response_body") or "null")
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("retryAfter"), int | float):
        return float(body["retryAfter"])
    if entry.get("fault"):
        rule = fault_lookup(entry["fault"])
        if rule and rule.get("retry_after") is not None:
            return float(rule["retry_after"])
    return None


def check_traffic(spec: dict, journal: list[dict], fault_lookup) -> list[Failure]:
    failures: list[Failure] = []
    rest = [e for e in journal if not is_token_call(e)]
    writes = [(e, row) for e in rest for row in row_payloads(e)]
    if spec.get("no_429"):
        hits = [e for e in journal if e["status"] == 429]
        if hits:
            failures.append(
                Failure(
                    "traffic.no_429",
                    f"{len(hits)} call(s) answered 429 (RL-1: stay under the account's limit)",
                    requests=[e["id"] for e in hits],
                )
            )
    if "max_requests" in spec and len(rest) > spec["max_requests"]:
        failures.append(
            Failure(
                "traffic.max_requests",
                f"{len(rest)} REST calls (token calls not counted), at most {spec['max_requests']} expected",
                expected=spec["max_requests"],
                actual=len(rest),
                requests=[e["id"] for e in rest][:50],
            )
        )
    if spec.get("title_case_keys_only"):
        bad = sorted({k for _, row in writes for k in row if not is_title_case(str(k))})
        if bad:
            ids = sorted({e["id"] for e, row in writes if any(not is_title_case(str(k)) for k in row)})
            failures.append(
                Failure(
                    "traffic.title_case_keys_only",
                    f"keys not in Title Case were sent: {bad} (FMT-1)",
                    actual=bad,
                    requests=ids,
                )
            )
    if spec.get("no_colon_in_contact_key"):
        bad_entries = [e for e in rest if any(":" in key for key in contact_keys_sent(e))]
        if bad_entries:
            keys = sorted({k for e in bad_entries for k in contact_keys_sent(e) if ":" in k})
            failures.append(
                Failure(
                    "traffic.no_colon_in_contact_key",
                    f"Contact Keys with ':' were sent: {keys} (ID-3)",
                    actual=keys,
                    requests=[e["id"] for e in bad_entries],
                )
            )
    if spec.get("no_nested_values"):
        nested = [(e, k) for e, row in writes for k, v in row.items() if isinstance(v, dict | list)]
        if nested:
            failures.append(
                Failure(
                    "traffic.no_nested_values",
                    f"nested objects/lists were sent as values: {sorted({k for _, k in nested})} (FMT-2)",
                    requests=sorted({e["id"] for e, _ in nested}),
                )
            )
    if spec.get("no_empty_values"):
        empty = [e for e in rest if _rows_without_values(e)]
        if empty:
            failures.append(
                Failure(
                    "traffic.no_empty_values",
                    f"{sum(_rows_without_values(e) for e in empty)} row(s) were sent with empty values; SFMC refuses "
                    "them ('At least one existing field is required in the values property') and, in a rowset, "
                    "every row after them",
                    requests=[e["id"] for e in empty],
                )
            )
    if "ignored_keys_max" in spec:
        ignored = [(e, k) for e in rest for k in e.get("keys_ignored") or []]
        if len(ignored) > spec["ignored_keys_max"]:
            failures.append(
                Failure(
                    "traffic.ignored_keys_max",
                    f"SFMC ignored {len(ignored)} key(s) "
                    f"{sorted({k for _, k in ignored})}, at most {spec['ignored_keys_max']} "
                    "expected (FMT-4)",
                    requests=sorted({e["id"] for e, _ in ignored}),
                )
            )
    if spec.get("retried_after"):
        failures.extend(_check_retry_after(journal, fault_lookup))
    for i, want in enumerate(spec.get("requests") or []):
        hits = [
            e
            for e in journal
            if fnmatch.fnmatchcase(e["path"], want["path"])
            and (not want.get("method") or e["method"] == want["method"].upper())
            and (not want.get("body_contains") or want["body_contains"] in (e.get("request_body") or ""))
        ]
        low, high = want.get("min", 1 if "max" not in want else 0), want.get("max")
        if len(hits) < low or (high is not None and len(hits) > high):
            bounds = f"at least {low}" + (f" and at most {high}" if high is not None else "")
            described = " ".join(x for x in (want.get("method", ""), want["path"]) if x)
            if want.get("body_contains"):
                described += f" with {want['body_contains']!r} in the body"
            failures.append(
                Failure(
                    f"traffic.requests[{i}]",
                    f"{len(hits)} call(s) to {described}; {bounds} expected",
                    expected=want,
                    actual=len(hits),
                    requests=[e["id"] for e in hits][:20],
                )
            )
    return failures


def _check_retry_after(journal: list[dict], fault_lookup) -> list[Failure]:
    hinted = [(e, retry_hint(e, fault_lookup)) for e in journal if e["status"] in (429, 503)]
    hinted = [(e, h) for e, h in hinted if h is not None]
    if not hinted:
        return [
            Failure(
                "traffic.retried_after",
                "no 429/503 with a Retry-After hint reached the connector, so there "
                "was nothing to retry (did it make the call at all?)",
            )
        ]
    failures = []
    for entry, hint in hinted:
        later = [
            e
            for e in journal
            if e["id"] > entry["id"] and e["method"] == entry["method"] and e["path"] == entry["path"]
        ]
        if not later:
            failures.append(
                Failure(
                    "traffic.retried_after",
                    f"{entry['method']} {entry['path']} answered "
                    f"{entry['status']} (Retry-After {hint:g}) and was never retried",
                    requests=[entry["id"]],
                )
            )
            continue
        waited = later[0]["at"] - entry["at"]
        if waited < hint - RETRY_AFTER_TOLERANCE:
            failures.append(
                Failure(
                    "traffic.retried_after",
                    f"{entry['method']} {entry['path']} was retried "
                    f"{waited:.2f}s after a {entry['status']} that asked for {hint:g}s (Retry-After)",
                    expected=hint,
                    actual=round(waited, 3),
                    requests=[entry["id"], later[0]["id"]],
                )
            )
    return failures


def check_not_forwarded(markers: list[str], journal: list[dict]) -> list[Failure]:
    failures = []
    for marker in markers:
        hits = [e for e in journal if marker in (e.get("request_body") or "")]
        if hits:
            failures.append(
                Failure(
                    "not_forwarded",
                    f"{marker!r} must leave no trace, but {len(hits)} call(s) carried it",
                    requests=[e["id"] for e in hits],
                )
            )
    return failures


def count(value) -> int:
    if isinstance(value, dict):
        return sum(int(v) for v in value.values() if isinstance(v, int | float))
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, list):
        return len(value)
    return 0


def check_report(spec: dict, result: dict) -> list[Failure]:
    want = spec.get("undelivered_at_least")
    if want is None or result.get("failed"):
        return []  # a connector that fails loudly has reported the loss
    known = [k for k in ("rejected", "pending", "failed_events") if k in result]
    reported = sum(count(result.get(k)) for k in known)
    if reported >= want:
        return []
    what = (
        f"it reported {reported} ({', '.join(known)})"
        if known
        else "it exited successfully and reported no rejected/pending counts"
    )
    return [
        Failure(
            "report.undelivered_at_least",
            f"at least {want} event(s) could not be delivered and the connector must say so; {what}",
            expected=want,
            actual=reported,
        )
    ]


PLACEHOLDER = re.compile(r"\$\{([a-z_]+)(?:\[(\d+)\])?\}")


def fill(value, values: dict):
    """Replace ``${name}`` / ``${name[i]}`` in every string of a settings/expectation template."""
    if isinstance(value, dict):
        return {fill(k, values): fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, values) for v in value]
    if isinstance(value, str):

        def one(match):
            item = values[match.group(1)]
            return str(item[int(match.group(2))] if match.group(2) is not None else item)

        whole = PLACEHOLDER.fullmatch(value)
        if whole and isinstance(values.get(whole.group(1)), int) and whole.group(2) is None:
            return values[whole.group(1)]
        return PLACEHOLDER.sub(one, value)
    return value
