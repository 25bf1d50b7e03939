"""fuel-rest + fuel-auth and sfmc-sdk (npm, pinned in tests/clients/node/package-lock.json), unmodified."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).parent / "node"


def run_node(script: str, tenant) -> dict:
    if not (NODE_DIR / "node_modules" / ".package-lock.json").exists():
        pytest.fail("the Node clients are not installed: run `make test` (npm ci in tests/clients/node)")
    env = {
        **{k: v for k, v in os.environ.items() if "proxy" not in k.lower()},
        **tenant.env,
        "SFMC_SUBDOMAIN": tenant.subdomain,
        "SFMC_CLIENT_ID": tenant.client_id,
        "SFMC_CLIENT_SECRET": tenant.client_secret,
        "SFMC_ACCOUNT_ID": str(tenant.mid),
        "SFMC_TENANT": tenant.id,
        "EMULATOR_URL": tenant.server.url,
    }
    done = subprocess.run(["node", script], cwd=NODE_DIR, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr + done.stdout
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_fuel_rest_and_fuel_auth_including_the_401_refresh_retry(client_tenant):
    out = run_node("fuel.js", client_tenant)
    sub = client_tenant.subdomain
    assert out["auth"] == {
        "rest_instance_url": f"https://{sub}.rest.marketingcloudapis.com/",
        "soap_instance_url": f"https://{sub}.soap.marketingcloudapis.com/",
    }
    assert (out["first"], out["fault"], out["second"]) == (200, 201, 200)
    assert out["second_url"] == f"https://{sub}.rest.marketingcloudapis.com/hub/v1/dataevents/key:identify/rowset"
    assert sorted(r["Contact Key"] for r in client_tenant.rows("identify")) == ["fuel-1", "fuel-2"]
    calls = [(e["method"], e["host"], e["path"], e["status"]) for e in reversed(client_tenant.journal())]
    rowset = "/hub/v1/dataevents/key:identify/rowset"
    assert calls == [
        ("POST", f"{sub}.auth.marketingcloudapis.com", "/v2/token", 200),
        ("POST", f"{sub}.rest.marketingcloudapis.com", rowset, 200),
        ("POST", f"{sub}.rest.marketingcloudapis.com", rowset, 401),  # the expired token
        ("POST", f"{sub}.auth.marketingcloudapis.com", "/v2/token", 200),  # refresh
        ("POST", f"{sub}.rest.marketingcloudapis.com", rowset, 200),  # retry
    ]


def test_sfmc_sdk_rest_calls(client_tenant):
    out = run_node("sfmc-sdk.mjs", client_tenant)
    sub = client_tenant.subdomain
    assert out["rest_instance_url"] == f"https://{sub}.rest.marketingcloudapis.com/"
    assert out["rows"]["count"] == 1 and out["rows"]["items"][0]["keys"] == {"contact key": "sdk-1"}
    assert len(out["requestId"]) == 36
    assert out["status"]["status"]["requestStatus"] == "Complete"
    assert len(out["event"]["eventInstanceId"]) == 36
    assert (out["contact"]["operationStatus"], out["contact"]["contactKey"]) == ("OK", "sdk-1")
    assert sorted(r["Contact Key"] for r in client_tenant.rows("identify")) == ["sdk-1", "sdk-2"]
    assert client_tenant.rows("sdk-events") == [{"Contact Key": "sdk-1", "Plan": "pro"}]
    hosts = {e["host"] for e in client_tenant.journal()}
    assert hosts == {f"{sub}.auth.marketingcloudapis.com", f"{sub}.rest.marketingcloudapis.com"}
