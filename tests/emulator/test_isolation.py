"""Tenant isolation by construction: every stored object is keyed by its tenant.

SFMC assigns the id of a Data Extension and of an event definition itself: sfmc-devtools marks
``ObjectID`` (DataExtension.definition.js) and ``id`` (Event.definition.js) ``isCreateable: false``.
So a client-supplied id is replaced by a fresh one, and a tenant can never reach another's object
by naming its id, before or after a restart.
"""

from __future__ import annotations

import threading

from emulator import Config
from emulator.app import create_app
from tests.conftest import LENIENT_DEFINITIONS, make_tenant
from tests.fixtures import contact_de

NEW_DE = contact_de("stolen", "Stolen", {"name": "First Name", "type": "Text"})


def _b_rows(b) -> list[dict]:
    return b.rows("identify")


def test_a_client_chosen_de_id_of_another_tenant_gets_a_fresh_id(tmp_path):
    path = str(tmp_path / "state.sqlite3")
    client = create_app(Config(database=path, default_settings=LENIENT_DEFINITIONS)).test_client()
    a, b = make_tenant(client), make_tenant(client)
    b_de = b.call("GET", "/data/v1/customobjects/key:identify").get_json()
    assert b.rowset("identify", [{"keys": {"Contact Key": "b1"}, "values": {"First Name": "Bea"}}]).status_code == 200

    created = a.call("POST", "/data/v1/customobjects", json={**NEW_DE, "id": b_de["id"]})
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["id"] != b_de["id"]
    # A writes through its own DE; B's DE and rows are untouched
    write = a.call(
        "POST",
        "/hub/v1/dataevents/key:stolen/rowset",
        json=[{"keys": {"Contact Key": "b1"}, "values": {"Contact Key": "b1"}}],
    )
    assert write.status_code == 200
    assert a.call("GET", f"/data/v1/customobjects/{b_de['id']}").status_code == 404
    assert _b_rows(b) == [{"Contact Key": "b1", "First Name": "Bea"}]

    restarted = create_app(Config(database=path, default_settings=LENIENT_DEFINITIONS)).test_client()
    b.client = restarted
    b.token = ""
    assert b.call("GET", f"/data/v1/customobjects/{b_de['id']}").get_json()["key"] == "identify"
    assert _b_rows(b) == [{"Contact Key": "b1", "First Name": "Bea"}]


EVENT_DE = contact_de("registered", "Registered")


def test_a_client_chosen_event_definition_id_of_another_tenant_gets_a_fresh_id(tmp_path):
    path = str(tmp_path / "state.sqlite3")
    client = create_app(Config(database=path, default_settings=LENIENT_DEFINITIONS)).test_client()
    definition = {"key": "APIEvent-b", "name": "B's journey", "data_extension": "registered"}
    a = make_tenant(client, data_extensions=[EVENT_DE])
    b = make_tenant(client, data_extensions=[EVENT_DE], event_definitions=[definition])
    [b_def] = b.call("GET", "/interaction/v1/eventDefinitions").get_json()["items"]

    created = a.call(
        "POST",
        "/interaction/v1/eventDefinitions",
        json={"id": b_def["id"], "eventDefinitionKey": "APIEvent-a", "name": "A", "data_extension": "registered"},
    )
    assert created.status_code in (201, 200), created.get_json()
    assert created.get_json()["id"] != b_def["id"]
    for c in (client, create_app(Config(database=path, default_settings=LENIENT_DEFINITIONS)).test_client()):
        b.client, b.token = c, ""
        [still] = b.call("GET", "/interaction/v1/eventDefinitions").get_json()["items"]
        assert (still["id"], still["eventDefinitionKey"]) == (b_def["id"], "APIEvent-b")


# -- two tenants doing random operations never observe each other --------------------------------

from hypothesis import HealthCheck, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule  # noqa: E402

WHO = st.sampled_from(["a", "b"])
KEYS = st.sampled_from(["one", "two", "three"])
CONTACTS = st.sampled_from(["c1", "c2", "c3"])
NAMES = st.text(alphabet="abcxyz", min_size=1, max_size=8)


