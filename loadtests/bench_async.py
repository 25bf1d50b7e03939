"""Async bulk path benchmark: one 32,000-item upsert into a 10-column Data Extension.

Measures, in one run and on the same rows:

* engine: ``Emulator.rows.write`` (the one validator + SQLite storage), as the async worker calls it,
  into an empty DE (every row created) and again over the stored rows (every row updated);
* http: ``PUT /data/v1/async/dataextensions/key:{key}/rows`` against a real waitress server on
  127.0.0.1, from the request until ``status.requestStatus`` is ``Complete`` (pickup delay 0);
* baseline: plain ``sqlite3`` ``executemany`` of the same rows into an equivalent 10-column table.

and prints rows/s and the ratio to the baseline. ``--profile`` adds a cProfile of the engine path.

    python -m loadtests.bench_async [--rows 32000] [--repeat 3] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import requests

FIELDS = [
    {"name": "Id", "type": "Text", "length": 36, "isPrimaryKey": True},
    {"name": "Email", "type": "EmailAddress"},
    {"name": "Name", "type": "Text", "length": 100},
    {"name": "Age", "type": "Number"},
    {"name": "Score", "type": "Decimal", "precision": 10, "scale": 2},
    {"name": "At", "type": "Date"},
    {"name": "Opt In", "type": "Boolean"},
    {"name": "Plan", "type": "Text"},
    {"name": "Locale", "type": "Locale"},
    {"name": "City", "type": "Text"},
]
KEY = "bench"
PLANS = ("free", "pro", "team")
CITIES = ("Oslo", "Lima", "Pune", "Kyiv")


def make_rows(n: int, generation: int = 0) -> list[dict]:
    """Flat rows as a client sends them; short values keep 32,000 rows under SFMC's 5 MB body limit."""
    return [
        {
            "Id": f"u{i:07d}",
            "Email": f"u{i}@ex.io",
            "Name": "Ann" if i % 2 else "Bo",
            "Age": 20 + (i + generation) % 60,
            "Score": round((i % 1000) / 7, 2),
            "At": f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}",
            "Opt In": i % 3 == 0,
            "Plan": PLANS[(i + generation) % 3],
            "Locale": "en-US",
            "City": CITIES[i % 4],
        }
        for i in range(n)
    ]


def _emulator(path: str):
    from emulator import Config, Emulator
    from emulator.clock import Clock
    from emulator.store import open_store

    emulator = Emulator(open_store(path), Clock(), Config())
    emulator.create_tenant(
        {
            "id": "bench",
            "settings": {"rate_limit": 0, "async_pickup_delay": 0},
            "data_extensions": [{"key": KEY, "name": "Bench", "fields": FIELDS}],
        }
    )
    return emulator


def bench_engine(rows: list[dict], workdir: Path, profile: bool) -> tuple[float, float, float, float]:
    """Seconds for write_rows of ``rows`` into an empty DE, then over the stored rows: wall, wall, CPU, CPU."""
    from emulator.domain.async_rows import FLAT, row_inputs
    from emulator.gc_pause import cyclic_gc_paused

    emulator = _emulator(str(workdir / f"engine-{time.monotonic_ns()}.sqlite3"))
    de = emulator.find_data_extension("bench", key=KEY)
    timings, cpu = [], []
    for generation in (0, 1):
        items = rows if generation == 0 else make_rows(len(rows), generation)
        profiler = cProfile.Profile() if profile and generation == 1 else None
        started, cpu_started = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        with cyclic_gc_paused():  # as the async worker runs a bulk job
            inputs, _positions, _refused = row_inputs(de, items, FLAT)
            plan = emulator.rows.write("bench", de, inputs, source="bench", stop_at_first_error=False)
        if profiler:
            profiler.disable()
        timings.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
        assert not plan.failed, plan.failed[0].problems
        if profiler:
            print("\n-- cProfile of the engine path (upsert over stored rows), top 20 by own time --")
            pstats.Stats(profiler).sort_stats("tottime").print_stats(20)
    emulator.store.close()
    return timings[0], timings[1], cpu[0], cpu[1]


