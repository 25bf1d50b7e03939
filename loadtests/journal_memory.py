"""The emulator's memory under requests with huge headers: RSS stays bounded by the journal's limits.

Sends ``--requests`` SFMC calls, each with a ``--header-kb`` header, spread over ``--tenants`` tenants,
to an emulator process, and reads that process's resident memory (``/proc/<pid>/status``) as it goes.
The journal keeps each header value cut at 1 KB and all tenants' entries under ``--journal-mb``,
so RSS levels off instead of growing with every request.

    python -m loadtests.journal_memory                      # 100,000 requests with 250 KB headers
    python -m loadtests.journal_memory --requests 20000 --tenants 200
"""

from __future__ import annotations

import itertools
import tempfile
import threading
from pathlib import Path

import click
import requests
from tqdm import tqdm

from .common import credentials, ensure_tenant, get_token, running, start_emulator


def rss_mb(pid: int) -> tuple[float, float]:
    """(resident, peak resident) of a process in MB, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


@click.command()
@click.option("--requests", "total", default=100_000, show_default=True, help="SFMC calls to send.")
@click.option("--header-kb", default=250, show_default=True, help="Size of the extra header on each call.")
@click.option("--tenants", default=20, show_default=True, help="Tenants the calls are spread over.")
@click.option("--journal-mb", default=64, show_default=True, help="The emulator's --journal-mb bound.")
@click.option("--threads", default=4, show_default=True, help="Client threads (keep-alive sessions).")
def main(total: int, header_kb: int, tenants: int, journal_mb: int, threads: int) -> None:
    header = "h" * (header_kb * 1000)
    with tempfile.TemporaryDirectory(prefix="sfmc-journal-memory-") as tmp:
        server = start_emulator(Path(tmp), "--journal-mb", str(journal_mb), "--journal-size", "1000")
        with running(server):
            pid = server.proc.pid
            tokens = []
            for n in range(tenants):
                tenant = ensure_tenant(server.url, f"mem-{n}", {"rate_limit": 0})
                tokens.append(get_token(server.url, *credentials(tenant)))
            start_rss, _ = rss_mb(pid)
            counter = itertools.count()
            lock = threading.Lock()
            statuses: dict[int, int] = {}
            samples: list[tuple[int, float]] = []
            bar = tqdm(total=total, unit="req", desc="requests", mininterval=1.0)

            def send() -> None:
                session = requests.Session()
                while (i := next(counter)) < total:
                    response = session.get(
                        f"{server.url}/data/v1/customobjects?$search=",
                        headers={"Authorization": f"Bearer {tokens[i % tenants]}", "X-Padding": header},
                        timeout=60,
                    )
                    with lock:
                        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                        bar.update(1)
                        if i % max(1, total // 10) == 0:
                            samples.append((i, rss_mb(pid)[0]))

            workers = [threading.Thread(target=send) for _ in range(threads)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            bar.close()
            end_rss, peak_rss = rss_mb(pid)
            metrics = requests.get(f"{server.url}/_emulator/metrics", timeout=30).text
            journal_bytes = next(
                float(line.split()[1])
                for line in metrics.splitlines()
                if line.startswith("sfmc_emulator_journal_bytes ")
            )
    print(f"\n{total:,} requests with a {header_kb} KB header over {tenants} tenants; statuses {statuses}")
    print(f"{'after request':>14} {'RSS MB':>8}")
    for i, rss in sorted(samples):
        print(f"{i:>14,} {rss:>8.1f}")
    # The journal counts what its entries hold with a fixed per-entry estimate of Python's overhead;
    # the real cost runs a little over it, hence the 25% margin of the stated bound.
    bound = start_rss + 1.25 * journal_mb
    half = [rss for i, rss in samples if i >= total // 2]
    print(f"RSS at start {start_rss:.1f} MB, at end {end_rss:.1f} MB, peak {peak_rss:.1f} MB")
    if half:
        print(
            f"RSS over the second half: {min(half):.1f} .. {max(half):.1f} MB (levelled off when this range is narrow)"
        )
    print(f"journal holds {journal_bytes / 2**20:.1f} MB (bound {journal_mb} MB)")
    verdict = "HOLDS" if peak_rss <= bound else "EXCEEDED"
    print(f"bound stated: start RSS + 1.25 x --journal-mb = {bound:.1f} MB -> {verdict}")


if __name__ == "__main__":
    main()
