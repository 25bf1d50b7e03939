"""How the emulator's cost grows: rows per request, columns per row, rows already stored, tenants.

Each figure is the CPU time per request of rowset upserts (``POST /hub/v1/dataevents/key:{key}/rowset``)
posted in process through Flask's test client to an app on a temporary SQLite file, as
``loadtests.profile_sync`` does: no socket, no WSGI server, no load generator, so the figures are the
emulator's own work, and CPU time holds up on a machine shared with other work where wall time does
not. Every request is checked to answer 200.

1. rows per request (1 to 500) with the benchmark's 10-column Data Extension;
2. columns per row (5 to 100 Text columns), 50 rows per request;
3. rows already stored in the Data Extension (10,000 to 1,000,000): 1-row and 50-row upserts of new keys,
   50-row upserts of stored keys (an update reads the stored row first), and one page of a ``$filter``
   read (``/data/v1/customobjectdata/key/{key}/rowset?$filter=...``), which scans the stored rows;
4. tenants (1 to 200), each with its own token and Data Extension, 1-row upserts round-robin over them,
   measured once every tenant has had its first call (whose cost is printed apart).

    python -m loadtests.growth [--requests 300] [--stored 10000,100000,1000000] [--tenants 1,10,50,200]
                               [--only rows|columns|stored|tenants] [--json-out growth.json]
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import click

from .common import DE_KEY, FIELDS, row

WARMUP = 20  # requests left out of every figure: first-request imports and caches


def build_app(folder: Path, name: str):
    from emulator import Config
    from emulator.app import create_app

    app = create_app(Config(database=str(folder / f"{name}.sqlite3"), journal_size=1000))
    return app, app.test_client()


def add_tenant(client, tenant_id: str, fields: list[dict]) -> dict:
    """A tenant with throttling off and one Data Extension; its bearer header."""
    body = {
        "id": tenant_id,
        "packages": [{"client_id": f"{tenant_id}-id", "client_secret": f"{tenant_id}-secret"}],
        "settings": {"rate_limit": 0, "require_complete_definitions": False},
        "data_extensions": [{"key": DE_KEY, "name": "Growth", "fields": fields}],
    }
    created = client.post("/_emulator/tenants", json=body)
    assert created.status_code == 201, created.get_data(as_text=True)
    token = client.post(
        "/v2/token",
        json={
            "grant_type": "client_credentials",
            "client_id": f"{tenant_id}-id",
            "client_secret": f"{tenant_id}-secret",
        },
    ).get_json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def cpu_per_request(send, count: int) -> float:
    """CPU milliseconds per call of ``send(n)`` (n = 0..count-1), after the warm-up calls."""
    for n in range(WARMUP):
        send(-1 - n)
    started = time.process_time()
    for n in range(count):
        send(n)
    return (time.process_time() - started) / count * 1000


def poster(client, headers: dict, make_body):
    url = f"/hub/v1/dataevents/key:{DE_KEY}/rowset"

    def send(n: int) -> None:
        response = client.post(url, json=make_body(n), headers=headers)
        if response.status_code != 200:
            raise click.ClickException(f"{response.status_code}: {response.get_data(as_text=True)[:500]}")

    return send


def rows_per_request(folder: Path, count: int) -> list[dict]:
    app, client = build_app(folder, "rows")
    headers = add_tenant(client, "growth", FIELDS)
    out = []
    for rows in (1, 10, 50, 100, 250, 500):
        requests = max(20, count * 10 // max(rows, 10))
        send = poster(client, headers, lambda n, rows=rows: [row(f"r{rows}-{n}-{i}", i) for i in range(rows)])
        ms = cpu_per_request(send, requests)
        out.append({"rows_per_request": rows, "requests": requests, "cpu_ms": ms, "cpu_us_per_row": ms * 1000 / rows})
    app.extensions["sfmc"].async_rows.stop()
    return out


def columns_per_row(folder: Path, count: int) -> list[dict]:
    out = []
    for columns in (5, 10, 25, 50, 100):
        app, client = build_app(folder, f"columns-{columns}")
        fields = [{"name": "Key", "type": "Text", "length": 100, "isPrimaryKey": True}]
        fields += [{"name": f"Column {c}", "type": "Text", "length": 100} for c in range(1, columns)]
        headers = add_tenant(client, "growth", fields)
        values = {f"Column {c}": f"value {c}" for c in range(1, columns)}

        def body(n: int, values=values) -> list[dict]:
            return [{"keys": {"Key": f"c{n}-{i}"}, "values": values} for i in range(50)]

        requests = max(20, count // 5)
        ms = cpu_per_request(poster(client, headers, body), requests)
        out.append(
            {"columns": columns, "requests": requests, "cpu_ms": ms, "cpu_us_per_cell": ms * 1000 / (50 * columns)}
        )
        app.extensions["sfmc"].async_rows.stop()
    return out


def stored_rows(folder: Path, count: int, sizes: list[int]) -> list[dict]:
    from emulator.domain.rows import RowInput

    app, client = build_app(folder, "stored")
    headers = add_tenant(client, "growth", FIELDS)
    emulator = app.extensions["sfmc"]
    de = emulator.find_data_extension("growth", key=DE_KEY)
    out, stored = [], 0
    for size in sorted(sizes):
        started = time.perf_counter()
        while stored < size:  # through the row writer (validation and all), 5,000 rows at a time
            chunk = min(5000, size - stored)
            inputs = [
                RowInput(r["keys"], r["values"], needs_value=True)
                for r in (row(f"s{stored + i}", stored + i) for i in range(chunk))
            ]
            plan = emulator.rows.write("growth", de, inputs, source="growth preload")
            assert not plan.failed
            stored += chunk
        loaded_s = time.perf_counter() - started
        figures: dict = {"stored_rows": size, "preload_s": round(loaded_s, 1)}
        requests = max(20, count // 2)
        figures["new_1_row_cpu_ms"] = cpu_per_request(
            poster(client, headers, lambda n, size=size: [row(f"n{size}-{n}", n)]), count
        )
        figures["new_50_rows_cpu_ms"] = cpu_per_request(
            poster(client, headers, lambda n, size=size: [row(f"m{size}-{n}-{i}", i) for i in range(50)]), requests
        )
        figures["update_50_rows_cpu_ms"] = cpu_per_request(
            poster(client, headers, lambda n: [row(f"s{(n * 50 + i) % 10000}", i) for i in range(50)]), requests
        )
        reads = max(5, count // 30)

        def read(n: int) -> None:
            response = client.get(
                f"/data/v1/customobjectdata/key/{DE_KEY}/rowset",
                query_string={"$filter": f"Email eq 'user{n % 50}@example.com'", "$pageSize": "50"},
                headers=headers,
            )
            if response.status_code != 200:
                raise click.ClickException(f"{response.status_code}: {response.get_data(as_text=True)[:500]}")

        figures["filter_read_cpu_ms"] = cpu_per_request(read, reads)
        figures["requests"] = {"new_1_row": count, "50_rows": requests, "filter_read": reads}
        out.append(figures)
        stored = size + count + requests * 50 + WARMUP * 51  # the upserts above added rows too
    emulator.async_rows.stop()
    return out


def tenants(folder: Path, count: int, sizes: list[int]) -> list[dict]:
    out = []
    for size in sizes:
        app, client = build_app(folder, f"tenants-{size}")
        headers = [add_tenant(client, f"growth-{t}", FIELDS) for t in range(size)]
        url = f"/hub/v1/dataevents/key:{DE_KEY}/rowset"

        def send(n: int, client=client, url=url, headers=headers) -> None:
            response = client.post(url, json=[row(f"t{n}", n)], headers=headers[n % len(headers)])
            if response.status_code != 200:
                raise click.ClickException(f"{response.status_code}: {response.get_data(as_text=True)[:500]}")

        first = time.process_time()
        for t in range(size):  # every tenant's first call (its DE read from the store, its journal ring...)
            send(-1 - WARMUP - t)  # lands on tenant (-1 - WARMUP - t) % size: each of them once
        first_ms = (time.process_time() - first) / size * 1000
        requests = max(count, 3 * size)
        out.append(
            {"tenants": size, "requests": requests, "cpu_ms": cpu_per_request(send, requests), "first_cpu_ms": first_ms}
        )
        app.extensions["sfmc"].async_rows.stop()
    return out


def numbers(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--requests", "count", default=300, show_default=True, type=click.IntRange(20), help="Base request count."
)
@click.option("--stored", default="10000,100000,1000000", show_default=True, help="Stored-row counts, ascending.")
@click.option("--tenants", "tenant_counts", default="1,10,50,200", show_default=True, help="Tenant counts.")
@click.option("--only", type=click.Choice(["rows", "columns", "stored", "tenants"]), help="One table alone.")
@click.option("--json-out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the figures as JSON.")
def main(count, stored, tenant_counts, only, json_out):
    """CPU time per request as rows per request, columns, stored rows and tenants grow (in process)."""
    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="growth-") as tmp:
        folder = Path(tmp)
        if only in (None, "rows"):
            out["rows"] = rows_per_request(folder, count)
            click.echo("1) rows per request (10 columns): CPU ms per request, CPU us per row")
            for f in out["rows"]:
                click.echo(
                    f"   {f['rows_per_request']:>4} rows  {f['cpu_ms']:8.3f} ms  {f['cpu_us_per_row']:8.1f} us/row"
                )
        if only in (None, "columns"):
            out["columns"] = columns_per_row(folder, count)
            click.echo("2) columns per row (Text, 50 rows per request): CPU ms per request, CPU us per cell")
            for f in out["columns"]:
                click.echo(f"   {f['columns']:>4} columns  {f['cpu_ms']:8.3f} ms  {f['cpu_us_per_cell']:8.2f} us/cell")
        if only in (None, "stored"):
            out["stored"] = stored_rows(folder, count, numbers(stored))
            click.echo(
                "3) rows already stored (10 columns): CPU ms per request of new 1-row, new 50-row and "
                "stored-key 50-row upserts, and of a $filter read (one page of 50)"
            )
            for f in out["stored"]:
                click.echo(
                    f"   {f['stored_rows']:>9,} stored  new 1 row {f['new_1_row_cpu_ms']:7.3f}  new 50 "
                    f"{f['new_50_rows_cpu_ms']:7.3f}  update 50 {f['update_50_rows_cpu_ms']:7.3f}  "
                    f"$filter read {f['filter_read_cpu_ms']:9.3f}  (preloaded in {f['preload_s']} s)"
                )
        if only in (None, "tenants"):
            out["tenants"] = tenants(folder, count, numbers(tenant_counts))
            click.echo(
                "4) tenants, 1-row upserts round-robin over them: CPU ms per request once every tenant has been "
                "called (and of each tenant's first call)"
            )
            for f in out["tenants"]:
                click.echo(
                    f"   {f['tenants']:>4} tenants  {f['cpu_ms']:8.3f} ms  (first call {f['first_cpu_ms']:.3f} ms)"
                )
    click.echo(
        "\nin process (Flask test client, SQLite file), CPU time of this process per request after "
        f"{WARMUP} warm-up requests; python -m loadtests.growth --requests {count}"
    )
    if json_out:
        json_out.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
