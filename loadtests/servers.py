"""Which WSGI server: the emulator and the bare Flask echo, each served by waitress, gunicorn and granian.

For every server, the bare echo (``loadtests.bare``) and the emulator (a temporary SQLite file, the
load test's tenant with throttling off) are served the same way, one worker process with the same
threads, and driven by the throughput benchmark's locust user (``bench_sync.measure``) at 1 and 50
rows per request. Printed per server: req/s of both, the ratio emulator/bare (what ``loadtests.ratios``
judges), and each server's figures over waitress's from the same run.

- waitress: ``threads`` worker threads, one asyncore I/O thread (the emulator's server);
- waitress-1cpu: the same, the process kept on its least busy CPU (``serve --cpu auto``, ``emulator/affinity.py``);
- gunicorn: ``gthread`` worker class, 1 worker process, ``threads`` threads;
- granian: ``--interface wsgi``, 1 worker process, ``threads`` blocking threads, Rust I/O.

    python -m loadtests.servers [--servers waitress,waitress-1cpu,gunicorn,granian] [--seconds 8] [--users 8]
    python -m loadtests.servers serve --server granian --app bare   # one server alone (used by the above)

gunicorn and granian are not dependencies of the emulator: ``pip install gunicorn granian`` to run this.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
from pathlib import Path

import click

from emulator.launcher import start_process

from .bench_sync import TOOL, line, measure
from .common import REPO, child_env, running

SERVERS = ("waitress", "waitress-1cpu", "gunicorn", "granian")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the applications, built inside the serving process ------------------------------------------


def bare_app():
    from .bare import create_bare_app

    return create_bare_app()


def emulator_app():
    from emulator import Config
    from emulator.app import create_app

    return create_app(Config(database=os.environ["LOADTEST_SERVERS_DB"], journal_size=100_000))


def serve_waitress(app_factory, port: int, threads: int) -> None:
    from emulator.waitress_server import create_server

    create_server(app_factory(), host="127.0.0.1", port=port, threads=threads, connection_limit=1000).run()


def serve_gunicorn(app_factory, port: int, threads: int) -> None:
    from gunicorn.app.base import BaseApplication

    class One(BaseApplication):
        def load_config(self):
            for key, value in {
                "bind": f"127.0.0.1:{port}",
                "workers": 1,
                "worker_class": "gthread",
                "threads": threads,
                "worker_connections": 1000,
                "keepalive": 5,
                "loglevel": "warning",
            }.items():
                self.cfg.set(key, value)

        def load(self):  # in the worker process, after the fork (the emulator starts threads)
            return app_factory()

    One().run()


def serve_granian(app_name: str, port: int, threads: int) -> None:
    from granian import Granian

    Granian(
        f"loadtests.servers:{app_name}_app",
        address="127.0.0.1",
        port=port,
        interface="wsgi",
        factory=True,
        workers=1,
        blocking_threads=threads,
        log_level="warning",
    ).serve()


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--servers", "names", default=",".join(SERVERS), show_default=True, help="Comma-separated servers.")
@click.option("--seconds", default=8.0, show_default=True, type=click.FloatRange(min=1), help="Each measurement.")
@click.option("--users", default=8, show_default=True, type=click.IntRange(min=1), help="Closed-loop locust users.")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(min=1), help="Threads of every server.")
@click.option("--json-out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the figures as JSON.")
@click.pass_context
def main(ctx, names, seconds, users, threads, json_out):
    """req/s of the emulator and of the bare echo under each server, measured side by side in one run."""
    if ctx.invoked_subcommand is not None:
        return
    chosen = [n.strip() for n in names.split(",") if n.strip()]
    unknown = set(chosen) - set(SERVERS)
    if unknown:
        raise click.BadParameter(f"unknown server(s) {', '.join(sorted(unknown))}; known: {', '.join(SERVERS)}")
    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="servers-") as tmp:
        folder = Path(tmp)
        for name in chosen:
            env = child_env(LOADTEST_SERVERS_DB=str(folder / f"{name}.sqlite3"))
            cmd = [sys.executable, "-m", "loadtests.servers", "serve", "--server", name, "--threads", str(threads)]
            started = [
                start_process(
                    [*cmd, "--app", app], name=f"{app} on {name}", health=health, env=env, cwd=REPO, timeout=60
                )
                for app, health in (("emulator", "/_emulator/health"), ("bare", "/health"))
            ]
            with running(*started) as (emu, bare):
                click.echo(f"{name}: 1 worker process, {threads} threads; client {TOOL}, {users} users")
                for rows in (1, 50):
                    pair = {
                        t: measure(u, folder, target=t, rows=rows, users=users, seconds=seconds, tag=f"{name}-{t}")
                        for t, u in (("emulator", emu.url), ("bare", bare.url))
                    }
                    for figures in pair.values():
                        click.echo("   " + line(figures))
                    ratio = pair["emulator"]["req_per_s"] / pair["bare"]["req_per_s"]
                    click.echo(f"   {rows}-row emulator/bare = {ratio:.2f}")
                    out.setdefault(name, {})[rows] = {**pair, "ratio": round(ratio, 3)}
    click.echo("\nsummary (req/s; ratios over waitress from this run):")
    heads = ("server", "rows", "emulator", "bare", "emu/bare", "emu/waitress", "bare/waitress")
    click.echo("   " + " ".join(f"{h:>{w}}" for h, w in zip(heads, (13, 4, 9, 9, 9, 13, 14), strict=True)))
    for name, by_rows in out.items():
        for rows, f in by_rows.items():
            emu, bare = f["emulator"]["req_per_s"], f["bare"]["req_per_s"]
            base = out.get("waitress", {}).get(rows)
            rel = (
                (f"{emu / base['emulator']['req_per_s']:.2f}", f"{bare / base['bare']['req_per_s']:.2f}")
                if base
                else ("-", "-")
            )
            click.echo(f"   {name:<13} {rows:>4} {emu:>9.1f} {bare:>9.1f} {f['ratio']:>9.2f} {rel[0]:>13} {rel[1]:>14}")
    if json_out:
        json_out.write_text(json.dumps(out, indent=2))


@main.command()
@click.option("--server", type=click.Choice(SERVERS), required=True)
@click.option("--app", "app_name", type=click.Choice(["emulator", "bare"]), required=True)
@click.option("--threads", default=8, show_default=True, type=click.IntRange(min=1))
def serve(server, app_name, threads):
    """Serve one application with one server on a free port of 127.0.0.1."""
    port = free_port()
    click.echo(f"{app_name} on {server} listening on http://127.0.0.1:{port}/")
    sys.stdout.flush()
    factory = bare_app if app_name == "bare" else emulator_app
    if server == "waitress-1cpu":
        from emulator.affinity import choose_cpus, pin_process

        pin_process(choose_cpus(None, 1)[0])
    if server.startswith("waitress"):
        serve_waitress(factory, port, threads)
    elif server == "gunicorn":
        serve_gunicorn(factory, port, threads)
    else:
        serve_granian(app_name, port, threads)


if __name__ == "__main__":
    main()
