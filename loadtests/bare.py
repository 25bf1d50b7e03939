"""The stack's ceiling: a bare Flask endpoint served by waitress exactly like the emulator.

``POST`` on any path parses the JSON body and echoes it, as a rowset upsert answers; ``/v2/token``
hands out a fixed token so the same locust user drives both servers. The ratio emulator/bare
says what the emulator's own work (auth, throttle, validation, SQLite, journal) costs.

    python -m loadtests.bare [--port 0] [--threads 8]
"""

from __future__ import annotations

import click
from flask import Flask, jsonify, request


def create_bare_app() -> Flask:
    app = Flask(__name__)
    app.json.sort_keys = False

    @app.get("/health")
    def health():
        return jsonify({"status": "ok"})

    @app.post("/v2/token")
    def token():
        return jsonify({"access_token": "bare", "token_type": "Bearer", "expires_in": 1079})

    @app.post("/<path:_path>")
    def echo(_path: str):
        return jsonify(request.get_json()), 200

    return app


@click.command()
@click.option("--port", default=0, show_default=True, help="Port on 127.0.0.1 (0 picks a free one).")
@click.option("--threads", default=8, show_default=True, help="waitress worker threads (the emulator's default).")
@click.option("--cpu", metavar="auto|N", help="Keep the process on one CPU, as the emulator's `serve --cpu`.")
def main(port: int, threads: int, cpu: str | None) -> None:
    """Serve the bare echo endpoint on 127.0.0.1."""
    from emulator.affinity import AffinityError, choose_cpus, parse_cpus, pin_process
    from emulator.waitress_server import create_server

    if cpu is not None:
        try:
            pin_process(choose_cpus(parse_cpus(cpu), 1)[0])
        except AffinityError as err:
            raise click.BadParameter(str(err), param_hint="'--cpu'") from None

    server = create_server(create_bare_app(), host="127.0.0.1", port=port, threads=threads, ident="bare")
    click.echo(f"bare flask listening on http://127.0.0.1:{server.effective_port}/", err=False)
    server.run()


if __name__ == "__main__":
    main()
