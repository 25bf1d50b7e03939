"""Two source trees' emulator apps in one process, called in turn as WSGI: CPU per request of each.

``loadtests.wsgi_cost`` measures one tree per process; on a shared machine the load drifts between
two such runs by more than a change of 5-10 us per request. Here the ``--before`` tree's ``emulator``
package is imported under another name (a copy in a temporary folder; the package's own imports are
relative) beside this checkout's ``emulator``, both apps are built as ``wsgi_cost`` builds one (a SQLite
file, ``journal_size=100000``, a tenant with throttling off, the benchmark's 10-column Data Extension),
and they are called in turn, ``--chunk`` rowset upserts each, for ``--rounds`` rounds (the order swapped
every round), so both see the same load. Prints min and median CPU per request of each and the
difference of the medians.

    python -m loadtests.wsgi_ab --before /path/to/old/checkout [--rows 1] [--rounds 40] [--chunk 500]
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import click

from .common import row
from .wsgi_cost import _emulator_app, _environ

BEFORE_PACKAGE = "emulator_before"


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--before", required=True, type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--rows", default=1, show_default=True, type=click.IntRange(1, 5000), help="Rows per rowset.")
@click.option("--rounds", default=40, show_default=True, type=click.IntRange(2), help="Chunks of each app.")
@click.option("--chunk", default=500, show_default=True, type=click.IntRange(10), help="Rowsets per chunk.")
def main(before: Path, rows: int, rounds: int, chunk: int) -> None:
    """CPU per request of the --before tree's app and this checkout's, alternated in one process."""
    if not (before / "emulator" / "__init__.py").is_file():
        raise click.BadParameter(f"{before} holds no emulator package", param_hint="--before")
    with tempfile.TemporaryDirectory(prefix="wsgi-ab-") as tmp:
        folder = Path(tmp)
        shutil.copytree(before / "emulator", folder / "packages" / BEFORE_PACKAGE)
        sys.path.insert(0, str(folder / "packages"))
        apps = {"before": _emulator_app(folder, BEFORE_PACKAGE), "after": _emulator_app(folder)}
        statuses: list[str] = []
        serial = iter(range(10**9))

        def start_response(status, _headers, _exc_info=None):
            statuses.append(status)

        def call(app, token: str) -> None:
            i = next(serial)
            body = json.dumps([row(f"w{i}-{r}", i) for r in range(rows)]).encode()
            out = app(_environ(body, token), start_response)
            b"".join(out)
            if hasattr(out, "close"):
                out.close()

        for app, token in apps.values():
            for _ in range(200):  # warm-up: caches, the statement cache, the first pages
                call(app, token)
        cpu: dict[str, list[float]] = {name: [] for name in apps}
        for r in range(rounds):
            order = list(apps) if r % 2 == 0 else list(reversed(apps))
            for name in order:
                app, token = apps[name]
                started = time.process_time()
                for _ in range(chunk):
                    call(app, token)
                cpu[name].append((time.process_time() - started) / chunk * 1e6)
        for app, _token in apps.values():
            app.extensions["sfmc"].async_rows.stop()
            app.extensions["sfmc"].store.close()
        sys.path.remove(str(folder / "packages"))
    bad = [s for s in statuses if not s.startswith("200")]
    if bad:
        raise click.ClickException(f"{len(bad)} answers were not 200, e.g. {bad[0]}")
    for name, values in cpu.items():
        click.echo(
            f"{name:6} ({before if name == 'before' else 'this checkout'}): {rows}-row rowsets, CPU per request "
            f"min {min(values):.1f} us, median {statistics.median(values):.1f} us ({rounds} chunks of {chunk})"
        )
    old, new = statistics.median(cpu["before"]), statistics.median(cpu["after"])
    click.echo(f"after - before: {new - old:+.1f} us per request (medians), after / before {new / old:.3f}")


if __name__ == "__main__":
    main()
