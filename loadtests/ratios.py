"""Figures measured side by side in one run, printed as ratios against their targets.

1. Throughput with throttling off: the emulator's 1-row (and 50-row) rowset upserts against the bare
   Flask echo endpoint served the same way (waitress, same threads). Target: >= 0.6 for 1-row.
   Beside it, each server process's own CPU time per request (``/proc``), whose ratio bare/emulator
   moves far less than req/s when other work shares the cores.
2. Throttle accuracy under 5x overload: 100 req/s offered to one tenant limited to 20 req/s for 30 s.
   Targets: accepted rate within +-5% of the limit; in no sliding window (1, 5, 10 s and the whole
   run) more accepted than limit x window + burst, counting the calls whose whole round trip lies in the window.
3. 429s are cheap: p99 latency of the 429 answers under 2 ms at the client (and server-side from
   the emulator's request journal, for comparison), beside the same open-loop load against the bare
   echo (the client latency the stack itself gives on this machine). The target is judged on the lean
   open-loop client (``loadtests.openloop``: the same load and the same measure as locust's throttle
   user, without gevent and locust's per-request machinery in the latency), in rounds alternating the
   emulator and the bare echo; locust's own view of the same 429s is printed beside it.
4. Async ingest: 32,000 rows x 10 columns validated and stored by the engine (as the async worker
   does) against a plain ``sqlite3`` ``executemany`` of the same rows (``loadtests.bench_async``).

Ends with the targets, each MEETS or MISSES: 1-row >= 0.6x bare, 50-row >= 0.5x bare, 429 p99 < 2 ms
at 5x overload, async ingest >= 0.5x executemany, and the throttle's accuracy.

    python -m loadtests.ratios [--seconds 30] [--bench-seconds 10] [--users 8] [--async-rows 32000]
                               [--json-out ratios.json]
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import click
import requests

from . import analysis, bench_async, common
from .bench_sync import TOOL, line, measure
from .common import process_cpu_seconds, running, start_bare, start_emulator
from .harness import run_locust
from .openloop import run_open_loop

HERE = Path(__file__).resolve().parent
LIMIT, BURST, OFFERED = 20.0, 20.0, 100
# the performance targets: the least emulator/bare ratio at 1 and 50 rows per request
THROUGHPUT_TARGETS = {1: 0.6, 50: 0.5}
THROTTLED_P99_MS = 2.0
ASYNC_TARGET = 0.5


def bare_open_loop(url: str, folder: Path, seconds: float) -> dict:
    """The throttle run's load (open loop, OFFERED req/s) against the bare echo: the client latency of
    the stack itself (locust, waitress, Flask on this machine), beside the emulator's 429s."""
    run = run_locust(
        HERE / "locustfile_throttle.py",
        url,
        folder,
        seconds=seconds,
        shape=True,
        csv=False,
        tag="throttle-bare",
        env={"LOADTEST_OFFERED": OFFERED, "LOADTEST_TARGET": "bare", "LOADTEST_RUN_ID": "ratios-bare"},
    )
    samples = analysis.load_samples(run.samples_dir)
    if not samples:
        raise click.ClickException(f"the bare open-loop run recorded no requests; locust exit codes {run.returncodes}")
    total = analysis.summarize(samples)
    return {"requests": total["requests"], "p50_ms": total["p50_ms"], "p99_ms": total["p99_ms"]}


def throttle_figures(url: str, folder: Path, seconds: float) -> dict:
    run_id = "ratios"
    run = run_locust(
        HERE / "locustfile_throttle.py",
        url,
        folder,
        seconds=seconds,
        shape=True,
        csv=False,
        tag="throttle",
        env={
            "LOADTEST_OFFERED": OFFERED,
            "LOADTEST_RATE_LIMIT": LIMIT,
            "LOADTEST_BURST": BURST,
            "LOADTEST_RUN_ID": run_id,
        },
    )
    samples = analysis.load_samples(run.samples_dir)
    if not samples:
        raise click.ClickException(f"the throttle run recorded no requests; locust exit codes {run.returncodes}")
    total = analysis.summarize(samples)
    duration = total["duration_s"]
    check = analysis.throttle_check(samples, LIMIT, BURST, windows=(1.0, 5.0, 10.0, duration))
    server_ms = server_latencies(url, f"lt-throttle-{run_id}")
    return {
        "tool": "locust FastHttpUser (keep-alive), 1 separate process, open loop: 25 users x 4 req/s, random phases",
        "users": OFFERED // 4,
        "offered_per_s": round(total["req_per_s"], 1),
        "seconds": duration,
        "requests": total["requests"],
        "accepted": total["accepted"],
        "throttled": total["throttled"],
        "other": total["other"],
        "accepted_per_s": round(total["accepted_per_s"], 2),
        "accepted_per_s_without_burst": round((total["accepted"] - BURST) / duration, 2),
        "windows": check["windows"],
        "windows_ok": check["ok"],
        "p50_ms": total["p50_ms"],
        "p99_ms": total["p99_ms"],
        "throttled_p50_ms": total["throttled_latency"]["p50_ms"],
        "throttled_p99_ms": total["throttled_latency"]["p99_ms"],
        "throttled_server_p50_ms": analysis.percentile(server_ms, 50),
        "throttled_server_p99_ms": analysis.percentile(server_ms, 99),
        "server_samples": len(server_ms),
    }


