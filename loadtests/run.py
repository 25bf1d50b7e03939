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
import math
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import click
import requests
import yaml

from emulator.launcher import ServerProcess

from . import analysis, plots
from .common import REPO, credentials, ensure_tenant, running, start_connector, start_emulator
from .harness import run_locust

HERE = Path(__file__).resolve().parent
# scenario -> (locustfile, driven by a LoadTestShape, default seconds, default users, extra emulator args)
SCENARIOS = {
    "mix": ("locustfile_mix.py", False, 30, 10),
    "throttle": ("locustfile_throttle.py", True, 60, None),
    "multitenant": ("locustfile_multitenant.py", True, 30, None),
    "connector": ("locustfile_connector.py", True, 20, None),
}
# the connector report reads every SFMC call of the run back from the journal: keep them all
EMULATOR_ARGS = {"connector": ("--journal-size", "100000")}


def execute(
    scenario: str,
    *,
    seconds: float | None = None,
    users: int | None = None,
    out: Path | None = None,
    workers: int = 0,
    env: dict | None = None,
    echo=click.echo,
) -> dict:
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
        extra["LOADTEST_USERS" if scenario in ("multitenant", "connector") else "LOADTEST_MAX_RPS"] = users
    connector: ConnectorSide | None = None
    with (
        tempfile.TemporaryDirectory(prefix="loadtest-") as tmp,
        running(start_emulator(Path(tmp), *EMULATOR_ARGS.get(scenario, ()))) as (emulator,),
    ):
        host = emulator.url
        if scenario == "connector":
            connector = ConnectorSide.start(emulator.url, Path(tmp), run_id)
            host = connector.server.url
            extra["LOADTEST_WRITE_KEY"] = connector.write_key
            echo(f"connector at {host} (tenant {connector.tenant['id']}, limit {connector.limit:g} req/s)")
        try:
            echo(
                f"emulator at {emulator.url}; running {scenario} for {seconds:g} s"
                + (f" with {users} users" if users and not shape else "")
                + (f" on {workers} worker process(es)" if workers else "")
                + " ..."
            )
            started = time.time()
            run = run_locust(
                HERE / filename, host, out, seconds=seconds, users=users, shape=shape, workers=workers, env=extra
            )
            wall = time.time() - started
            if connector:
                connector.finish(started, out, echo)
        finally:
            if connector:
                connector.server.stop()
    samples = analysis.load_samples(run.samples_dir)
    notes = analysis.load_notes(run.samples_dir)
    if not samples:
        logs = "\n".join(p.read_text()[-3000:] for p in run.logs)
        raise click.ClickException(f"the {scenario} run recorded no requests (locust exit {run.returncodes}):\n{logs}")
    t0 = samples[0].start
    if connector:
        t0 = math.floor(t0)  # whole epoch seconds, so the emulator's per-second traffic lines up with locust's
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
    title = f"{scenario}: {len(samples)} requests, locust FastHttpUser" + (f", {workers} workers" if workers else "")
    if connector:
        batch_events = int(notes.get("offered", {}).get("events_per_batch") or 0)
        summary["connector"] = connector.summary(samples, batch_events)
        rows = connector.per_second(rows, t0, batch_events)
        _write_connector_per_second(out / "per_second.csv", rows)
        _connector_plot(rows, out / "throughput.png", title, connector.limit)
    else:
        _write_per_second(out / "per_second.csv", rows, per_tenant_rows)
        plots.throughput(
            rows,
            out / "throughput.png",
            title,
            limit=limit or None,
            per_tenant=per_tenant_rows if scenario == "multitenant" else None,
        )
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
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
    echo(
        f"\n{summary['scenario']}: {summary['tool']}, {who}"
        + (
            f", {summary['locust_processes']['workers']} worker processes"
            if summary["locust_processes"]["workers"]
            else ", one locust process"
        )
    )
    echo(
        f"  {total['requests']} requests in {total['duration_s']:.1f} s = {total['req_per_s']:.1f} req/s; "
        f"{total['accepted']} accepted (2xx, {total['accepted_per_s']:.1f}/s), {total['throttled']} x 429, "
        f"{total['other']} other; statuses {total['statuses']}"
    )
    echo(
        f"  latency p50 {ms(total['p50_ms'])}, p95 {ms(total['p95_ms'])}, p99 {ms(total['p99_ms'])}"
        + (f"; 429 answers p99 {ms(total['throttled_latency']['p99_ms'])}" if total["throttled"] else "")
    )
    for name, counts in total["by_name"].items():
        echo(
            f"    {name:<16} {counts['requests']:>7} requests, {counts['accepted']:>7} 2xx, "
            f"p50 {ms(counts['p50_ms'])}, p99 {ms(counts['p99_ms'])}"
        )
    for name, tenant in summary["tenants"].items():
        check = tenant.get("throttle_check")
        if not check:
            continue
        worst = max(check["windows"], key=lambda w: w["max_accepted"] / w["bound"])
        echo(
            f"  tenant {name}: {tenant['accepted']} accepted = {tenant['accepted_per_s']:.1f}/s at a limit of "
            f"{check['limit']:g}/s (burst {check['burst']:g}); {tenant['throttled']} x 429; busiest "
            f"{worst['seconds']:g} s window {worst['max_accepted']} <= {worst['bound']:g}: "
            f"{'ok' if check['ok'] else 'EXCEEDED'}"
        )
    for route, state in summary["notes"].get("routes", {}).items():
        echo(f"  route {route}: {state}")
    if summary.get("connector"):
        _print_connector(summary["connector"], echo)
    echo(f"  report: {out} (summary.json, per_second.csv, throughput.png, latency.png)")


