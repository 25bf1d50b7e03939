"""The adapter for this repository's connector: ``--connector python:conformance.bundled:run``.

The case's settings use the connector's own setting names, so they pass through; only what a
run needs locally (a throw-away outbox, a short async poll interval) is added.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from connector.delivery.destination import Destination, Planner
from connector.plan import plan
from connector.settings import load_settings


def build(settings: dict, outbox_dir: str, *, planner: Planner = plan) -> Destination:
    overrides = {**settings, "outbox_path": str(Path(outbox_dir) / "outbox.sqlite3")}
    batching = dict(overrides.get("batching") or {})
    if batching.get("enabled"):
        batching.setdefault("poll_interval", 0.05)  # the emulator picks jobs up within a fraction of a second
        overrides["batching"] = batching
    return Destination(load_settings(overrides=overrides, env={}), planner=planner)


def deliver(destination: Destination, events: list[dict]) -> dict:
    try:
        destination.accept(events)
        summary = destination.deliver_pending()
        return {
            **summary.as_dict(),
            "client": destination.client.stats.as_dict(),
            "rejected_events": destination.outbox.listing("rejected", limit=20),
        }
    finally:
        destination.outbox.close()


def run(settings: dict, events: list[dict], env: dict) -> dict:
    with tempfile.TemporaryDirectory(prefix="sfmc-outbox-") as tmp:
        return deliver(build(settings, tmp), events)