def server_latencies(url: str, tenant: str) -> list[float]:
    """The emulator's own latency of a tenant's 429s, from its request journal (no client or network in it)."""
    journal = requests.get(
        f"{url}/_emulator/journal", params={"tenant": tenant, "status": 429, "limit": 100000}, timeout=60
    ).json()
    return [e["latency_ms"] for e in journal.get("items", []) if e.get("status") == 429]


def lean_latency(emu_url: str, bare_url: str, folder: Path, seconds: float, rounds: int) -> dict:
    """The throttle run's open-loop load sent by ``loadtests.openloop``, alternating the emulator (a fresh
    tenant limited to LIMIT/s each round: its 429s) and the bare echo (all 200s: the floor of the same client,
    server and machine); the p99 over every round's answers, and each round's own."""
    users, user_rps = OFFERED // 4, 4.0
    emu_ms: list[float] = []
    bare_ms: list[float] = []
    server_ms: list[float] = []
    per_round = []
    for n in range(rounds):
        tenant = f"lt-throttle-openloop-{n}"
        raw = common.ensure_tenant(emu_url, tenant, {"rate_limit": LIMIT, "burst": BURST})
        token = common.get_token(emu_url, *common.credentials(raw))
        load = round(os.getloadavg()[0], 2)
        emu_dir = run_open_loop(
            emu_url, token, folder / f"raw-openloop-emulator-{n}", seconds=seconds, users=users, user_rps=user_rps
        )
        throttled = [s.ms for s in analysis.load_samples(emu_dir) if s.status == 429]
        bare_dir = run_open_loop(
            bare_url, "bare", folder / f"raw-openloop-bare-{n}", seconds=seconds, users=users, user_rps=user_rps
        )
        bare = analysis.load_samples(bare_dir)
        if not throttled or not bare or any(s.status != 200 for s in bare):
            raise click.ClickException(f"open-loop round {n}: no 429 from the emulator, or the bare echo not all 200")
        inside = server_latencies(emu_url, tenant)
        emu_ms += throttled
        bare_ms += [s.ms for s in bare]
        server_ms += inside
        per_round.append(
            {
                "load_average": load,
                "throttled": len(throttled),
                "throttled_p50_ms": analysis.percentile(throttled, 50),
                "throttled_p99_ms": analysis.percentile(throttled, 99),
                "throttled_server_p99_ms": analysis.percentile(inside, 99),
                "bare": len(bare),
                "bare_p50_ms": analysis.percentile([s.ms for s in bare], 50),
                "bare_p99_ms": analysis.percentile([s.ms for s in bare], 99),
            }
        )
    return {
        "tool": f"loadtests.openloop (one thread, selectors, keep-alive), 1 separate process, open loop: "
        f"{users} connections x {user_rps:g} req/s, random phases; {rounds} rounds of {seconds:g} s, "
        f"emulator and bare echo alternated",
        "throttled": len(emu_ms),
        "throttled_p50_ms": analysis.percentile(emu_ms, 50),
        "throttled_p99_ms": analysis.percentile(emu_ms, 99),
        "throttled_server_p50_ms": analysis.percentile(server_ms, 50),
        "throttled_server_p99_ms": analysis.percentile(server_ms, 99),
        "bare": len(bare_ms),
        "bare_p50_ms": analysis.percentile(bare_ms, 50),
        "bare_p99_ms": analysis.percentile(bare_ms, 99),
        "rounds": per_round,
    }


