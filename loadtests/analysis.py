"""Figures from recorded samples: per-second series, percentiles, sliding-window throttle checks."""

from __future__ import annotations

import csv
import json
import math
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Sample:
    start: float  # epoch seconds when the request was sent
    ms: float  # latency in milliseconds
    status: int  # HTTP status, 0 when no answer came
    name: str
    group: str  # the tenant

    @property
    def end(self) -> float:
        return self.start + self.ms / 1000.0

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300


def load_samples(folder: Path) -> list[Sample]:
    samples = []
    for path in sorted(Path(folder).glob("samples-*.csv")):
        with path.open(newline="") as f:
            for r in csv.DictReader(f):
                samples.append(Sample(float(r["start"]), float(r["ms"]), int(r["status"]), r["name"], r["group"]))
    samples.sort(key=lambda s: s.start)
    return samples


def load_notes(folder: Path) -> dict:
    notes: dict = {}
    for path in sorted(Path(folder).glob("notes-*.json")):
        notes.update(json.loads(path.read_text()))
    return notes


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


def latency(samples: list[Sample]) -> dict:
    ms = [s.ms for s in samples]
    return {"p50_ms": percentile(ms, 50), "p95_ms": percentile(ms, 95), "p99_ms": percentile(ms, 99)}


def per_second(samples: list[Sample], t0: float | None = None) -> list[dict]:
    """One row per second of the run: offered (sent), accepted (2xx), 429, other, latency percentiles."""
    if not samples:
        return []
    t0 = samples[0].start if t0 is None else t0
    buckets: dict[int, list[Sample]] = defaultdict(list)
    for s in samples:
        buckets[int(s.start - t0)].append(s)
    rows = []
    for second in range(max(buckets) + 1):
        group = buckets.get(second, [])
        rows.append(
            {
                "second": second,
                "offered": len(group),
                "accepted": sum(s.accepted for s in group),
                "throttled": sum(s.status == 429 for s in group),
                "other": sum(not s.accepted and s.status != 429 for s in group),
                **latency(group),
            }
        )
    return rows


def max_in_window(spans: list[tuple[float, float]], window: float) -> int:
    """The most ``(start, end)`` spans lying wholly inside one half-open window ``[t, t + window)``, over all
    starting points (a window holding a set of spans can start at the earliest of their starts)."""
    ordered = sorted(spans)
    starts = [start for start, _end in ordered]
    best = 0
    for i, t in enumerate(starts):
        last = bisect_left(starts, t + window, lo=i)
        if last - i > best:
            best = max(best, sum(1 for _start, end in ordered[i:last] if end < t + window))
    return best


def throttle_check(samples: list[Sample], limit: float, burst: float, windows=(1.0, 5.0, 10.0)) -> dict:
    """Accepted answers per sliding window against ``limit * window + burst``.

    The server admitted each accepted call at some moment between its sending and its answer's arrival at
    the client, so a window counts the calls whose whole round trip lies inside it: each was admitted inside
    the window, and a server admitting more than the bound shows. Answers bunched on their way back (a busy
    client machine) are not mistaken for admissions bunched at the server.
    """
    accepted = [(s.start, s.end) for s in samples if s.accepted]
    out = {"limit": limit, "burst": burst, "windows": []}
    for window in windows:
        most = max_in_window(accepted, window)
        bound = limit * window + burst
        out["windows"].append({"seconds": window, "max_accepted": most, "bound": bound, "ok": most <= bound})
    out["ok"] = all(w["ok"] for w in out["windows"])
    return out


def summarize(samples: list[Sample], seconds: float | None = None) -> dict:
    """Totals, rates and latency for a run (or one tenant of it)."""
    if not samples:
        return {
            "requests": 0,
            "accepted": 0,
            "throttled": 0,
            "other": 0,
            "duration_s": 0.0,
            "req_per_s": 0.0,
            "accepted_per_s": 0.0,
            **latency([]),
        }
    duration = seconds or max(max(s.end for s in samples) - samples[0].start, 1e-9)
    accepted = [s for s in samples if s.accepted]
    throttled = [s for s in samples if s.status == 429]
    return {
        "requests": len(samples),
        "accepted": len(accepted),
        "throttled": len(throttled),
        "other": len(samples) - len(accepted) - len(throttled),
        "statuses": dict(sorted(_count(s.status for s in samples).items())),
        "duration_s": round(duration, 3),
        "req_per_s": len(samples) / duration,
        "accepted_per_s": len(accepted) / duration,
        **latency(samples),
        "accepted_latency": latency(accepted),
        "throttled_latency": latency(throttled),
        "by_name": {
            name: {"requests": len(group), "accepted": sum(s.accepted for s in group), **latency(group)}
            for name, group in sorted(_group(samples, lambda s: s.name).items())
        },
    }


def by_group(samples: list[Sample]) -> dict[str, list[Sample]]:
    return dict(sorted(_group(samples, lambda s: s.group).items()))


def _group(samples, key) -> dict:
    out: dict = defaultdict(list)
    for s in samples:
        out[key(s)].append(s)
    return out


def _count(values) -> dict:
    out: dict = defaultdict(int)
    for v in values:
        out[str(v)] += 1
    return out


def fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"