# -- the connector scenario: Segment batches -> sfmc-connector serve -> the emulator -----------------

CONNECTOR_LIMIT = 20.0  # the tenant's requests/second, and the connector's rate_limit
CONNECTOR_BURST = 20.0
DRAIN_SECONDS = 60.0  # after the load stops, at most this long for the connector to empty its outbox
TOKEN_PATHS = ("/v2/token", "/v1/requestToken")  # token calls are not throttled, so not in the window check
CONNECTOR_DES = [
    {
        "key": "segment-identify",
        "name": "Segment Identify",
        "fields": [
            {"name": "Contact Key", "type": "Text", "length": 254, "isPrimaryKey": True},
            {"name": "Email", "type": "EmailAddress"},
            {"name": "First Name", "type": "Text", "length": 100},
            {"name": "Plan", "type": "Text"},
        ],
    },
    {
        "key": "segment-orders",
        "name": "Segment Orders",
        "fields": [
            {"name": "Contact Key", "type": "Text", "length": 254, "isPrimaryKey": True},
            {"name": "Product Id", "type": "Text", "length": 100, "isPrimaryKey": True},
            {"name": "Revenue", "type": "Decimal", "precision": 10, "scale": 2},
            {"name": "Quantity", "type": "Number"},
        ],
    },
]


