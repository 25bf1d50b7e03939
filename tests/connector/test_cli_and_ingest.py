"""The connector's command line and its Segment tracking-API endpoint, as separate processes."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time

import pytest
import requests
import yaml

from emulator.launcher import start_process
from tests.connector.delivery_helpers import ORDERS_EVENT, connector_settings, identify, order, sfmc_tenant


def write_settings(path, emulator, tenant, **extra) -> str:
    settings = connector_settings(
        emulator, tenant, path.parent, do_not_create_contacts=True, conversion_events=[ORDERS_EVENT], **extra
    )
    path.write_text(yaml.safe_dump(settings))
    return str(path)


def connector(*args, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "connector", *args], capture_output=True, text=True, timeout=120, **kwargs
    )


def test_send_prints_a_summary_by_reason(emulator_server, tmp_path):
    tenant = sfmc_tenant(emulator_server)
    settings = write_settings(tmp_path / "settings.yaml", emulator_server, tenant)
    events = tmp_path / "events.ndjson"
    lines = [json.dumps(e) for e in (identify(1), identify(2), order(1), {"type": "page", "messageId": "p"})]
    events.write_text("\n".join([*lines, "{not json", ""]))
    result = connector(
        "send", str(events), "--settings", settings, "--no-progress", "--summary-json", str(tmp_path / "summary.json")
    )
    assert result.returncode == 0, result.stderr
    assert re.search(r"^delivered\s+3$", result.stdout, re.M)
    assert re.search(r"^dropped\s+1\n\s+1\s+unsupported_type$", result.stdout, re.M)
    assert re.search(r"^rejected\s+1\n\s+1\s+malformed_input$", result.stdout, re.M)
    summary = json.loads((tmp_path / "summary.json").read_text())
    # one rowset per DE, after reading each DE's column types once
    assert summary["delivered"] == 3 and summary["requests"] == 4 and summary["throttled_429"] == 0
    listed = connector("rejected", "--settings", settings)
    assert "line 5: not a JSON event" in listed.stdout
    status = connector("status", "--settings", settings)
    assert re.search(r"^delivered\s+3$", status.stdout, re.M)


def test_bad_settings_fail_at_start_naming_the_setting(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        yaml.safe_dump({"client_id": "x", "client_secret": "y", "subdomain": "mc-too-short", "rate_limt": 5})
    )
    events = tmp_path / "e.ndjson"
    events.write_text("")
    result = connector("send", str(events), "--settings", str(bad))
    assert result.returncode != 0
    assert "subdomain" in result.stderr and "28 characters" in result.stderr
    assert "rate_limt" in result.stderr


def test_killed_connector_resumes_and_loses_nothing(emulator_server, tmp_path):
    """A connector killed mid-run: the outbox holds every accepted event; the next run delivers the rest."""
    tenant = sfmc_tenant(emulator_server, settings={"rate_limit": 40, "burst": 5})
    settings = write_settings(tmp_path / "settings.yaml", emulator_server, tenant, sync_group_size=1, rate_limit=40)
    events = tmp_path / "events.ndjson"
    events.write_text("\n".join(json.dumps(identify(i)) for i in range(150)))
    proc = subprocess.Popen(
        [sys.executable, "-m", "connector", "send", str(events), "--settings", settings, "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while len(emulator_server.rows(tenant["id"], "identify")) < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    landed = len(emulator_server.rows(tenant["id"], "identify"))
    assert 20 <= landed < 150
    status = connector("status", "--settings", settings)
    assert int(re.search(r"^pending\s+(\d+)$", status.stdout, re.M).group(1)) >= 150 - landed - 1
    result = connector("send", str(events), "--settings", settings, "--no-progress")  # same file again
    assert result.returncode == 0, result.stderr
    assert "150 already in the outbox" in result.stderr
    assert sorted(r["Contact Key"] for r in emulator_server.rows(tenant["id"], "identify")) == sorted(
        f"user-{i}" for i in range(150)
    )
    assert re.search(r"^delivered\s+150$", connector("status", "--settings", settings).stdout, re.M)


@pytest.fixture
def ingest_server(emulator_server, tmp_path):
    tenant = sfmc_tenant(emulator_server)
    settings = write_settings(tmp_path / "settings.yaml", emulator_server, tenant)
    cmd = [sys.executable, "-m", "connector", "serve", "--settings", settings, "--port", "0", "--write-key", "wk-test"]
    with start_process([*cmd, "--interval", "0.2"], name="sfmc-connector", health="/health") as server:
        yield server.url, tenant


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("gzip", [False, True])
def test_segment_analytics_python_sends_to_the_connector_unchanged(emulator_server, ingest_server, gzip):
    from segment.analytics import Client

    url, tenant = ingest_server
    client = Client(write_key="wk-test", host=url, sync_mode=True, gzip=gzip, max_retries=1)
    client.identify("user:7", {"firstName": "Ann", "email": "ann@example.com"}, context={"ip": "10.0.0.1"})
    client.track("user:7", "Order Completed", {"productId": "p9", "revenue": 9.99, "quantity": 1})
    client.flush()
    assert wait_for(lambda: emulator_server.rows(tenant["id"], "orders"))
    [row] = emulator_server.rows(tenant["id"], "identify")
    assert row["Contact Key"] == "user7" and row["First Name"] == "Ann" and row["IP Address"] == "10.0.0.1"
    [order_row] = emulator_server.rows(tenant["id"], "orders")
    assert order_row["Product Id"] == "p9" and order_row["Revenue"] == "9.99"


def test_tracking_api_checks_the_write_key_and_the_body(ingest_server):
    url, _ = ingest_server
    assert requests.post(f"{url}/v1/track", json={"event": "x"}, auth=("wrong", ""), timeout=10).status_code == 401
    bad = requests.post(
        f"{url}/v1/batch", data="{", auth=("wk-test", ""), timeout=10, headers={"Content-Type": "application/json"}
    )
    assert bad.status_code == 400 and bad.json()["success"] is False
    no_type = requests.post(f"{url}/v1/batch", json={"batch": [{"event": "x"}]}, auth=("wk-test", ""), timeout=10)
    assert no_type.status_code == 400
    ok = requests.post(
        f"{url}/v1/t", json={"event": "Order Completed", "userId": "u"}, auth=("wk-test", ""), timeout=10
    )
    assert ok.json() == {"success": True}
