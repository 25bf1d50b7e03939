"""PNG plots of a run: what was offered, accepted and throttled each second, and latency over time."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on CI machines

import matplotlib.pyplot as plt


def throughput(
    rows: list[dict],
    path: Path,
    title: str,
    limit: float | None = None,
    per_tenant: dict[str, list[dict]] | None = None,
) -> Path:
    """Offered, accepted (2xx) and 429 per second, with the rate limit as a horizontal line."""
    fig, ax = plt.subplots(figsize=(10, 5.5), dpi=100)
    seconds = [r["second"] for r in rows]
    ax.plot(seconds, [r["offered"] for r in rows], color="tab:gray", lw=1.5, label="offered (sent)")
    ax.plot(seconds, [r["throttled"] for r in rows], color="tab:red", lw=1.5, label="429 rate limited")
    if per_tenant and len(per_tenant) > 1:
        for name, tenant_rows in per_tenant.items():
            ax.plot(
                [r["second"] for r in tenant_rows],
                [r["accepted"] for r in tenant_rows],
                lw=1.8,
                label=f"accepted 2xx: {name}",
            )
    else:
        ax.plot(seconds, [r["accepted"] for r in rows], color="tab:green", lw=2.5, label="accepted (2xx)")
    if limit:
        label = f"rate limit {limit:g} req/s" + (" per tenant" if per_tenant and len(per_tenant) > 1 else "")
        ax.axhline(limit, color="black", ls="--", lw=1.2, label=label)
        ax.annotate(label, xy=(0, limit), xytext=(4, 4), textcoords="offset points", fontsize=9)
    ax.set(xlabel="seconds into the run", ylabel="requests per second", title=title)
    return _save(fig, ax, path)


def latency(rows: list[dict], path: Path, title: str) -> Path:
    """p50, p95 and p99 latency of each second's answers."""
    fig, ax = plt.subplots(figsize=(10, 4.5), dpi=100)
    seconds = [r["second"] for r in rows]
    for key, color in (("p50_ms", "tab:blue"), ("p95_ms", "tab:orange"), ("p99_ms", "tab:red")):
        ax.plot(
            seconds,
            [r[key] if r[key] is not None else float("nan") for r in rows],
            color=color,
            lw=1.5,
            label=key.replace("_ms", ""),
        )
    ax.set(xlabel="seconds into the run", ylabel="latency (ms)", title=title)
    return _save(fig, ax, path)


def _save(fig, ax, path: Path) -> Path:
    """The finish every plot shares: axis from zero, grid, legend, written to ``path``."""
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
