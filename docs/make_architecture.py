"""Draw docs/architecture.png: the request chain and the layers of the emulator.

    python docs/make_architecture.py   (needs matplotlib, part of the test extra)

The step names are read from emulator/api/chain.py's STEPS, so the picture follows the code.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emulator.api.chain import STEPS  # noqa: E402

FAMILIES = ["auth", "rows", "data_extensions", "async_rows", "journeys", "contacts", "soap", "tenants"]
LAYERS = [
    ("api/<family>.py", "HTTP: Api declarations (rule, method, scope, OpenAPI), parse, render", "#dbeafe"),
    ("services/<family>.py", "state, locks, store calls; given store, clock, lookups, Rows.write", "#dcfce7"),
    ("domain/<family>.py", "pure SFMC rules: no Flask, no store", "#fef9c3"),
    ("store/", "one Store interface: SQLite, PostgreSQL", "#f3e8ff"),
]


def box(ax, x, y, w, h, text, color, size=9, weight="normal"):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.08", fc=color, ec="#334155"))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=size, weight=weight, wrap=True)


def arrow(ax, start, end):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=12, color="#334155", lw=1.2))


def main() -> None:
    fig, ax = plt.subplots(figsize=(14, 9))
    ax.set_xlim(0, 14)
    ax.set_ylim(0, 9)
    ax.axis("off")
    ax.text(7, 8.7, "SFMC emulator: the request chain and the layers", ha="center", fontsize=14, weight="bold")

    # the chain, left column, top to bottom
    box(ax, 0.3, 7.9, 3.6, 0.5, "HTTP request (REST, token, SOAP, /_emulator)", "#e2e8f0", 9, "bold")
    steps = [step.__name__ for step in STEPS]
    top, height, gap = 7.35, 0.42, 0.13
    for i, name in enumerate(steps):
        y = top - i * (height + gap)
        box(ax, 0.6, y, 3.0, height, f"{i + 1}. {name}", "#ffedd5")
        arrow(ax, (2.1, y + height + gap), (2.1, y + height))
    last = top - (len(steps) - 1) * (height + gap)
    ax.text(3.7, 7.55, "api/chain.py\nSTEPS", ha="left", fontsize=8, style="italic")
    box(ax, 0.6, last - 0.75, 3.0, 0.5, "view: one Api-declared route", "#dbeafe", 9, "bold")
    arrow(ax, (2.1, last), (2.1, last - 0.25))
    ax.text(2.1, last - 1.05, "errors.py: named errors, one renderer per protocol", ha="center", fontsize=8)

    # the layers, right side: one column per family, one row per layer
    x0, width = 4.6, 9.1
    col = width / len(FAMILIES)
    for j, family in enumerate(FAMILIES):
        ax.text(x0 + col * j + col / 2, 7.9 + 0.18 * (j % 2), family, ha="center", fontsize=8.5, weight="bold")
    ax.text(x0 + width / 2, 8.4, "one vertical per SFMC API family, one name in every layer", ha="center", fontsize=10)
    row_h, row_gap, y = 1.2, 0.45, 6.35
    for i, (name, text, color) in enumerate(LAYERS):
        box(ax, x0, y, width, row_h, "", color)
        ax.text(x0 + 0.15, y + row_h - 0.25, name, fontsize=10, weight="bold", va="center")
        ax.text(x0 + 0.15, y + 0.25, text, fontsize=8.5, va="center")
        if i < len(LAYERS) - 1:
            arrow(ax, (x0 + width / 2, y), (x0 + width / 2, y - row_gap))
        y -= row_h + row_gap
    box(
        ax,
        x0,
        0.15,
        width,
        0.5,
        "core.Emulator: builds the services over one store and clock; tenant create/delete/reset",
        "#e2e8f0",
    )
    arrow(ax, (3.6, last - 0.5), (x0, 6.95))

    out = ROOT / "docs" / "architecture.png"
    fig.savefig(out, dpi=110, bbox_inches="tight")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
