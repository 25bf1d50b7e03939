"""The connector under a fault mix: every event delivered exactly once as a row, or rejected with a reason.

    python -m loadtests.fault_mix                 # 20,000 events (FAULT_MIX_EVENTS to change)

One emulator process (``sfmc-emulator serve``), one tenant with five UUID-keyed Data Extensions
(``Mix 0`` .. ``Mix 4`` conversion events, ``uuid_primary_key``), batching on. The connector runs
as ``sfmc-connector send`` processes over one outbox. Faults, all from the emulator's own rules:

* stalled jobs: every async job into ``mix-4`` (one DE in five, so one job in five) stays Pending
  for the first FAULT_MIX_STALL_SECONDS (default 30) of the run; the connector abandons them at
  ``job_deadline`` (10 s, counted from submission) and sends their rows again;
* deadlocks: one async job in ten fails every row with SFMC's "... Rerun the transaction." (about
  10% of the rows, seeded);
* 429 storms: two windows in which 40% of the REST calls answer 429 with a Retry-After;
* a revoked token: every token issued so far is revoked once the first deliveries landed;
* kill -9: the first ``send`` is killed (SIGKILL) once a quarter of the events are settled; the
  next ``send`` resumes from the outbox.

One event in a hundred carries a value its Number column refuses, so "rejected with a reason" is
exercised too. At the end the script reads every row of the five DEs and the outbox, and counts:
rows per UUID (a duplicate would be a UUID twice across the DEs), events with neither a row nor
a reason (lost), rows for rejected events. The same events without faults, through the same
connector, are the baseline; the ratio of the two wall times is printed. Exit status 0 only when
nothing is lost or duplicated.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import requests
import yaml

from .common import REPO, child_env, credentials, ensure_tenant, env_float, env_int, running, start_emulator

DES = [f"mix-{i}" for i in range(5)]
STALLED_DE = "mix-4"
# counted from submission, so it includes the time a job waits in SFMC's queue behind the others
JOB_DEADLINE = 10.0
FIELDS = [
    {"name": "Uuid", "type": "Text", "length": 64, "isPrimaryKey": True},
    {"name": "Contact Key", "type": "Text", "length": 254},
    {"name": "Label", "type": "Text"},
    {"name": "Quantity", "type": "Number"},
]


def events(count: int) -> list[dict]:
    out = []
    for i in range(count):
        quantity: object = "not a number" if i % 100 == 99 else i % 7
        out.append(
            {
                "type": "track",
                "event": f"Mix {i % 5}",
                "userId": f"user-{i % 997}",
                "messageId": str(uuid.UUID(int=i + 1)),
                "properties": {"label": f"item {i}", "quantity": quantity},
            }
        )
    return out


def tenant(emulator_url: str, name: str) -> dict:
    return ensure_tenant(
        emulator_url,
        name,
        {"rate_limit": 40, "burst": 40, "async_pickup_delay": 0.2},
        [{"key": key, "name": f"Mix {i}", "fields": FIELDS} for i, key in enumerate(DES)],
    )


def settings_file(workdir: Path, emulator_url: str, tenant_body: dict, *, faults: bool) -> Path:
    client_id, client_secret = credentials(tenant_body)
    settings = {
        "client_id": client_id,
        "client_secret": client_secret,
        "subdomain": tenant_body["subdomain"],
        "auth_base_url": emulator_url,
        "do_not_create_contacts": True,
        "conversion_events": [
            {"event": f"Mix {i}", "de_key": key, "uuid_primary_key": True} for i, key in enumerate(DES)
        ],
        "batching": {"enabled": True, "max_items": 500, "poll_interval": 0.25, "job_deadline": JOB_DEADLINE},
        "rate_limit": 30,
        "max_retries": 10,
        "max_retry_after": 5,
        "max_backoff": 8,
        "transient_retries": 10,
        "retry_delay": 1.0,
        "outbox_path": str(workdir / f"outbox-{'faults' if faults else 'baseline'}.sqlite3"),
    }
    path = workdir / f"settings-{'faults' if faults else 'baseline'}.yaml"
    path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    return path


def send(settings: Path, events_file: Path, summary: Path) -> subprocess.Popen:
    env = {k: v for k, v in child_env().items() if not k.startswith("SFMC_")}
    cmd = [sys.executable, "-m", "connector", "send", str(events_file), "--settings", str(settings), "--no-progress"]
    return subprocess.Popen(
        [*cmd, "--summary-json", str(summary)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def outbox_counts(path: str) -> Counter:
    if not Path(path).exists():
        return Counter()
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return Counter(dict(db.execute("SELECT status, count(*) FROM events GROUP BY status").fetchall()))
    except sqlite3.Error:
        return Counter()
    finally:
        db.close()


def add_faults(emulator_url: str, tenant_id: str, stall_seconds: float) -> None:
    rules = [
        {"id": "stall-one-de-in-five", "kind": "async_stall", "data_extension": STALLED_DE, "until": stall_seconds},
        {"id": "deadlock-10pct", "kind": "async_fail_rows", "probability": 0.1, "seed": 7},
        {
            "id": "storm-1",
            "kind": "blocked",
            "path": "/data/v1/*",
            "probability": 0.4,
            "seed": 11,
            "retry_after": 1,
            "after": 4,
            "until": 10,
        },
        {
            "id": "storm-2",
            "kind": "blocked",
            "path": "/data/v1/*",
            "probability": 0.4,
            "seed": 13,
            "retry_after": 2,
            "after": 25,
            "until": 31,
        },
    ]
    response = requests.post(
        f"{emulator_url}/_emulator/faults", json=[{**rule, "tenant": tenant_id} for rule in rules], timeout=30
    )
    response.raise_for_status()


def revoke_tokens(emulator_url: str, tenant_id: str) -> None:
    rule = {"id": "revoke-once", "kind": "revoke_tokens", "tenant": tenant_id, "times": 1}
    requests.post(f"{emulator_url}/_emulator/faults", json=rule, timeout=30).raise_for_status()


def all_rows(emulator_url: str, tenant_id: str) -> list[dict]:
    rows: list[dict] = []
    for key in DES:
        page = 1
        while True:
            response = requests.get(
                f"{emulator_url}/_emulator/tenants/{tenant_id}/data-extensions/{key}/rows",
                params={"page": page, "page_size": 10000},
                timeout=60,
            )
            response.raise_for_status()
            items = response.json()["items"]
            rows.extend(items)
            if len(items) < 10000:
                break
            page += 1
    return rows


def run(emulator_url: str, workdir: Path, evts: list[dict], *, faults: bool, stall_seconds: float) -> dict:
    name = f"fault-mix-{'faults' if faults else 'baseline'}-{uuid.uuid4().hex[:6]}"
    body = tenant(emulator_url, name)
    settings = settings_file(workdir, emulator_url, body, faults=faults)
    outbox = str(workdir / f"outbox-{'faults' if faults else 'baseline'}.sqlite3")
    events_file = workdir / "events.ndjson"
    events_file.write_text("\n".join(json.dumps(e) for e in evts) + "\n", encoding="utf-8")
    if faults:
        add_faults(emulator_url, body["id"], stall_seconds)
    started = time.monotonic()
    runs, killed, revoked = 0, False, False
    summary = workdir / "summary.json"
    while True:
        runs += 1
        proc = send(settings, events_file, summary)
        while proc.poll() is None:
            time.sleep(0.2)
            if not faults:
                continue
            settled = sum(n for status, n in outbox_counts(outbox).items() if status != "pending")
            if not revoked and settled >= len(evts) // 10:
                revoke_tokens(emulator_url, body["id"])
                revoked = True
            if not killed and settled >= len(evts) // 4:
                os.kill(proc.pid, signal.SIGKILL)  # the connector process this loop started
                proc.wait()
                killed = True
        counts = outbox_counts(outbox)
        if proc.returncode == 0 and counts["pending"] == 0:
            break
        if runs >= 10:
            break
    elapsed = time.monotonic() - started
    rows = all_rows(emulator_url, body["id"])
    db = sqlite3.connect(f"file:{outbox}?mode=ro", uri=True)
    outcome = {
        mid: (status, code) for mid, status, code in db.execute("SELECT message_id, status, reason_code FROM events")
    }
    retried = Counter(dict(db.execute("SELECT status, count(*) FROM events WHERE retries > 0 GROUP BY 1")))
    db.close()
    jobs = requests.get(
        f"{emulator_url}/_emulator/tenants/{body['id']}/async-jobs", params={"limit": 100000}, timeout=60
    ).json()["items"]
    counted = requests.post(
        f"{emulator_url}/_emulator/journal/count", json={"tenant": body["id"], "status": 429}, timeout=60
    ).json()["count"]
    # a refused token names no tenant in the journal; the baseline tenant never sees a 401, so count them all
    unauthorized = requests.post(f"{emulator_url}/_emulator/journal/count", json={"status": 401}, timeout=60).json()[
        "count"
    ]
    per_uuid = Counter(str(r.get("Uuid")) for r in rows)
    sent = {e["messageId"] for e in evts}
    duplicated = sum(1 for n in per_uuid.values() if n > 1)
    delivered = {m for m, (s, _) in outcome.items() if s == "delivered"}
    rejected = {m for m, (s, _) in outcome.items() if s == "rejected"}
    lost = [m for m in sent if not (m in delivered and per_uuid[m] == 1) and m not in rejected]
    delivered_without_row = [m for m in delivered if per_uuid[m] != 1]
    rejected_with_row = [m for m in rejected if per_uuid[m]]
    return {
        "mode": "fault mix" if faults else "baseline (no faults)",
        "events": len(evts),
        "seconds": round(elapsed, 1),
        "connector_runs": runs,
        "killed": killed,
        "token_revoked": revoked,
        "rows": len(rows),
        "delivered": len(delivered),
        "rejected": dict(Counter(code for m, (s, code) in outcome.items() if s == "rejected")),
        "pending": sum(1 for s, _ in outcome.values() if s == "pending"),
        "events_sent_again_after_transient_failure (by final status)": dict(retried),
        "async_jobs": len(jobs),
        "async_jobs_stalled_past_job_deadline": sum(1 for j in jobs if _stalled(j)),
        "async_jobs_with_every_row_deadlocked": sum(
            1 for j in jobs if j.get("failed_count") and j.get("failed_count") == j.get("item_count")
        ),
        "answers_429": counted,
        "answers_401": unauthorized,
        "lost": len(lost),
        "duplicated_uuids": duplicated,
        "delivered_without_row": len(delivered_without_row),
        "rejected_with_row": len(rejected_with_row),
        "unknown_rows": sum(1 for u in per_uuid if u not in sent),
    }


def _stalled(job: dict) -> bool:
    """A job that stayed unfinished longer than the connector's job_deadline after it was called."""
    end = job.get("completed_at") or time.time()
    return end - job["called_at"] > JOB_DEADLINE


