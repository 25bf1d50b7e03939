"""Where the time of a sync rowset upsert goes: cProfile of the emulator app, in process, no network.

Builds the app on a temporary SQLite file (as ``serve`` does), one tenant with throttling off and the
benchmark's 10-column Data Extension, then posts ``--requests`` rowsets of ``--rows`` rows through
Flask's test client under cProfile. Prints the functions with the most cumulative and own time as a
table (share of the whole run), and writes the raw statistics for a flame graph:

    python -m loadtests.profile_sync [--rows 1] [--requests 2000] [--throttled] [--pstats out.pstats]

and, for a flame graph of the same loop without cProfile's overhead (py-spy is in the ``load`` extra):

    py-spy record --rate 250 -o docs/flamegraph-rowset-50.svg -- \
        python -m loadtests.profile_sync --rows 50 --requests 600 --no-cprofile

The test client skips the WSGI server and the socket, so the shares are of the application's own
work: the request chain, validation, the store, the journal and JSON.
"""

from __future__ import annotations

import cProfile
import pstats
import tempfile
import time
from pathlib import Path

import click

from .common import DE_KEY, FIELDS, row

CLIENT_ID, CLIENT_SECRET = "profile-client-id", "profile-client-secret"


def build_client(folder: Path, throttled: bool = False):
    from emulator import Config
    from emulator.app import create_app

    app = create_app(Config(database=str(folder / "profile.sqlite3")))
    client = app.test_client()
    tenant = {
        "id": "profile",
        "packages": [{"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}],
        # throttled: one request's worth of burst, then a 429 for every request of the run
        "settings": {"rate_limit": 0.001 if throttled else 0, "burst": 1, "require_complete_definitions": False},
    }
    assert client.post("/_emulator/tenants", json=tenant).status_code in (200, 201)
    token = client.post(
        "/v2/token",
        json={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
    ).get_json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    de = {"name": "Profile", "key": DE_KEY, "fields": FIELDS}
    created = client.post("/data/v1/customobjects", json=de, headers=headers)
    assert created.status_code in (200, 201), created.get_data(as_text=True)
    return app, client, headers


def table(stats: pstats.Stats, sort: str, limit: int, total: float) -> list[str]:
    stats.sort_stats(sort)
    lines = [f"{'cumulative s':>12} {'own s':>8} {'% of run':>8}  function"]
    for func in stats.fcn_list[:limit]:
        _cc, calls, own, cum, _callers = stats.stats[func]
        file, lineno, name = func
        where = f"{Path(file).name}:{lineno}({name})" if lineno else name
        share = (cum if sort == "cumulative" else own) / total * 100
        lines.append(f"{cum:>12.3f} {own:>8.3f} {share:>7.1f}%  {where}  [{calls} calls]")
    return lines


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--rows", default=1, show_default=True, type=click.IntRange(1, 5000), help="Rows per rowset.")
@click.option("--requests", "count", default=2000, show_default=True, type=click.IntRange(1), help="Rowsets posted.")
@click.option("--limit", default=25, show_default=True, help="Functions listed per table.")
@click.option(
    "--cprofile/--no-cprofile",
    default=True,
    show_default=True,
    help="Without it, only the posts run (for a sampling profiler such as py-spy watching the process).",
)
@click.option(
    "--throttled",
    is_flag=True,
    help="The tenant's rate limit spent: every request is answered 429 (the cost of a throttled answer).",
)
@click.option("--pstats", "pstats_out", type=click.Path(dir_okay=False, path_type=Path), help="Raw statistics file.")
def main(rows, count, limit, cprofile, throttled, pstats_out):
    """cProfile of COUNT rowset upserts of ROWS rows each through the app (Flask test client)."""
    expected = 429 if throttled else 200
    with tempfile.TemporaryDirectory(prefix="profile-") as tmp:
        _app, client, headers = build_client(Path(tmp), throttled)
        url = f"/hub/v1/dataevents/key:{DE_KEY}/rowset"
        bodies = [[row(f"p{n}-{i}", i) for i in range(rows)] for n in range(count)]
        for body in bodies[:20]:  # warm-up: first-request imports and caches stay out of the figures
            client.post(url, json=body, headers=headers)  # throttled: the first spends the burst
        profiler = cProfile.Profile()
        started, cpu_started = time.perf_counter(), time.process_time()
        if cprofile:
            profiler.enable()
        for body in bodies:
            response = client.post(url, json=body, headers=headers)
            if response.status_code != expected:
                raise click.ClickException(f"{response.status_code}: {response.get_data(as_text=True)}")
        profiler.disable()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    if not cprofile:  # CPU time moves far less than wall time with other work on the machine
        click.echo(
            f"{count} rowsets x {rows} row(s): {elapsed:.2f} s, {elapsed / count * 1000:.3f} ms per request "
            f"(CPU {cpu / count * 1000:.3f} ms)"
        )
        return
    stats = pstats.Stats(profiler)
    total = stats.total_tt
    click.echo(f"{count} rowsets x {rows} row(s): {total:.2f} s profiled, {total / count * 1000:.3f} ms per request")
    click.echo("\nby cumulative time:")
    click.echo("\n".join(table(stats, "cumulative", limit, total)))
    click.echo("\nby own time:")
    click.echo("\n".join(table(stats, "tottime", limit, total)))
    if pstats_out:
        stats.dump_stats(pstats_out)
        click.echo(f"\nstatistics written to {pstats_out}")


if __name__ == "__main__":
    main()
