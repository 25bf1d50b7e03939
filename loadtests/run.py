"""``python -m loadtests.run SCENARIO``: one command from nothing to a load-test report.

Starts ``sfmc-emulator serve`` on a free port with a temporary database, runs the scenario's
locustfile headless (locally, or as a master and N workers), and writes into
``reports/<scenario>-<timestamp>/``:

* ``summary.json``: totals, rates, p50/p95/p99, per-tenant throttle checks, probe notes;
* ``per_second.csv``: offered, accepted (2xx), 429 and other answers, latency percentiles, per second;
* ``throughput.png`` (with the rate limit drawn) and ``latency.png``;
* locust's own ``locust_stats.csv`` / ``locust_stats_history.csv`` and logs, and the raw samples.
"""

from __future__ import annotations

import csv
import json
import tempfile
import time
import uuid
from pathlib import Path

import click

from . import analysis, plots
from .common import REPO, running, start_emulator
from .harness import run_locust

HERE = Path(__file__).resolve().parent
# scenario -> (locustfile, driven by a LoadTestShape, default seconds, default users, extra emulator args)
SCENARIOS = {
    "mix": ("locustfile_mix.py", False, 30, 10),
    "throttle": ("locustfile_throttle.py", True, 60, None),
    "multitenant": ("locustfile_multitenant.py", True, 30, None),
}


def execute(scenario: str, *, seconds: float | None = None, users: int | None = None, out: Path | None = None,
            workers: int = 0, env: dict | None = None, echo=click.echo) -> dict:
    """Run one scenario end to end; returns the summary (also written to ``out/summary.json``)."""
    filename, shape, default_seconds, default_users = SCENARIOS[scenario]
    seconds = seconds or default_seconds
    users = users or default_users
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = Path(out) if out else REPO / "reports" / f"{scenario}-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    run_id = f"{stamp}-{uuid.uuid4().hex[:6]}"
    extra = {"LOADTEST_RUN_ID": run_id, **(env or {})}
    if shape and users:
        extra["LOADTEST_USERS" if scenario == "multitenant" else "LOADTEST_MAX_RPS"] = users
    with tempfile.TemporaryDirectory(prefix="loadtest-") as tmp, running(start_emulator(Path(tmp))) as (emulator,):
        echo(f"emulator at {emulator.url}; running {scenario} for {seconds:g} s"
             + (f" with {users} users" if users and not shape else "")
             + (f" on {workers} worker process(es)" if workers else "") + " ...")
        started = time.time()
        run = run_locust(HERE / filename, emulator.url, out, seconds=seconds, users=users, shape=shape,
                         workers=workers, env=extra)
        wall = time.time() - started
    samples = analysis.load_samples(run.samples_dir)
    notes = analysis.load_notes(run.samples_dir)
    if not samples:
        logs = "\n".join(p.read_text()[-3000:] for p in run.logs)
        raise click.ClickException(f"the {scenario} run recorded no requests (locust exit {run.returncodes}):\n{logs}")
    t0 = samples[0].start
    rows = analysis.per_second(samples, t0)
    limit_note = notes.get("rate_limit", {})
    limit, burst = float(limit_note.get("limit") or 0), float(limit_note.get("burst") or 0)
    tenants = analysis.by_group(samples)
    per_tenant_rows = {name: analysis.per_second(group, t0) for name, group in tenants.items()}
    summary = {
        "scenario": scenario,
        "tool": "locust FastHttpUser (geventhttpclient, keep-alive), headless",
        "locust_processes": {"workers": workers, "master": bool(workers)},
        "users": None if shape else users,
        "seconds": seconds,
        "wall_seconds": round(wall, 1),
        "locust_exit_codes": run.returncodes,
        "command": run.command,
        "notes": notes,
        "total": analysis.summarize(samples),
        "tenants": {},
    }
    for name, group in tenants.items():
        entry = analysis.summarize(group)
        if limit:
            entry["throttle_check"] = analysis.throttle_check(group, limit, burst)
        summary["tenants"][name] = entry
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    _write_per_second(out / "per_second.csv", rows, per_tenant_rows)
    title = f"{scenario}: {len(samples)} requests, locust FastHttpUser" + (f", {workers} workers" if workers else "")
    plots.throughput(rows, out / "throughput.png", title, limit=limit or None,
                     per_tenant=per_tenant_rows if scenario == "multitenant" else None)
    plots.latency(rows, out / "latency.png", f"{scenario}: latency per second (all answers)")
    _print_summary(summary, out, echo)
    return summary


