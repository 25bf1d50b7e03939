"""State in SQLite: survives restarts, resets per tenant and globally; scenario files; the CLI."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
import requests

from emulator import Config
from emulator.app import create_app
from emulator.scenario import ScenarioError, demo_scenario_path, load_scenario_file, parse_scenario
from tests.conftest import make_tenant

ROW = [{"keys": {"Contact Key": "u1"}, "values": {"Email": "a@example.com"}}]


def token(url: str, client_id="demo-client-id", secret="demo-client-secret") -> str:
    response = requests.post(
        f"{url}/v2/token",
        json={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
        timeout=10,
    )
    response.raise_for_status()
    assert response.json()["rest_instance_url"] == f"{url}/"
    return response.json()["access_token"]


def test_restart_on_the_same_file_keeps_tenants_definitions_rows_and_tokens(live_server_factory, tmp_path):
    db = str(tmp_path / "state.sqlite3")
    first = live_server_factory("--db", db)
    access = token(first.url)
    auth = {"Authorization": f"Bearer {access}"}
    created = requests.post(f"{first.url}/_emulator/tenants", json={"id": "extra"}, timeout=10)
    assert created.status_code == 201
    written = requests.post(
        f"{first.url}/hub/v1/dataevents/key:segment-identify/rowset", json=ROW, headers=auth, timeout=10
    )
    assert written.status_code == 200
    first.kill()  # no clean shutdown: a row answered 200 is committed

    second = live_server_factory("--db", db)
    read = requests.get(f"{second.url}/data/v1/customobjectdata/key/segment-identify/rowset", headers=auth, timeout=10)
    assert read.status_code == 200, read.text
    assert read.json()["items"] == [
        {
            "keys": {"contact key": "u1"},
            "values": {
                "email": "a@example.com",
                "first name": "",
                "last name": "",
                "created at": "",
                "plan": "",
                "locale": "",
                "ip address": "",
                "utm source": "",
            },
        }
    ]
    ids = [t["id"] for t in requests.get(f"{second.url}/_emulator/tenants", timeout=10).json()["items"]]
    assert ids == ["demo", "extra"]


def test_memory_database_starts_empty_each_time(live_server_factory):
    server = live_server_factory("--db", ":memory:", "--no-demo")
    assert requests.get(f"{server.url}/_emulator/tenants", timeout=10).json()["items"] == []


def test_reset_one_tenant_keeps_the_others(tenant_factory, client):
    a, b = tenant_factory(), tenant_factory()
    for t in (a, b):
        assert t.rowset("identify", ROW).status_code == 200
    assert client.post(f"/_emulator/tenants/{a.id}/reset").status_code == 200
    assert a.rows("identify") == [] and len(b.rows("identify")) == 1
    # definitions stay; tokens do not
    assert client.get(f"/_emulator/tenants/{a.id}/data-extensions").get_json()["items"][0]["key"] == "identify"
    assert a.call("GET", "/data/v1/customobjectdata/key/identify/rowset").status_code == 401


def test_global_reset_and_tenant_delete(tenant_factory, client):
    a, b = tenant_factory(), tenant_factory()
    for t in (a, b):
        t.rowset("identify", ROW)
    assert client.post("/_emulator/reset").status_code == 200
    assert a.rows("identify") == [] and b.rows("identify") == []
    assert client.delete(f"/_emulator/tenants/{a.id}").status_code == 200
    assert client.get(f"/_emulator/tenants/{a.id}").status_code == 404
    assert client.delete(f"/_emulator/tenants/{a.id}").status_code == 404


def test_tenant_creation_errors_name_the_field(client):
    response = client.post(
        "/_emulator/tenants",
        json={
            "subdomain": "short",
            "settings": {"rate_limt": 5},
            "data_extensions": [{"name": "X", "fields": [{"name": "first name"}]}],
        },
    )
    assert response.status_code == 400
    messages = [e["message"] for e in response.get_json()["additionalErrors"]]
    assert any(m.startswith("subdomain:") for m in messages)
    assert any("rate_limt" in m for m in messages)
    assert any(m.startswith("data_extensions[0]:") and "Title Case" in m for m in messages)


def test_duplicate_tenant_and_client_id_are_refused(client):
    make_tenant(client, id="dup", packages=[{"client_id": "same-client"}])
    again = client.post("/_emulator/tenants", json={"id": "dup"})
    assert again.status_code == 400
    other = client.post("/_emulator/tenants", json={"packages": [{"client_id": "same-client"}]})
    assert other.status_code == 400 and "belongs to tenant 'dup'" in other.get_json()["message"]


def test_demo_scenario_is_valid_and_loads():
    doc = load_scenario_file(demo_scenario_path())
    app = create_app(Config(), scenario=str(demo_scenario_path()))
    tenant = app.extensions["sfmc"].tenant("demo")
    assert tenant.subdomain == doc["tenants"][0]["subdomain"]
    assert len(tenant.subdomain) == 28 and tenant.subdomain.startswith("mc")


def test_scenario_errors_name_line_and_field():
    text = (
        "tenants:\n  - id: a\n    data_extensions:\n      - name: X\n        fields:\n"
        "          - {name: Contact Key, type: Strng}\n"
    )
    with pytest.raises(ScenarioError) as err:
        parse_scenario(text, "bad.yaml")
    [problem] = err.value.problems
    assert problem.startswith("bad.yaml:6: tenants[0].data_extensions[0].fields[0].type:")
    with pytest.raises(ScenarioError) as err:
        parse_scenario("tenants: [\n  {id: a, bogus: 1}]\n", "b.json")
    assert err.value.problems[0].startswith("b.json:2: tenants[0].bogus:")
    with pytest.raises(ScenarioError) as err:
        parse_scenario("tenants:\n  - id: [unclosed\n", "c.yaml")
    assert "not valid YAML/JSON" in err.value.problems[0]


def test_scenario_through_the_admin_api(client):
    response = client.post("/_emulator/scenarios", data="tenants:\n  - id: from-api\n")
    assert response.status_code == 201 and response.get_json() == {"tenants": ["from-api"]}
    bad = client.post("/_emulator/scenarios", data="tenants:\n  - id: x\n    settings: {rate_limit: fast}\n")
    assert bad.status_code == 400 and ":3:" in bad.get_json()["message"]


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "emulator", *args], capture_output=True, text=True, timeout=60)


def test_cli_help_and_bad_scenario(tmp_path):
    assert "serve" in run_cli("--help").stdout and "--rate-limit" in run_cli("serve", "--help").stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("tenants:\n  - id: x\n    nope: 1\n")
    result = run_cli("serve", "--port", "0", "--db", ":memory:", "--scenario", str(bad))
    assert result.returncode != 0 and "bad.yaml:3" in result.stderr


def test_cli_reset(live_server_factory, tmp_path):
    db = str(tmp_path / "r.sqlite3")
    server = live_server_factory("--db", db)
    auth = {"Authorization": f"Bearer {token(server.url)}"}
    requests.post(f"{server.url}/hub/v1/dataevents/key:segment-identify/rowset", json=ROW, headers=auth, timeout=10)
    server.stop()
    missing = run_cli("reset", "--db", db, "--tenant", "nope")
    assert missing.returncode != 0 and "tenants: demo" in missing.stderr
    assert run_cli("reset", "--db", db, "--tenant", "demo").returncode == 0
    again = live_server_factory("--db", db)
    auth = {"Authorization": f"Bearer {token(again.url)}"}
    read = requests.get(f"{again.url}/data/v1/customobjectdata/key/segment-identify/rowset", headers=auth, timeout=10)
    assert read.json()["count"] == 0


def test_cli_rate_limit_override(live_server_factory):
    server = live_server_factory("--db", ":memory:", "--rate-limit", "0", "--token-lifetime", "60")
    demo = requests.get(f"{server.url}/_emulator/tenants/demo", timeout=10).json()
    assert demo["settings"]["rate_limit"] == 0 and demo["settings"]["token_lifetime"] == 60


def test_every_rowset_answered_200_survives_kill(live_server_factory, tmp_path):
    # a second of 50-row rowsets (SQLite copies its WAL into the database file along the way), and
    # the process killed right after the last answer, whatever it was doing
    db = str(tmp_path / "state.sqlite3")
    first = live_server_factory("--db", db, "--rate-limit", "0")
    auth = {"Authorization": f"Bearer {token(first.url)}"}
    url = f"{first.url}/hub/v1/dataevents/key:segment-identify/rowset"
    answered = 0
    with requests.Session() as session:
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            rows = [
                {
                    "keys": {"Contact Key": f"u{answered}-{i}"},
                    "values": {"First Name": "x" * 100, "Last Name": "y" * 100},
                }
                for i in range(50)
            ]
            assert session.post(url, json=rows, headers=auth, timeout=10).status_code == 200
            answered += 1
    first.kill()

    second = live_server_factory("--db", db)
    counted = requests.get(
        f"{second.url}/_emulator/tenants/demo/data-extensions/segment-identify/rows?page_size=1", timeout=10
    ).json()["count"]
    assert counted == answered * 50


def test_every_concurrent_row_answered_200_survives_kill_during_the_writes(live_server_factory, tmp_path):
    # 16 clients writing 1-row rowsets at once, so writes share commits (the metrics count the groups),
    # and the process killed while they are still writing: every row answered 200 is there afterwards
    db = str(tmp_path / "state.sqlite3")
    first = live_server_factory("--db", db, "--rate-limit", "0")
    auth = {"Authorization": f"Bearer {token(first.url)}"}
    url = f"{first.url}/hub/v1/dataevents/key:segment-identify/rowset"
    answered: list[str] = []
    refused: list[int] = []

    def client(n: int) -> None:
        with requests.Session() as session:
            for i in range(100_000):
                key = f"c{n}-{i}"
                try:
                    answer = session.post(
                        url,
                        json=[{"keys": {"Contact Key": key}, "values": {"First Name": "x"}}],
                        headers=auth,
                        timeout=10,
                    )
                except requests.RequestException:
                    return  # killed before it answered: no promise made
                if answer.status_code != 200:
                    refused.append(answer.status_code)
                    return
                answered.append(key)

    clients = [threading.Thread(target=client, args=(n,)) for n in range(16)]
    for thread in clients:
        thread.start()
    time.sleep(1.0)
    metrics = requests.get(f"{first.url}/_emulator/metrics", timeout=10).text
    first.kill()  # while the clients are still writing
    for thread in clients:
        thread.join(30)
    assert not refused and len(answered) > 100
    counters = dict(line.split() for line in metrics.splitlines() if line.startswith("sfmc_emulator_row_commit"))
    commits = float(counters["sfmc_emulator_row_commits_total"])
    assert float(counters["sfmc_emulator_row_commit_writes_total"]) > commits > 0  # commits of several requests

    second = live_server_factory("--db", db)
    stored: set[str] = set()
    for page in range(1, 100):
        items = requests.get(
            f"{second.url}/_emulator/tenants/demo/data-extensions/segment-identify/rows",
            params={"page": page, "page_size": 10000},
            timeout=30,
        ).json()["items"]
        stored.update(item["Contact Key"] for item in items)
        if len(items) < 10000:
            break
    missing = set(answered) - stored
    assert not missing, f"{len(missing)} of {len(answered)} rows answered 200 are gone"
