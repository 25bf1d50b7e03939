"""Every load scenario stays runnable: short headless runs against real emulator processes.

Each run starts its own emulator on a free port with a temporary database and writes its report
into a temporary folder, so these pass under ``pytest -n auto``. No timing assertions: the
machines are small and noisy; what is checked is that the figures are sane (the throttle refuses
what is over the limit and never lets more than ``limit x window + burst`` through).
"""

from __future__ import annotations

import csv
import json
import os

import matplotlib.image
import pytest
from click.testing import CliRunner

from loadtests import analysis
from loadtests.run import execute, main
from tests.loadtests.script_helpers import run_script

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_report(out, scenario: str) -> dict:
    for name in ("summary.json", "per_second.csv", "throughput.png", "latency.png"):
        assert (out / name).stat().st_size > 0, name
    for name in ("throughput.png", "latency.png"):
        assert (out / name).read_bytes().startswith(PNG_MAGIC)
        height, width, _channels = matplotlib.image.imread(out / name).shape
        assert width >= 600 and height >= 300
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"] == scenario
    with (out / "per_second.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r["tenant"] == "(all)"]
    assert rows and sum(int(r["offered"]) for r in rows) == summary["total"]["requests"]
    assert summary["total"]["statuses"].get("500") is None
    return summary


def assert_throttled(tenant: dict, limit: float = 20.0, burst: float = 20.0) -> None:
    assert tenant["throttled"] > 0, "an overloaded tenant gets 429s"
    assert 0 < tenant["accepted"] <= limit * tenant["duration_s"] + burst
    check = tenant["throttle_check"]
    assert check["ok"], check["windows"]
    assert (check["limit"], check["burst"]) == (limit, burst)


def test_throttle_scenario_refuses_what_is_over_the_limit(tmp_path):
    out = tmp_path / "throttle"
    summary = execute("throttle", seconds=5, users=80, out=out, env={"LOADTEST_MIN_RPS": 40}, echo=lambda _m: None)
    assert_report(out, "throttle")
    (tenant,) = summary["tenants"].values()
    assert_throttled(tenant)
    assert set(summary["total"]["statuses"]) <= {"200", "429"}
    assert (out / "locust_stats.csv").stat().st_size > 0  # locust's own figures sit beside ours


def test_multitenant_scenario_gives_each_tenant_its_own_limit(tmp_path):
    out = tmp_path / "multi"
    summary = execute("multitenant", seconds=5, users=80, out=out, env={"LOADTEST_TENANTS": 2}, echo=lambda _m: None)
    assert_report(out, "multitenant")
    assert len(summary["tenants"]) == 2
    for tenant in summary["tenants"].values():
        assert_throttled(tenant)
    with (out / "per_second.csv").open() as f:
        assert {r["tenant"] for r in csv.DictReader(f)} == {"(all)", *summary["tenants"]}


def test_mix_scenario_runs_every_available_route(tmp_path):
    out = tmp_path / "mix"
    summary = execute("mix", seconds=4, users=4, out=out, echo=lambda _m: None)
    assert_report(out, "mix")
    by_name = summary["total"]["by_name"]
    for name in ("token", "rowset 1 row", "rowset 50 rows", "row PUT", "read rowset"):
        assert by_name[name]["requests"] > 0, name
        assert by_name[name]["accepted"] == by_name[name]["requests"], (name, by_name[name])
    routes = summary["notes"]["routes"]
    assert set(routes) == {"async", "events", "contacts"}
    optional = {"async": "async submit", "events": "API event", "contacts": "contact upsert"}
    for route, state in routes.items():
        if state == "available":
            continue
        # a route the emulator does not have yet is reported, and its task sends nothing
        assert state.startswith("not available"), state
        assert optional[route] not in by_name


def test_connector_scenario_delivers_under_the_limit(tmp_path):
    out = tmp_path / "connector"
    summary = execute("connector", seconds=4, users=20, out=out, echo=lambda _m: None)
    assert_report(out, "connector")
    assert set(summary["total"]["statuses"]) == {"200"}, "the connector takes every batch into its outbox"
    connector = summary["connector"]
    assert connector["events_accepted"] == summary["total"]["accepted"] * connector["events_per_batch"] > 0
    sfmc = connector["sfmc"]
    assert sfmc["statuses"]["5xx"] == 0 and sfmc["data_calls"] > 0
    # the connector paces itself: on the SFMC side no window holds more than limit x window + burst
    check = connector["throttle_check"]
    assert check["ok"], check["windows"]
    assert (check["limit"], check["burst"]) == (20.0, 20.0)
    assert connector["rows_delivered"] > 0 and connector["rows_failed"] == 0
    if connector["drain"]["drained"]:
        assert connector["rows_delivered"] >= connector["events_accepted"]
    with (out / "per_second.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert sum(int(r["sfmc_rows"]) for r in rows) == connector["rows_delivered"]
    assert max(int(r["sfmc_accepted"]) + int(r["sfmc_throttled"]) for r in rows) == sfmc["peak_calls_in_a_second"]
    assert (out / "connector.log").read_text().startswith("Segment tracking API listening on http://127.0.0.1:")


def test_distributed_mode_through_the_cli(tmp_path):
    out = tmp_path / "distributed"
    result = CliRunner().invoke(
        main, ["throttle", "--seconds", "5", "--users", "60", "--workers", "1", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    summary = assert_report(out, "throttle")
    assert summary["locust_processes"] == {"workers": 1, "master": True}
    assert "--master" in summary["command"]
    assert list((out / "raw-locust").glob("samples-*.csv")), "the worker recorded the samples"
    (tenant,) = summary["tenants"].values()
    assert_throttled(tenant)
    assert "report:" in result.output and "429" in result.output


def test_run_cli_help_lists_the_scenarios():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for word in ("mix", "throttle", "multitenant", "connector", "--workers", "--seconds", "--out"):
        assert word in result.output


def test_bench_sync_prints_figures_and_the_ratio(tmp_path):
    out = tmp_path / "bench.json"
    stdout = run_script("bench_sync", "--seconds", "2", "--users", "2", "--json-out", str(out))
    assert "1-row ratio emulator/bare" in stdout and "50-row ratio emulator/bare" in stdout
    figures = json.loads(out.read_text())
    assert [f["rows_per_request"] for f in figures] == [1, 50]
    for pair in figures:
        for target in ("emulator", "bare"):
            assert pair[target]["requests"] == pair[target]["ok"] > 0, pair[target]
            assert pair[target]["users"] == 2 and pair[target]["p99_ms"] >= pair[target]["p50_ms"]
        assert pair["ratio_emulator_over_bare"] > 0


def test_bench_segment_compares_the_batch_paths_in_one_run(tmp_path):
    """Segment's published destination (through the emulator's proxy) against the bundled connector."""
    out = tmp_path / "segment.json"
    stdout = run_script("bench_segment", "--events", "40", "--wait", "3", "--json-out", str(out), timeout=300)
    figures = {f["mode"]: f for f in json.loads(out.read_text())}
    assert list(figures) == ["bundled async", "segment asyncDataExtension", "segment dataExtension batched"]
    assert figures["bundled async"]["rows_in_emulator"] == 40
    assert figures["segment asyncDataExtension"]["rows_in_emulator"] == 40  # one async job of 40 items
    batched = figures["segment dataExtension batched"]
    assert batched["requests"] >= 4  # rowsets of Segment's default batch size, 10
    assert batched["rows_in_emulator"] + sum(batched["sender_report"]["rejected"].values()) == 40
    assert "x bundled" in stdout


def test_fault_mix_runs_briefly_and_accounts_for_every_event(tmp_path):
    """The fault-mix script end to end on a few hundred events: stalls, deadlocks, 429s, a revoked token, kill -9."""
    env = {**os.environ, "FAULT_MIX_EVENTS": "400", "FAULT_MIX_STALL_SECONDS": "4"}
    stdout = run_script("fault_mix", timeout=300, env=env)
    assert "every event delivered exactly once as a row or rejected with a reason: yes" in stdout
    assert "x the baseline" in stdout


# -- the arithmetic the reports rest on -------------------------------------------------------------


def test_max_in_window_counts_every_starting_point():
    def instants(*times: float) -> list[tuple[float, float]]:
        return [(t, t) for t in times]

    assert analysis.max_in_window([], 1.0) == 0
    assert analysis.max_in_window(instants(0.0, 0.5, 0.99, 1.0, 1.5), 1.0) == 3  # [0.5, 1.5) holds 0.5, 0.99, 1.0
    assert analysis.max_in_window(instants(0.0, 0.2, 0.4), 10.0) == 3


def test_max_in_window_counts_only_round_trips_wholly_inside_the_window():
    # sent 0.0-0.9 at 0.1 s steps, each answered 0.5 s later: no 1 s window holds more than 5 whole round trips
    spans = [(i / 10, i / 10 + 0.5) for i in range(10)]
    assert analysis.max_in_window(spans, 1.0) == 5
    assert analysis.max_in_window(spans, 1.41) == 10  # [0.0, 1.41) holds them all


def test_throttle_check_does_not_mistake_answers_bunched_on_the_way_back_for_over_admission():
    # 25 calls admitted 50 ms apart (20/s: 21 at most in any 1 s with burst 1), whose answers all reached a
    # stalled client at 1.5 s: 25 answers in one instant, but no second holds more than 21 admissions
    late = [analysis.Sample(t / 20, (1.5 - t / 20) * 1000, 200, "r", "t") for t in range(25)]
    assert max(s.end for s in late) - min(s.end for s in late) < 1e-9  # one instant at the client
    assert analysis.throttle_check(late, limit=20, burst=1, windows=(1.0,))["ok"]


def test_throttle_check_flags_a_window_over_the_bound():
    ok = [analysis.Sample(t / 20, 1.0, 200, "r", "t") for t in range(100)]  # 20/s for 5 s
    assert analysis.throttle_check(ok, limit=20, burst=1, windows=(1.0, 5.0))["ok"]
    burst = ok + [analysis.Sample(2.0, 1.0, 200, "r", "t")] * 5
    result = analysis.throttle_check(burst, limit=20, burst=1, windows=(1.0,))
    assert not result["ok"] and result["windows"][0]["max_accepted"] > 21


@pytest.mark.parametrize(("q", "expected"), [(50, 5), (99, 10), (100, 10), (1, 1)])
def test_percentile_is_nearest_rank(q, expected):
    assert analysis.percentile(list(range(10, 0, -1)), q) == expected