def _write_per_second(path: Path, rows: list[dict], per_tenant: dict[str, list[dict]]) -> None:
    columns = ["second", "offered", "accepted", "throttled", "other", "p50_ms", "p95_ms", "p99_ms"]
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["tenant", *columns])
        for r in rows:
            writer.writerow(["(all)", *(r[c] for c in columns)])
        if len(per_tenant) > 1:
            for name, tenant_rows in per_tenant.items():
                for r in tenant_rows:
                    writer.writerow([name, *(r[c] for c in columns)])


def _print_summary(summary: dict, out: Path, echo) -> None:
    total = summary["total"]
    ms = analysis.fmt_ms
    who = f"{summary['users']} users" if summary["users"] else "users set by the scenario's load shape"
    echo(f"\n{summary['scenario']}: {summary['tool']}, {who}"
         + (f", {summary['locust_processes']['workers']} worker processes" if summary["locust_processes"]["workers"]
            else ", one locust process"))
    echo(f"  {total['requests']} requests in {total['duration_s']:.1f} s = {total['req_per_s']:.1f} req/s; "
         f"{total['accepted']} accepted (2xx, {total['accepted_per_s']:.1f}/s), {total['throttled']} x 429, "
         f"{total['other']} other; statuses {total['statuses']}")
    echo(f"  latency p50 {ms(total['p50_ms'])}, p95 {ms(total['p95_ms'])}, p99 {ms(total['p99_ms'])}"
         + (f"; 429 answers p99 {ms(total['throttled_latency']['p99_ms'])}" if total["throttled"] else ""))
    for name, counts in total["by_name"].items():
        echo(f"    {name:<16} {counts['requests']:>7} requests, {counts['accepted']:>7} 2xx, "
             f"p50 {ms(counts['p50_ms'])}, p99 {ms(counts['p99_ms'])}")
    for name, tenant in summary["tenants"].items():
        check = tenant.get("throttle_check")
        if not check:
            continue
        worst = max(check["windows"], key=lambda w: w["max_accepted"] / w["bound"])
        echo(f"  tenant {name}: {tenant['accepted']} accepted = {tenant['accepted_per_s']:.1f}/s at a limit of "
             f"{check['limit']:g}/s (burst {check['burst']:g}); {tenant['throttled']} x 429; busiest "
             f"{worst['seconds']:g} s window {worst['max_accepted']} <= {worst['bound']:g}: "
             f"{'ok' if check['ok'] else 'EXCEEDED'}")
    for route, state in summary["notes"].get("routes", {}).items():
        echo(f"  route {route}: {state}")
    echo(f"  report: {out} (summary.json, per_second.csv, throughput.png, latency.png)")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("scenario", type=click.Choice(sorted(SCENARIOS)))
@click.option("--seconds", type=click.FloatRange(min=1), help="Run length (default: 30; throttle ramps for 60).")
@click.option("--users", type=click.IntRange(min=1),
              help="Concurrent users (mix); peak offered req/s (throttle); total offered req/s "
                   "(multitenant).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Report folder (default: reports/<scenario>-<timestamp>/).")
@click.option("--workers", default=0, show_default=True, type=click.IntRange(min=0),
              help="Run locust distributed: a master and this many worker processes (0: one local process).")
def main(scenario, seconds, users, out, workers):
    """Run a load-test SCENARIO headless against an emulator started for it, and write a report.

    \b
    Scenarios:
      mix          an SFMC client mix (tokens, rowsets, PUTs, async, API events, contacts, reads)
      throttle     one tenant at 20 req/s, offered load ramping 5 -> 200 req/s
      multitenant  several tenants, each with its own 20 req/s, each offered twice that
    """
    execute(scenario, seconds=seconds, users=users, out=out, workers=workers)


if __name__ == "__main__":
    main()
