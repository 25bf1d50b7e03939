"""Overhead of the HTTPS/proxy path: requests/s through the forward proxy divided by requests/s direct.

Starts one ``sfmc-emulator serve --proxy-port 0 --tls-port 0 --rate-limit 0`` with the demo tenant and
drives ``POST /hub/v1/dataevents/key:segment-identify/rowset`` (one row) in three ways, one after the
other, from ``--users`` client processes (requests.Session: keep-alive, closed loop):

- ``direct``: ``http://127.0.0.1:{port}/`` as today's clients do (the baseline);
- ``proxy``: ``https://{sub}.rest.marketingcloudapis.com/`` through the proxy (CONNECT, TLS with the local CA),
  as an unmodified client does with ``HTTPS_PROXY``; the tunnel is kept alive across requests;
- ``https``: the HTTPS listener by address (TLS, no proxy).

Each mode runs once per round, in the order ABC, then CBA, ... (``--rounds``), and its figure counts the
answers after a warm-up second of every run. Client-side TLS costs are part of what a client
sees, so they are part of the ratio. On a small shared machine the ratio means more than the figures.

    python -m loadtests.bench_proxy [--seconds 5] [--users 4] [--rounds 2] [--json-out figures.json]
"""

from __future__ import annotations

import json
import multiprocessing
import re
import tempfile
import time
from pathlib import Path

import click
import requests

from emulator.launcher import start_emulator

SUB = "mc563885gzs27c5t9-63k636ttgm"  # the demo tenant's subdomain
CREDENTIALS = {"grant_type": "client_credentials", "client_id": "demo-client-id", "client_secret": "demo-client-secret"}
PATH = "hub/v1/dataevents/key:segment-identify/rowset"
WARMUP = 1.0


def _worker(args: tuple) -> tuple[int, int, float]:
    """(answers counted, non-200 answers, seconds counted) for one closed-loop client."""
    auth_url, rest_base, proxy, verify, seconds, index = args
    session = requests.Session()
    session.trust_env = False
    if proxy:
        session.proxies = {"https": proxy, "http": proxy}
    session.verify = verify
    token = session.post(auth_url, json=CREDENTIALS, timeout=30).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    url = rest_base + PATH
    started = time.perf_counter()
    count_from, end = started + WARMUP, started + WARMUP + seconds
    counted = failed = i = 0
    while (now := time.perf_counter()) < end:
        i += 1
        body = [{"keys": {"Contact Key": f"bench-{index}-{i % 1000}"}, "values": {"Email": "b@example.com"}}]
        answer = session.post(url, json=body, headers=headers, timeout=30)
        if now >= count_from:
            counted += 1
            failed += answer.status_code != 200
    session.close()
    return counted, failed, seconds


def measure(name: str, auth_url: str, rest_base: str, proxy: str | None, verify, users: int, seconds: float) -> dict:
    with multiprocessing.get_context("spawn").Pool(users) as pool:
        results = pool.map(_worker, [(auth_url, rest_base, proxy, verify, seconds, i) for i in range(users)])
    counted = sum(r[0] for r in results)
    failed = sum(r[1] for r in results)
    figure = {"mode": name, "users": users, "seconds": seconds, "requests": counted, "non_200": failed}
    figure["requests_per_second"] = round(counted / seconds, 1)
    return figure


def _combined(name: str, runs: list[dict]) -> dict:
    requests_, seconds = sum(r["requests"] for r in runs), sum(r["seconds"] for r in runs)
    return {
        "mode": name,
        "users": runs[0]["users"],
        "seconds": seconds,
        "requests": requests_,
        "non_200": sum(r["non_200"] for r in runs),
        "requests_per_second": round(requests_ / seconds, 1),
        "per_round": [r["requests_per_second"] for r in runs],
    }


@click.command()
@click.option("--seconds", default=5.0, show_default=True, type=click.FloatRange(min=0.5))
@click.option("--users", default=4, show_default=True, type=click.IntRange(1, 64), help="Client processes.")
@click.option("--rounds", default=2, show_default=True, type=click.IntRange(1, 20), help="ABC, CBA, ... rounds.")
@click.option("--json-out", type=click.Path(dir_okay=False), help="Also write the figures here.")
def main(seconds: float, users: int, rounds: int, json_out: str | None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        ca_dir = Path(folder) / "ca"
        server = start_emulator(
            "--proxy-port", "0", "--tls-port", "0", "--ca-dir", str(ca_dir), "--rate-limit", "0", demo=True
        )
        try:
            banner = "\n".join(server.banner)
            proxy = "http://" + re.search(r"proxy on http://(\S+?)/", banner).group(1)
            https = "https://" + re.search(r"HTTPS on https://(\S+?)/", banner).group(1)
            ca = str(ca_dir / "ca.pem")
            modes = [
                ("direct", f"{server.url}/v2/token", f"{server.url}/", None, True),
                (
                    "proxy",
                    f"https://{SUB}.auth.marketingcloudapis.com/v2/token",
                    f"https://{SUB}.rest.marketingcloudapis.com/",
                    proxy,
                    ca,
                ),
                ("https", f"{https}/v2/token", f"{https}/", None, ca),
            ]
            # ABC then CBA: a machine whose load drifts during the run biases no mode
            runs: dict[str, list[dict]] = {name: [] for name, *_ in modes}
            for round_ in range(rounds):
                for name, a, r, p, v in modes if round_ % 2 == 0 else modes[::-1]:
                    runs[name].append(measure(name, a, r, p, v, users, seconds))
            figures = [_combined(name, found) for name, found in runs.items()]
        finally:
            server.stop()
    by_mode = {f["mode"]: f for f in figures}
    direct = by_mode["direct"]["requests_per_second"] or 1.0
    report = {
        "tool": f"requests.Session (keep-alive), {users} client processes, closed loop, 1-row rowset",
        "figures": figures,
        "ratio_proxy_to_direct": round(by_mode["proxy"]["requests_per_second"] / direct, 3),
        "ratio_https_to_direct": round(by_mode["https"]["requests_per_second"] / direct, 3),
    }
    click.echo(report["tool"])
    for f in figures:
        click.echo(
            f"  {f['mode']:<7} {f['requests_per_second']:>8.1f} req/s  ({f['requests']} answers, "
            f"{f['non_200']} not 200; per round {f['per_round']})"
        )
    click.echo(
        f"  proxy/direct {report['ratio_proxy_to_direct']:.3f}   https/direct {report['ratio_https_to_direct']:.3f}"
    )
    if json_out:
        Path(json_out).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