def bench_http(rows: list[dict], workdir: Path) -> tuple[float, float, int]:
    """(seconds to the 202, seconds to Complete, body bytes) over a real socket."""
    from emulator.app import create_app
    from emulator.launcher import ThreadedEmulator

    emulator = _emulator(str(workdir / f"http-{time.monotonic_ns()}.sqlite3"))
    server = ThreadedEmulator(app=create_app(emulator=emulator), threads=4)
    url = server.url
    try:
        package = emulator.tenant("bench").packages[0]
        with requests.Session() as session:
            token = session.post(
                f"{url}/v2/token",
                json={
                    "grant_type": "client_credentials",
                    "client_id": package.client_id,
                    "client_secret": package.client_secret,
                },
                timeout=30,
            ).json()["access_token"]
            session.headers["Authorization"] = f"Bearer {token}"
            body = json.dumps({"items": rows}, separators=(",", ":")).encode()
            started = time.perf_counter()
            response = session.put(
                f"{url}/data/v1/async/dataextensions/key:{KEY}/rows",
                data=body,
                headers={"Content-Type": "application/json"},
                timeout=120,
            )
            accepted = time.perf_counter() - started
            assert response.status_code == 202, response.text
            request_id = response.json()["requestId"]
            while True:
                status = session.get(f"{url}/data/v1/async/{request_id}/status", timeout=30).json().get("status", {})
                if status.get("requestStatus") in ("Complete", "Error"):
                    break
                time.sleep(0.005)
            done = time.perf_counter() - started
            assert status["requestStatus"] == "Complete" and not status["hasErrors"], status
    finally:
        server.stop()
        emulator.async_rows.stop()
        emulator.store.close()
    return accepted, done, len(body)


def bench_sqlite(rows: list[dict], workdir: Path) -> tuple[float, float]:
    """Plain sqlite3: the same rows into an equivalent table, same pragmas, one transaction (wall, CPU)."""
    db = sqlite3.connect(str(workdir / f"plain-{time.monotonic_ns()}.sqlite3"), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    columns = [f["name"] for f in FIELDS]
    db.execute(f"CREATE TABLE t ({', '.join(f'[{c}] TEXT' for c in columns)}, PRIMARY KEY ([Id]))")
    sql = (
        f"INSERT INTO t VALUES ({','.join('?' * len(columns))}) "
        f"ON CONFLICT ([Id]) DO UPDATE SET {', '.join(f'[{c}]=excluded.[{c}]' for c in columns[1:])}"
    )
    started, cpu_started = time.perf_counter(), time.process_time()
    db.execute("BEGIN")
    db.executemany(sql, [tuple(row[c] for c in columns) for row in rows])
    db.execute("COMMIT")
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    db.close()
    return elapsed, cpu


def measure(n: int, repeat: int, *, profile: bool = False) -> tuple[dict[str, float], int]:
    """Median seconds of each measurement over ``repeat`` runs on the same ``n`` rows, and the body size."""
    rows = make_rows(n)
    results: dict[str, list[float]] = {
        "engine_create": [],
        "engine_update": [],
        "http_202": [],
        "http_done": [],
        "sqlite": [],
        "engine_create_cpu": [],
        "engine_update_cpu": [],
        "sqlite_cpu": [],
    }
    size = 0
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for run in range(repeat):
            create, update, create_cpu, update_cpu = bench_engine(rows, workdir, profile and run == 0)
            results["engine_create"].append(create)
            results["engine_update"].append(update)
            results["engine_create_cpu"].append(create_cpu)
            results["engine_update_cpu"].append(update_cpu)
            accepted, done, size = bench_http(rows, workdir)
            results["http_202"].append(accepted)
            results["http_done"].append(done)
            plain, plain_cpu = bench_sqlite(rows, workdir)
            results["sqlite"].append(plain)
            results["sqlite_cpu"].append(plain_cpu)
    return {k: statistics.median(v) for k, v in results.items()}, size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=32_000, help="items in the request (SFMC's max: 32,000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement; the median is shown")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the engine path")
    args = parser.parse_args(argv)
    med, size = measure(args.rows, args.repeat, profile=args.profile)
    n = args.rows
    base = n / med["sqlite"]
    print(
        f"\nasync bulk path: {n:,} items x {len(FIELDS)} columns, body {size / 1e6:.2f} MB, "
        f"median of {args.repeat} runs (file-backed SQLite, WAL)"
    )
    lines = [
        ("plain sqlite3 executemany (baseline)", med["sqlite"]),
        ("engine write_rows, new rows", med["engine_create"]),
        ("engine write_rows, over stored rows", med["engine_update"]),
        ("HTTP PUT to 202 (parse, schema, store job)", med["http_202"]),
        ("HTTP PUT to status Complete (end to end)", med["http_done"]),
    ]
    for label, seconds in lines:
        rate = n / seconds
        print(f"  {label:<44} {seconds * 1000:8.1f} ms  {rate:>10,.0f} rows/s  ({rate / base:5.1%} of sqlite3)")
    # CPU time holds up when the machine is shared; the wall figures above follow its load
    print("  CPU time (this process), same runs:")
    for label, key in (
        ("plain sqlite3 executemany (baseline)", "sqlite_cpu"),
        ("engine write_rows, new rows", "engine_create_cpu"),
        ("engine write_rows, over stored rows", "engine_update_cpu"),
    ):
        print(f"  {label:<44} {med[key] * 1000:8.1f} ms  ({med['sqlite_cpu'] / med[key]:5.1%} of sqlite3)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