class TwoTenants(RuleBasedStateMachine):
    """A model per tenant (its DEs, rows, event definitions, async jobs) built only from that tenant's own
    calls; after every step each tenant's answers match its model exactly, whatever the other did."""

    def __init__(self):
        super().__init__()
        self.client = create_app(Config(database=":memory:", default_settings=LENIENT_DEFINITIONS)).test_client()
        self.tenants = {who: make_tenant(self.client, data_extensions=[]) for who in ("a", "b")}
        self.des: dict[str, dict[str, str]] = {"a": {}, "b": {}}  # key -> id
        self.rows: dict[str, dict[str, dict[str, str]]] = {"a": {}, "b": {}}  # key -> contact -> name
        self.definitions: dict[str, dict[str, str]] = {"a": {}, "b": {}}  # event key -> id
        self.jobs: dict[str, list[str]] = {"a": [], "b": []}

    @staticmethod
    def other(who: str) -> str:
        return "b" if who == "a" else "a"

    def call(self, who: str, method: str, path: str, **kwargs):
        return self.tenants[who].call(method, path, **kwargs)

    @rule(who=WHO, key=KEYS, steal=st.booleans())
    def create_de(self, who, key, steal):
        body = {
            "key": key,
            "name": key.title(),
            "fields": [
                {"name": "Contact Key", "type": "Text", "isPrimaryKey": True},
                {"name": "Name", "type": "Text"},
            ],
        }
        others = list(self.des[self.other(who)].values())
        if steal and others:
            body["id"] = others[0]
        response = self.call(who, "POST", "/data/v1/customobjects", json=body)
        if key in self.des[who]:
            assert response.status_code == 409
            return
        assert response.status_code == 201, response.get_json()
        assert response.get_json()["id"] not in others
        self.des[who][key] = response.get_json()["id"]
        self.rows[who][key] = {}

    @rule(who=WHO, key=KEYS, contact=CONTACTS, name=NAMES)
    def upsert_row(self, who, key, contact, name):
        rows = [{"keys": {"Contact Key": contact}, "values": {"Name": name}}]
        response = self.call(who, "POST", f"/hub/v1/dataevents/key:{key}/rowset", json=rows)
        if key not in self.des[who]:
            assert response.status_code == 404
            return
        assert response.status_code == 200, response.get_json()
        self.rows[who][key][contact] = name

    @rule(who=WHO, key=KEYS, contact=CONTACTS)
    def upsert_by_the_others_id(self, who, key, contact):
        """Naming another tenant's DE id reads and writes nothing of it."""
        de_id = self.des[self.other(who)].get(key)
        if de_id is None or de_id in self.des[who].values():
            return
        rows = [{"keys": {"Contact Key": contact}, "values": {"Name": "intruder"}}]
        assert self.call(who, "POST", f"/hub/v1/dataevents/{de_id}/rowset", json=rows).status_code == 404
        assert self.call(who, "GET", f"/data/v1/customobjectdata/id/{de_id}/rowset").status_code == 404
        assert self.call(who, "GET", f"/data/v1/customobjects/{de_id}").status_code == 404

    @rule(who=WHO, key=KEYS, steal=st.booleans())
    def create_event_definition(self, who, key, steal):
        event_key = f"APIEvent-{key}"
        body = {"eventDefinitionKey": event_key, "name": event_key, "data_extension": key}
        others = list(self.definitions[self.other(who)].values())
        if steal and others:
            body["id"] = others[0]
        response = self.call(who, "POST", "/interaction/v1/eventDefinitions", json=body)
        if key not in self.des[who]:
            assert response.status_code == 400
        elif event_key in self.definitions[who]:
            assert response.status_code == 409
        else:
            assert response.status_code == 201, response.get_json()
            assert response.get_json()["id"] not in others
            self.definitions[who][event_key] = response.get_json()["id"]

    @rule(who=WHO)
    def delete_the_others_definition(self, who):
        for definition_id in self.definitions[self.other(who)].values():
            assert self.call(who, "DELETE", f"/interaction/v1/eventDefinitions/{definition_id}").status_code == 404

    @rule(who=WHO, key=KEYS)
    def async_job(self, who, key):
        """Async jobs go to a DE the model does not read rows of; the other tenant never finds the job."""
        response = self.call(who, "POST", f"/data/v1/async/dataextensions/key:{key}/rows", json={"items": [{}]})
        if key in self.des[who]:
            assert response.status_code == 202
            self.jobs[who].append(response.get_json()["requestId"])
        else:
            assert response.status_code == 400

    @invariant()
    def each_tenant_sees_exactly_its_own(self):
        for who in ("a", "b"):
            listed = self.call(who, "GET", "/data/v1/customobjects?$search=&$pageSize=100").get_json()["items"]
            assert {d["key"]: d["id"] for d in listed} == self.des[who]
            for key in self.des[who]:
                read = self.call(who, "GET", f"/data/v1/customobjectdata/key/{key}/rowset").get_json()
                got = {i["keys"]["contact key"]: i["values"]["name"] for i in read.get("items", [])}
                assert got == self.rows[who][key]
            listed = self.call(who, "GET", "/interaction/v1/eventDefinitions").get_json()["items"]
            assert {d["eventDefinitionKey"]: d["id"] for d in listed} == self.definitions[who]
            for job in self.jobs[self.other(who)]:
                assert self.call(who, "GET", f"/data/v1/async/{job}/status").status_code == 404


TwoTenants.TestCase.settings = settings(
    max_examples=25, stateful_step_count=20, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_two_tenants_never_observe_each_other = TwoTenants.TestCase


def test_concurrent_field_additions_all_land(client, tenant):
    """Issue D7: four concurrent POST .../fields (one column each) all answered 201, yet columns went
    missing: the grown DE was built from the caller's copy outside the lock."""

    for trial in range(10):
        names = [f"Trial {trial} Col {n}" for n in range(4)]
        barrier = threading.Barrier(len(names))
        answers: list[int] = []

        def add(name: str, barrier: threading.Barrier = barrier, answers: list[int] = answers) -> None:
            barrier.wait()
            response = tenant.call(
                "POST",
                "/data/v1/customobjects/key:identify/fields",
                json={"fields": [{"name": name, "type": "Text", "length": 50, "isNullable": True}]},
            )
            answers.append(response.status_code)

        threads = [threading.Thread(target=add, args=(name,)) for name in names]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert answers == [201] * 4
        fields = tenant.call("GET", "/data/v1/customobjects/key:identify/fields").get_json()["fields"]
        assert set(names) <= {f["name"] for f in fields}, trial