@dataclass
class ConnectorSide:
    """The connector process in front of one emulator tenant, and what the emulator saw of it."""

    emulator_url: str
    tenant: dict
    server: ServerProcess
    write_key: str
    limit: float = CONNECTOR_LIMIT
    burst: float = CONNECTOR_BURST
    drain: dict = field(default_factory=dict)
    stats: dict = field(default_factory=dict)
    traffic: list[dict] = field(default_factory=list)
    journal: list[dict] = field(default_factory=list)
    journal_evicted: int = 0

    @classmethod
    def start(cls, emulator_url: str, workdir: Path, run_id: str) -> ConnectorSide:
        tenant = ensure_tenant(
            emulator_url,
            f"lt-connector-{run_id}",
            {"rate_limit": CONNECTOR_LIMIT, "burst": CONNECTOR_BURST},
            CONNECTOR_DES,
        )
        client_id, client_secret = credentials(tenant)
        settings = {
            "client_id": client_id,
            "client_secret": client_secret,
            "subdomain": tenant["subdomain"],
            "auth_base_url": emulator_url,
            "identify_de_key": "segment-identify",
            "do_not_create_contacts": True,
            "conversion_events": [
                {"event": "Order Completed", "de_key": "segment-orders", "primary_keys": "Contact Key,Product Id"}
            ],
            "sync_group_size": 50,
            "rate_limit": CONNECTOR_LIMIT,
            "outbox_path": str(workdir / "connector-outbox.sqlite3"),
        }
        path = workdir / "connector-settings.yaml"
        path.write_text(yaml.safe_dump(settings, sort_keys=False))
        write_key = f"lt-{run_id}"
        return cls(emulator_url, tenant, start_connector(path, write_key), write_key)

    def outbox(self) -> dict:
        return requests.get(f"{self.server.url}/health", timeout=10).json()["outbox"]

    def finish(self, started: float, out: Path, echo) -> None:
        """Wait (bounded) until the outbox holds nothing pending, then read the emulator's side of the run."""
        stopped = time.monotonic()
        counts = self.outbox()
        while counts.get("pending", 0) and time.monotonic() - stopped < DRAIN_SECONDS:
            time.sleep(0.25)
            counts = self.outbox()
        waited = time.monotonic() - stopped
        self.drain = {
            "seconds": round(waited, 2),
            "bound_s": DRAIN_SECONDS,
            "drained": not counts.get("pending"),
            "outbox": counts,
        }
        echo(
            f"connector outbox {'drained' if self.drain['drained'] else 'NOT drained'} {waited:.1f} s after "
            f"the load stopped: {counts}"
        )
        base = f"{self.emulator_url}/_emulator"
        tenant_id = self.tenant["id"]
        self.stats = requests.get(f"{base}/tenants/{tenant_id}/stats", timeout=30).json()
        span = min(600, math.ceil(time.time() - started) + 2)  # the emulator keeps 600 s of traffic
        self.traffic = requests.get(f"{base}/tenants/{tenant_id}/traffic", params={"seconds": span}, timeout=30).json()[
            "points"
        ]
        listing = requests.get(f"{base}/journal", params={"tenant": tenant_id, "limit": 100000}, timeout=120).json()
        self.journal = sorted(listing["items"], key=lambda e: e["at"])
        self.journal_evicted = int(self.stats.get("journal_evicted") or 0)
        # stopping the connector deletes its log: keep its output beside the report
        (out / "connector.log").write_text(self.server.output())

    def calls(self) -> list[analysis.Sample]:
        """The connector's throttled SFMC calls (token calls left out) as samples at their emulator time."""
        return [
            analysis.Sample(
                e["at"], e.get("latency_ms") or 0.0, e["status"] or 0, e["route"] or e["path"], self.tenant["id"]
            )
            for e in self.journal
            if not e["path"].startswith(TOKEN_PATHS)
        ]

    def summary(self, samples: list[analysis.Sample], batch_events: int) -> dict:
        accepted_batches = sum(s.accepted for s in samples)
        calls = self.calls()
        data_calls = [c for c in calls if c.accepted]
        rows = int(self.stats.get("rows_written") or 0)
        span = (calls[-1].start - calls[0].start) if len(calls) > 1 else 0.0
        per_second = [p["accepted"] + p["throttled"] for p in self.traffic]
        return {
            "tenant": self.tenant["id"],
            "limit": self.limit,
            "burst": self.burst,
            "events_per_batch": batch_events,
            "events_offered": len(samples) * batch_events,
            "events_accepted": accepted_batches * batch_events,
            "rows_delivered": rows,
            "rows_failed": int(self.stats.get("rows_failed") or 0),
            "drain": self.drain,
            "sfmc": {
                "requests": int(self.stats.get("requests") or 0),
                "statuses": {k: self.stats.get(k, 0) for k in ("2xx", "4xx", "5xx", "429")},
                "token_calls": len(self.journal) - len(calls),
                "data_calls": len(calls),
                "data_calls_2xx": len(data_calls),
                "rows_per_call": round(rows / len(data_calls), 1) if data_calls else 0.0,
                "calls_per_s_while_delivering": round(len(calls) / span, 2) if span else None,
                "peak_calls_in_a_second": max(per_second, default=0),
                "journal_evicted": self.journal_evicted,
            },
            "throttle_check": analysis.throttle_check(calls, self.limit, self.burst),
        }

    def per_second(self, rows: list[dict], t0: float, batch_events: int) -> list[dict]:
        """Locust's per-second rows (what was offered to the connector) with SFMC's side of each second."""
        traffic = {p["t"] - int(t0): p for p in self.traffic}
        written: dict[int, int] = {}
        for entry in self.journal:
            second = math.floor(entry["at"] - t0)
            written[second] = written.get(second, 0) + int(entry.get("rows_written") or 0)
        last = max([len(rows) - 1, *(s for s, p in traffic.items() if p["accepted"] or p["throttled"]), *written])
        empty = {
            "offered": 0,
            "accepted": 0,
            "throttled": 0,
            "other": 0,
            "p50_ms": None,
            "p95_ms": None,
            "p99_ms": None,
        }
        merged = []
        for second in range(last + 1):
            r = rows[second] if second < len(rows) else {"second": second, **empty}
            point = traffic.get(second, {"accepted": 0, "throttled": 0})
            merged.append(
                {
                    **r,
                    "events_offered": r["offered"] * batch_events,
                    "events_accepted": r["accepted"] * batch_events,
                    "sfmc_accepted": point["accepted"],
                    "sfmc_throttled": point["throttled"],
                    "sfmc_rows": written.get(second, 0),
                }
            )
        return merged


