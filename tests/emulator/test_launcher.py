"""The one emulator launcher (``emulator.launcher``), through its public functions: what a caller sees
when a start fails, and that a stop leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from emulator.launcher import ThreadedEmulator, start_emulator


def test_a_start_that_fails_raises_with_what_the_emulator_printed():
    with pytest.raises(RuntimeError) as failure:
        start_emulator("--workers", "2")  # more than one worker on SQLite: serve refuses
    assert "sfmc-emulator exited with status" in str(failure.value)
    assert "--workers above 1 needs a database the processes can share" in str(failure.value)


def test_a_started_emulator_answers_and_its_stop_ends_the_process_and_its_log():
    with start_emulator("--rate-limit", "0") as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert requests.get(f"{server.url}/_emulator/health", timeout=10).status_code == 200
        assert "listening on" in server.output()
        log = Path(server.log_path)
    assert server.proc.poll() is not None
    assert not log.exists()


def test_a_threaded_emulator_serves_until_the_block_ends():
    with ThreadedEmulator(threads=2) as server:
        assert requests.get(f"{server.url}/_emulator/health", timeout=10).status_code == 200
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.url}/_emulator/health", timeout=2)
