"""A client written from SFMC's public docs works against the emulator with only the base URL changed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "plain_requests_client.py"


def test_plain_requests_client_runs_unchanged(live_server_factory):
    server = live_server_factory("--db", ":memory:")
    env = {
        **os.environ,
        "SFMC_AUTH_URL": server.url + "/",
        "SFMC_CLIENT_ID": "demo-client-id",
        "SFMC_CLIENT_SECRET": "demo-client-secret",
        "SFMC_ACCOUNT_ID": "514000002",
    }
    result = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "rowset: 200" in result.stdout and "single row: 200" in result.stdout
    assert (
        "bad row: 400 Email Address: The value for column [Email Address] is not a valid email address."
        in result.stdout
    )
    assert "row: {'subscriber key': 'sub-1'} {'email address': 'one@example.com', 'points': '11'}" in result.stdout