def verdict(ok: bool) -> str:
    return "MEETS" if ok else "MISSES"


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--seconds",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=2),
    help="Length of the 5x-overload throttle run.",
)
@click.option(
    "--bench-seconds",
    default=10.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="Length of each throughput measurement (after a 1 s warm-up).",
)
@click.option(
    "--users",
    default=8,
    show_default=True,
    type=click.IntRange(min=1),
    help="Closed-loop users of the throughput measurements.",
)
@click.option("--threads", default=8, show_default=True, help="waitress threads of both servers.")
@click.option(
    "--async-rows",
    default=32_000,
    show_default=True,
    type=click.IntRange(min=0),
    help="Rows of the async ingest measurement (0 leaves it out).",
)
@click.option(
    "--latency-seconds",
    default=15.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="Length of each open-loop latency round (emulator, then bare echo).",
)
@click.option(
    "--latency-rounds",
    default=3,
    show_default=True,
    type=click.IntRange(min=1),
    help="Open-loop latency rounds, each the emulator then the bare echo.",
)
@click.option("--no-throughput", is_flag=True, help="Leave out the throughput measurements (1).")
@click.option(
    "--cpu",
    metavar="auto|N",
    help="Serve both the emulator and the bare echo on one CPU each (`serve --cpu`); default: anywhere.",
)
@click.option("--json-out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the figures as JSON.")
def main(
    seconds, bench_seconds, users, threads, async_rows, latency_seconds, latency_rounds, no_throughput, cpu, json_out
):
    """Emulator/bare throughput ratio, throttle accuracy under 5x overload, and the cost of a 429."""
    out: dict = {"throughput": [], "cpu": cpu}
    with tempfile.TemporaryDirectory(prefix="ratios-") as tmp:
        folder = Path(tmp)
        pinned = ("--cpu", cpu) if cpu is not None else ()
        emulator = start_emulator(folder, "--journal-size", "100000", *pinned, threads=threads)
        with running(emulator, start_bare(threads, cpu)) as (emu, bare):
            if cpu is not None:
                click.echo(f"both servers kept on one CPU each (--cpu {cpu})")
            if not no_throughput:
                click.echo(f"1) throughput, throttling off (tenant rate_limit 0), {TOOL}, {users} users")
            for rows in () if no_throughput else (1, 50):
                pair = {}
                for t, server in (("emulator", emu), ("bare", bare)):
                    cpu = process_cpu_seconds(server.proc.pid)
                    pair[t] = measure(server.url, folder, target=t, rows=rows, users=users, seconds=bench_seconds)
                    cpu = process_cpu_seconds(server.proc.pid) - cpu
                    pair[t]["server_cpu_ms_per_request"] = round(cpu / max(pair[t]["all_requests"], 1) * 1000, 3)
                ratio = pair["emulator"]["req_per_s"] / pair["bare"]["req_per_s"]
                for figures in pair.values():
                    click.echo("   " + line(figures))
                goal = THROUGHPUT_TARGETS[rows]
                click.echo(
                    f"   {rows}-row emulator/bare = {ratio:.3f} (target >= {goal:.2f}: {verdict(ratio >= goal)})"
                )
                emu_cpu, bare_cpu = (pair[t]["server_cpu_ms_per_request"] for t in ("emulator", "bare"))
                cpu_ratio = bare_cpu / max(emu_cpu, 1e-9)
                click.echo(
                    f"   server CPU per request (the server process's own CPU time over the run's requests): "
                    f"emulator {emu_cpu:.3f} ms, bare {bare_cpu:.3f} ms; bare/emulator = {cpu_ratio:.2f}"
                )
                out["throughput"].append(
                    {"rows_per_request": rows, **pair, "ratio": round(ratio, 3), "cpu_ratio": round(cpu_ratio, 3)}
                )
            click.echo(
                f"\n2) throttle under 5x overload: {OFFERED} req/s offered at {LIMIT:g} req/s "
                f"(burst {BURST:g}) for {seconds:g} s"
            )
            t = throttle_figures(emu.url, folder, seconds)
            t["bare_open_loop"] = bare_open_loop(bare.url, folder, seconds)
            out["throttle"] = t
            lean = lean_latency(emu.url, bare.url, folder, latency_seconds, latency_rounds)
            out["latency"] = lean
    rate_ratio = t["accepted_per_s"] / LIMIT
    click.echo(
        f"   {t['tool']}: {t['requests']} requests = {t['offered_per_s']} req/s offered; "
        f"p50 {analysis.fmt_ms(t['p50_ms'])}, p99 {analysis.fmt_ms(t['p99_ms'])}"
    )
    click.echo(
        f"   accepted {t['accepted']} = {t['accepted_per_s']}/s = {rate_ratio:.3f} x limit "
        f"({t['accepted_per_s_without_burst']}/s without the initial burst); target within +-5%: "
        f"{verdict(abs(rate_ratio - 1) <= 0.05)}; {t['throttled']} x 429, {t['other']} other"
    )
    for w in t["windows"]:
        click.echo(
            f"   busiest {w['seconds']:g} s window: {w['max_accepted']} accepted <= {w['bound']:g} "
            f"(limit x window + burst): {'ok' if w['ok'] else 'EXCEEDED'}"
        )
    lean = out["latency"]
    cheap = lean["throttled_p99_ms"] is not None and lean["throttled_p99_ms"] < THROTTLED_P99_MS
    click.echo(
        f"\n3) 429 answers at the client, {lean['tool']}:\n"
        f"   emulator's 429s ({lean['throttled']}): p99 {analysis.fmt_ms(lean['throttled_p99_ms'])} "
        f"(p50 {analysis.fmt_ms(lean['throttled_p50_ms'])}), target < {THROTTLED_P99_MS:g} ms: {verdict(cheap)}; "
        f"inside the emulator (journal) p50 {analysis.fmt_ms(lean['throttled_server_p50_ms'])}, "
        f"p99 {analysis.fmt_ms(lean['throttled_server_p99_ms'])}\n"
        f"   the floor, the bare echo under the same load from the same client ({lean['bare']} answers, all 200): "
        f"p99 {analysis.fmt_ms(lean['bare_p99_ms'])} (p50 {analysis.fmt_ms(lean['bare_p50_ms'])})"
    )
    for n, r in enumerate(lean["rounds"]):
        click.echo(
            f"   round {n + 1} (load average {r['load_average']:g}): 429 p50 {analysis.fmt_ms(r['throttled_p50_ms'])} "
            f"p99 {analysis.fmt_ms(r['throttled_p99_ms'])} "
            f"(journal p99 {analysis.fmt_ms(r['throttled_server_p99_ms'])}); "
            f"bare p50 {analysis.fmt_ms(r['bare_p50_ms'])} p99 {analysis.fmt_ms(r['bare_p99_ms'])}"
        )
    b = t["bare_open_loop"]
    click.echo(
        f"   locust's view of the same load (part 2's run, then the bare echo, {b['requests']} answers): "
        f"the emulator's 429s p99 {analysis.fmt_ms(t['throttled_p99_ms'])} "
        f"(p50 {analysis.fmt_ms(t['throttled_p50_ms'])}; journal p99 {analysis.fmt_ms(t['throttled_server_p99_ms'])}), "
        f"the bare echo p99 {analysis.fmt_ms(b['p99_ms'])} (p50 {analysis.fmt_ms(b['p50_ms'])})"
    )
    if async_rows:
        med, _size = bench_async.measure(async_rows, 1)
        baseline, engine, http = (async_rows / med[k] for k in ("sqlite", "engine_create", "http_done"))
        out["async"] = {
            "rows": async_rows,
            "columns": len(bench_async.FIELDS),
            "executemany_rows_per_s": round(baseline),
            "engine_rows_per_s": round(engine),
            "http_end_to_end_rows_per_s": round(http),
            "ratio": round(engine / baseline, 3),
        }
        click.echo(
            f"\n4) async ingest, {async_rows:,} rows x {len(bench_async.FIELDS)} columns, one run: engine "
            f"(validation + storage) {engine:,.0f} rows/s, plain sqlite3 executemany {baseline:,.0f} rows/s "
            f"= {engine / baseline:.3f} (target >= {ASYNC_TARGET:g}: {verdict(engine / baseline >= ASYNC_TARGET)}); "
            f"HTTP PUT to Complete {http:,.0f} rows/s = {http / baseline:.2f}"
        )
    targets = {}
    if out["throughput"]:
        for figures in out["throughput"]:
            rows = figures["rows_per_request"]
            goal = THROUGHPUT_TARGETS[rows]
            targets[f"{rows}-row upsert >= {goal:g}x bare"] = figures["ratio"] >= goal
    targets.update(
        {
            f"429 p99 < {THROTTLED_P99_MS:g} ms at the client, 5x overload": cheap,
            "accepted rate within +-5% of the limit": abs(rate_ratio - 1) <= 0.05,
            "no window above limit x window + burst": t["windows_ok"],
        }
    )
    if async_rows:
        targets[f"async ingest >= {ASYNC_TARGET:g}x executemany"] = out["async"]["ratio"] >= ASYNC_TARGET
    click.echo("\ntargets:")
    for name, ok in targets.items():
        click.echo(f"   {verdict(ok):<6}  {name}")
    out["targets"] = targets
    if json_out:
        json_out.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