def _write_connector_per_second(path: Path, rows: list[dict]) -> None:
    columns = [
        "second",
        "offered",
        "accepted",
        "throttled",
        "other",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "events_offered",
        "events_accepted",
        "sfmc_accepted",
        "sfmc_throttled",
        "sfmc_rows",
    ]
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["tenant", *columns])
        for r in rows:
            writer.writerow(["(all)", *(r[c] for c in columns)])


def _connector_plot(rows: list[dict], path: Path, title: str, limit: float) -> Path:
    """Top: SFMC-side requests per second against the limit. Bottom: events offered vs rows delivered."""
    import matplotlib.pyplot as plt  # plots has set the file-only backend

    seconds = [r["second"] for r in rows]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7.5), dpi=100, sharex=True)
    top.plot(
        seconds,
        [r["offered"] for r in rows],
        color="tab:gray",
        lw=1.2,
        label="/v1/batch requests sent to the connector",
    )
    top.plot(
        seconds,
        [r["sfmc_accepted"] for r in rows],
        color="tab:green",
        lw=2.5,
        label="connector -> SFMC requests answered (not 429)",
    )
    top.plot(seconds, [r["sfmc_throttled"] for r in rows], color="tab:red", lw=1.5, label="connector -> SFMC 429")
    top.axhline(limit, color="black", ls="--", lw=1.2, label=f"SFMC rate limit {limit:g} req/s")
    top.set(ylabel="requests per second", title=title)
    bottom.plot(
        seconds, [r["events_offered"] for r in rows], color="tab:gray", lw=1.2, label="events offered to the connector"
    )
    bottom.plot(
        seconds,
        [r["events_accepted"] for r in rows],
        color="tab:blue",
        lw=1.5,
        label="events accepted by the connector (in its outbox)",
    )
    bottom.plot(seconds, [r["sfmc_rows"] for r in rows], color="tab:green", lw=2.5, label="rows written in SFMC")
    bottom.set(xlabel="seconds into the run", ylabel="events / rows per second")
    for ax, where in ((top, "center right"), (bottom, "lower center")):
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(loc=where, fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _print_connector(c: dict, echo) -> None:
    sfmc, check, drain = c["sfmc"], c["throttle_check"], c["drain"]
    worst = max(check["windows"], key=lambda w: w["max_accepted"] / w["bound"])
    echo(
        f"  connector: {c['events_offered']} events offered ({c['events_per_batch']} per /v1/batch), "
        f"{c['events_accepted']} accepted; outbox {drain['outbox']} "
        f"{'drained' if drain['drained'] else 'NOT drained'} {drain['seconds']:g} s after the load stopped"
    )
    echo(
        f"  SFMC side (emulator): {sfmc['requests']} requests ({sfmc['data_calls']} data calls, "
        f"{sfmc['token_calls']} token calls), statuses {sfmc['statuses']}; {c['rows_delivered']} rows written "
        f"= {sfmc['rows_per_call']:g} rows/call; {sfmc['calls_per_s_while_delivering']} calls/s while delivering, "
        f"peak {sfmc['peak_calls_in_a_second']} in one second at a limit of {c['limit']:g}/s "
        f"(burst {c['burst']:g}); busiest {worst['seconds']:g} s window {worst['max_accepted']} <= "
        f"{worst['bound']:g}: {'ok' if check['ok'] else 'EXCEEDED'}"
    )
    echo(f"  rows delivered / events accepted: {c['rows_delivered']} / {c['events_accepted']}")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("scenario", type=click.Choice(sorted(SCENARIOS)))
@click.option("--seconds", type=click.FloatRange(min=1), help="Run length (default: 30; throttle ramps for 60).")
@click.option(
    "--users",
    type=click.IntRange(min=1),
    help="Concurrent users (mix); peak offered req/s (throttle); total offered req/s "
    "(multitenant); offered /v1/batch req/s (connector).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Report folder (default: reports/<scenario>-<timestamp>/).",
)
@click.option(
    "--workers",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Run locust distributed: a master and this many worker processes (0: one local process).",
)
def main(scenario, seconds, users, out, workers):
    """Run a load-test SCENARIO headless against an emulator started for it, and write a report.

    \b
    Scenarios:
      mix          an SFMC client mix (tokens, rowsets, PUTs, async, API events, contacts, reads)
      throttle     one tenant at 20 req/s, offered load ramping 5 -> 200 req/s
      multitenant  several tenants, each with its own 20 req/s, each offered twice that
      connector    Segment batches into sfmc-connector serve, delivered to one tenant at 20 req/s
    """
    execute(scenario, seconds=seconds, users=users, out=out, workers=workers)


if __name__ == "__main__":
    main()
