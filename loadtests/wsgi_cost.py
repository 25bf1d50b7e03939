"""CPU per request of the emulator's WSGI application alone: no server, no socket, no test client.

Builds the app as ``serve`` does (a SQLite file, ``--journal-size 100000``), one tenant with throttling
off and the benchmark's 10-column Data Extension, then calls the WSGI callable directly with a
prepared environ of a rowset upsert (the headers a locust client sends), each request a new key.
Prints the CPU time per request, min and median of 5 chunks: what the application itself costs, to
hold beside the live server's CPU per request (``loadtests.side_by_side``), whose difference is the
server's own work. ``--threads N`` makes N threads call the app at once (as waitress's worker
threads do), to show what they cost each other (locks, the GIL handed around SQLite calls).

    python -m loadtests.wsgi_cost [--rows 1] [--requests 5000] [--threads 1] [--bare]

``--bare`` measures the bare Flask echo (``loadtests.bare``) the same way.
"""

from __future__ import annotations

import importlib
import io
import json
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import click

from .common import DE_KEY, FIELDS, row

CLIENT_ID, CLIENT_SECRET = "wsgi-cost-client-id", "wsgi-cost-client-secret"


def _emulator_app(folder: Path, package: str = "emulator"):
    """The app as ``serve`` builds it, from ``package`` (``loadtests.wsgi_ab`` imports an older tree's
    copy under another name), with the benchmark's tenant; and a token of it."""
    config_class = importlib.import_module(package).Config
    create_app = importlib.import_module(f"{package}.app").create_app
    app = create_app(config_class(database=str(folder / f"{package}.sqlite3"), journal_size=100_000))
    client = app.test_client()
    created = client.post(
        "/_emulator/tenants",
        json={
            "id": "wsgi-cost",
            "settings": {"rate_limit": 0},
            "packages": [{"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}],
            "data_extensions": [{"key": DE_KEY, "name": "Loadtest Identify", "fields": FIELDS}],
        },
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    token = client.post(
        "/v2/token", json={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    ).get_json()["access_token"]
    return app, token


def _environ(body: bytes, token: str) -> dict:
    return {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": f"/hub/v1/dataevents/key:{DE_KEY}/rowset",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8085",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8085",
        "HTTP_USER_AGENT": "python/locust",
        "HTTP_ACCEPT_ENCODING": "gzip, deflate",
        "HTTP_ACCEPT": "*/*",
        "HTTP_CONNECTION": "keep-alive",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_AUTHORIZATION": f"Bearer {token}",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }


def _calls(call, first: int, n: int) -> None:
    for i in range(first, first + n):
        call(i)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--rows", default=1, show_default=True, type=click.IntRange(1, 5000), help="Rows per rowset.")
@click.option("--requests", "count", default=5000, show_default=True, type=click.IntRange(5), help="Rowsets posted.")
@click.option("--threads", default=1, show_default=True, type=click.IntRange(1, 64), help="Threads calling the app.")
@click.option("--bare", is_flag=True, help="The bare Flask echo instead of the emulator.")
def main(rows, count, threads, bare):
    """CPU per request of the app called as WSGI in process."""
    with tempfile.TemporaryDirectory(prefix="wsgi-cost-") as tmp:
        if bare:
            from .bare import create_bare_app

            app, token = create_bare_app(), "bare"
        else:
            app, token = _emulator_app(Path(tmp))
        statuses: list[str] = []

        def start_response(status, _headers, _exc_info=None):
            statuses.append(status)

        def call(i: int) -> None:
            body = json.dumps([row(f"w{i}-{r}", i) for r in range(rows)]).encode()
            out = app(_environ(body, token), start_response)
            b"".join(out)
            if hasattr(out, "close"):
                out.close()

        for i in range(200):  # warm-up: caches, the statement cache, the first pages
            call(-1 - i)
        chunk = count // 5
        per_request = []
        usage = resource.getrusage(resource.RUSAGE_SELF)
        for c in range(5):
            started = time.process_time()
            if threads == 1:
                for i in range(c * chunk, (c + 1) * chunk):
                    call(i)
            else:
                share = chunk // threads
                workers = [
                    threading.Thread(target=_calls, args=(call, c * chunk + k * share, share)) for k in range(threads)
                ]
                for worker in workers:
                    worker.start()
                for worker in workers:
                    worker.join()
            done = chunk if threads == 1 else share * threads
            per_request.append((time.process_time() - started) / done * 1e6)
        after = resource.getrusage(resource.RUSAGE_SELF)
        bad = [s for s in statuses if not s.startswith("200")]
        if bad:
            raise click.ClickException(f"{len(bad)} answers were not 200, e.g. {bad[0]}")
    switches = (after.ru_nvcsw - usage.ru_nvcsw) / max(1, len(statuses) - 200)
    click.echo(
        f"{'bare echo' if bare else 'emulator'}, {rows}-row rowsets, {threads} thread(s): CPU per request "
        f"min {min(per_request):.0f} us, median {statistics.median(per_request):.0f} us "
        f"(5 chunks of {chunk}); {switches:.2f} voluntary context switches per request"
    )


if __name__ == "__main__":
    main()