def _print(result: dict) -> None:
    print(
        f"\n== {result['mode']}: {result['events']:,} events in {result['seconds']} s, "
        f"{result['connector_runs']} connector run(s)"
    )
    for key, value in result.items():
        if key not in ("mode", "events", "seconds", "connector_runs"):
            print(f"  {key:<60} {value}")


def main() -> int:
    count = env_int("FAULT_MIX_EVENTS", 20_000)
    stall_seconds = env_float("FAULT_MIX_STALL_SECONDS", 30.0)
    evts = events(count)
    with tempfile.TemporaryDirectory(prefix="fault-mix-") as tmp:
        workdir = Path(tmp)
        emulator = start_emulator(workdir, threads=8)
        with running(emulator):
            baseline = run(emulator.url, workdir, evts, faults=False, stall_seconds=stall_seconds)
            _print(baseline)
            mixed = run(emulator.url, workdir, evts, faults=True, stall_seconds=stall_seconds)
            _print(mixed)
    ratio = mixed["seconds"] / baseline["seconds"] if baseline["seconds"] else float("nan")
    print(
        f"\nwall time under the fault mix: {ratio:.2f}x the baseline ({mixed['seconds']} s vs {baseline['seconds']} s)"
    )
    ok = all(
        result["lost"] == 0
        and result["duplicated_uuids"] == 0
        and result["pending"] == 0
        and result["delivered_without_row"] == 0
        and result["rejected_with_row"] == 0
        for result in (baseline, mixed)
    )
    print("every event delivered exactly once as a row or rejected with a reason:", "yes" if ok else "NO")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
