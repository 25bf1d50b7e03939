"""The lean open-loop client (``loadtests.openloop``) and the ``ratios`` benchmark that judges the 429 latency on it.

Short runs against real emulator processes; what is checked is what the client sends and records (every
answer, the throttle's statuses, the open loop's request count), never how fast anything is.
"""

from __future__ import annotations

import json

import pytest

from loadtests import analysis, common
from loadtests.bare import create_bare_app
from loadtests.openloop import AnswerError, answer_status, run_open_loop
from tests.loadtests.script_helpers import run_script


def test_an_answer_is_complete_only_with_its_whole_body():
    whole = b"HTTP/1.1 429 Too Many Requests\r\nContent-Length: 5\r\nRetry-After: 1\r\n\r\nhello"
    for cut in range(len(whole)):
        assert answer_status(bytearray(whole[:cut])) is None
    assert answer_status(bytearray(whole)) == (429, len(whole))
    assert answer_status(bytearray(whole + b"HTTP/1.1 200 OK")) == (429, len(whole))  # what follows is not read


@pytest.mark.parametrize(
    "head",
    [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"],
)
def test_an_answer_it_cannot_delimit_is_an_error_not_a_sample(head):
    with pytest.raises(AnswerError):
        answer_status(bytearray(head))


def test_open_loop_load_on_a_throttled_tenant_records_every_answer(live_server_factory, tmp_path):
    server = live_server_factory()
    raw = common.ensure_tenant(server.url, "openloop-test", {"rate_limit": 5.0, "burst": 5.0})
    token = common.get_token(server.url, *common.credentials(raw))

    folder = run_open_loop(server.url, token, tmp_path / "samples", seconds=2.0, users=10, user_rps=4.0, group="t")

    samples = analysis.load_samples(folder)
    # 10 connections x 4 requests/s for 2 s, each starting within the first second: 4 to 8 requests each
    assert 40 <= len(samples) <= 80
    assert {s.status for s in samples} == {200, 429}
    assert sum(s.accepted for s in samples) <= 5.0 * 2.0 + 5.0 + 5.0  # limit x run (+ the last answers) + burst
    assert {s.group for s in samples} == {"t"} and all(s.ms > 0 for s in samples)
    # every request the client recorded reached the emulator and was journaled with the same status
    journal = server_journal(server.url, "openloop-test")
    assert sorted(e["status"] for e in journal) == sorted(s.status for s in samples)


def test_open_loop_load_on_the_bare_echo_gets_only_200s(tmp_path):
    from emulator.launcher import ThreadedEmulator

    with ThreadedEmulator(app=create_bare_app()) as bare:
        folder = run_open_loop(bare.url, "bare", tmp_path / "samples", seconds=2.0, users=4, user_rps=10.0)
    samples = analysis.load_samples(folder)
    # each connection sends every 0.1 s from its phase (within the first second) to the end: 10 to 20 requests
    assert 40 <= len(samples) <= 80 and {s.status for s in samples} == {200}


def test_ratios_prints_the_429_latency_on_both_clients(tmp_path):
    out = tmp_path / "ratios.json"
    args = ["--no-throughput", "--async-rows", "0", "--seconds", "3", "--latency-seconds", "2"]
    text = run_script("ratios", *args, "--latency-rounds", "2", "--json-out", str(out))
    assert "429 p99 < 2 ms at the client, 5x overload" in text
    assert "locust's view of the same load" in text
    figures = json.loads(out.read_text())
    latency = figures["latency"]
    assert len(latency["rounds"]) == 2
    assert latency["throttled"] == sum(r["throttled"] for r in latency["rounds"]) > 0
    assert latency["bare"] == sum(r["bare"] for r in latency["rounds"]) > 0
    assert figures["throughput"] == [] and "async" not in figures
    assert set(figures["targets"]) == {
        "429 p99 < 2 ms at the client, 5x overload",
        "accepted rate within +-5% of the limit",
        "no window above limit x window + burst",
    }


def server_journal(url: str, tenant: str) -> list[dict]:
    import requests

    response = requests.get(f"{url}/_emulator/journal", params={"tenant": tenant, "limit": 1000}, timeout=30)
    return [e for e in response.json()["items"] if "/rowset" in e["path"]]


def test_latency_compare_runs_both_checkouts_in_alternated_rounds():
    text = run_script("latency_compare", str(common.REPO), str(common.REPO), "--rounds", "2", "--seconds", "1")
    rounds = [line for line in text.splitlines() if line.startswith("round ")]
    assert [line.split(" (")[0] for line in rounds] == ["round 1 old", "round 1 new", "round 2 new", "round 2 old"]
    assert all("emulator 429s p50" in line and "bare p50" in line for line in rounds)
    assert "over 2 rounds of 1 s each" in text
