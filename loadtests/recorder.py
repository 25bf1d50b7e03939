"""Per-request samples from inside locust, for per-second figures and sliding-window checks.

Locust's own CSVs hold aggregates; a throttle check needs every answer's time and status. Each
locust process that sends requests (the local runner or each distributed worker) appends its
samples to ``$LOADTEST_SAMPLES_DIR/samples-<pid>.csv``; the run CLI merges them afterwards.
Notes (e.g. which optional routes a startup probe found) go to ``notes-<pid>.json``.

Columns: ``start`` (epoch seconds), ``ms`` (latency), ``status`` (0 = no answer), ``name``, ``group``
(the tenant, from the user's ``context()``).
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

SAMPLES_ENV = "LOADTEST_SAMPLES_DIR"
HEADER = ("start", "ms", "status", "name", "group")


class Recorder:
    def __init__(self) -> None:
        self.rows: list[tuple] = []
        self.notes: dict = {}

    def on_request(
        self,
        request_type,
        name,
        response_time,
        response_length,
        response=None,
        context=None,
        exception=None,
        start_time=None,
        **_kwargs,
    ) -> None:
        status = getattr(response, "status_code", 0) or 0
        group = (context or {}).get("tenant", "")
        self.rows.append((start_time, response_time, status, name, group))

    def note(self, key: str, value) -> None:
        self.notes[key] = value
        self._write_notes()

    def _dir(self) -> Path | None:
        raw = os.environ.get(SAMPLES_ENV)
        if not raw:
            return None
        path = Path(raw)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _write_notes(self) -> None:
        folder = self._dir()
        if folder is not None:
            (folder / f"notes-{os.getpid()}.json").write_text(json.dumps(self.notes, indent=2))

    def flush(self, **_kwargs) -> None:
        folder = self._dir()
        rows, self.rows = self.rows, []
        if folder is None or not rows:
            return
        path = folder / f"samples-{os.getpid()}.csv"
        new = not path.exists()
        with path.open("a", newline="") as out:
            writer = csv.writer(out)
            if new:
                writer.writerow(HEADER)
            writer.writerows((f"{s:.6f}", f"{ms:.3f}", status, name, group) for s, ms, status, name, group in rows)


RECORDER = Recorder()


def attach(events) -> Recorder:
    """Hook the recorder into a locustfile's ``locust.events``."""
    events.request.add_listener(RECORDER.on_request)
    events.test_stop.add_listener(RECORDER.flush)
    events.quitting.add_listener(RECORDER.flush)
    return RECORDER
