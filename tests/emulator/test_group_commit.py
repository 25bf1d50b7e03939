"""Group commit of sync row writes on the SQLite store: writes that arrive while another commits share
its transaction and its commit, and each request still gets its own answer, journal entry and rows.

To make a group happen on purpose, a test holds the row writer's lock while its requests come in: the
first becomes the group's leader and waits for the lock, the others queue behind it, and all of them
are written and committed together once the lock is let go.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable

import pytest

from emulator import Config
from emulator.app import create_app
from tests.conftest import LENIENT_DEFINITIONS, make_tenant

URL = "/hub/v1/dataevents/key:identify/rowset"


@pytest.fixture
def app(tmp_path):
    app = create_app(Config(database=str(tmp_path / "group.sqlite3"), default_settings=LENIENT_DEFINITIONS))
    yield app
    app.extensions["sfmc"].async_rows.stop()
    app.extensions["sfmc"].store.close()


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.002)


def in_one_group(app, calls: list[Callable]) -> list:
    """Run ``calls`` in threads of their own, their writes committed as one group (the first leads)."""
    rows = app.extensions["sfmc"].rows
    results: list = [None] * len(calls)

    def run(i: int) -> None:
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    commits = rows.group.commits
    with rows.lock:
        threads[0].start()
        wait_until(lambda: rows.group.leading, "the first write leads")
        for thread in threads[1:]:
            thread.start()
        wait_until(lambda: rows.group.queued == len(calls) - 1, "the other writes are queued")
    for thread in threads:
        thread.join(30)
    assert rows.group.commits == commits + 1  # one commit for all of them
    return results


def post(app, headers, body):
    return lambda: app.test_client().post(URL, json=body, headers=headers)


def row(key: str, **values) -> dict:
    return {"keys": {"Contact Key": key}, "values": values}


def keys_of(tenant) -> set[str]:
    return {item["Contact Key"] for item in tenant.rows("identify")}


def test_a_group_answers_each_request_as_alone_refused_rows_and_ignored_keys_included(app):
    tenant = make_tenant(app.test_client())
    headers = tenant.headers()
    bad = [row("b0", Email="b0@example.com"), row("b1", Email="not-an-email"), row("b2", Email="b2@example.com")]
    calls = [
        post(app, headers, [row("g0", Email="g0@example.com")]),
        post(app, headers, bad),
        post(app, headers, [row("g1", Email="g1@example.com", **{"Shoe Size": 9})]),
        post(app, headers, [row(f"m{i}", Age=i) for i in range(50)]),
        lambda: app.test_client().put(
            "/hub/v1/dataevents/key:identify/rows/Contact Key:p0", json={"values": {"Age": 3}}, headers=headers
        ),
        post(app, headers, [row("g2", Age="not a number")]),
    ]
    writes = app.extensions["sfmc"].rows.group.writes
    answers = in_one_group(app, calls)
    assert [a.status_code for a in answers] == [200, 400, 200, 200, 200, 400]
    assert app.extensions["sfmc"].rows.group.writes == writes + 6

    # the rows before a request's first bad row are saved, as alone; the refused rows and the rest are not
    assert keys_of(tenant) == {"g0", "b0", "g1", "p0", *(f"m{i}" for i in range(50))}
    # the refused requests' answers are those the same requests get alone
    assert answers[1].get_json() == tenant.rowset("identify", bad).get_json()
    assert answers[5].get_json() == tenant.rowset("identify", [row("g2", Age="not a number")]).get_json()

    # each request's journal entry holds its own writes, ignored keys and broken rules
    entries = app.test_client().get("/_emulator/journal", query_string={"tenant": tenant.id}).get_json()["items"]
    by_body = {e["request_body"]: e for e in entries if e["status"] in (200, 400)}
    shoe = next(e for body, e in by_body.items() if '"g1"' in body)
    assert shoe["keys_ignored"] == ["Shoe Size"] and shoe["rows_written"] == 1
    fifty = next(e for body, e in by_body.items() if '"m49"' in body)
    assert fifty["rows_written"] == 50 and fifty["keys_ignored"] == [] and fifty["rules_broken"] == []
    refused = [e for e in entries if e["status"] == 400 and '"b1"' in e["request_body"]]
    assert refused and all(e["rows_written"] == 1 and any("Email" in r for r in e["rules_broken"]) for e in refused)


def refuse_boom_keys(path) -> None:
    """Make SQLite refuse any row whose key holds 'boom' (a trigger another connection adds), mid-statement."""
    with sqlite3.connect(str(path)) as other:
        other.execute(
            "CREATE TRIGGER refuse_boom BEFORE INSERT ON rows WHEN NEW.row_key LIKE '%boom%' "
            "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
        )


@pytest.mark.parametrize("position", [0, 2], ids=["the leader", "a follower"])
@pytest.mark.parametrize("size", [2, 50], ids=["rows one by one", "one multi-row statement"])
def test_a_write_that_fails_in_the_store_undoes_its_own_rows_only(app, tmp_path, position, size):
    # the failing write's rows before its bad one are written first (2 rows: one statement each in the store's
    # savepoint; 50 rows: the new-keys insert, refused, then the read and one upsert): the group runs it
    # without a savepoint of its own, so its own store calls must leave nothing of it
    tenant = make_tenant(app.test_client())
    headers = tenant.headers()
    assert tenant.rowset("identify", [row("first", Age=1)]).status_code == 200  # the row set exists
    refuse_boom_keys(tmp_path / "group.sqlite3")
    calls = [post(app, headers, [row(f"ok{i}-{j}", Age=j) for j in range(size)]) for i in range(4)]
    failing = [row(f"before{j}", Age=j) for j in range(size - 1)] + [row("boom", Age=1)]
    calls.insert(position, post(app, headers, failing))
    answers = in_one_group(app, calls)
    statuses = [a.status_code for a in answers]
    assert statuses.pop(position) == 500 and statuses == [200] * 4
    assert "disk I/O error" not in answers[position].get_data(as_text=True)  # no stack trace to the client
    assert keys_of(tenant) == {"first", *(f"ok{i}-{j}" for i in range(4) for j in range(size))}


@pytest.mark.parametrize("position", [0, 2], ids=["the leader", "a follower"])
def test_a_one_row_write_whose_statement_fails_in_a_group_leaves_the_others(app, tmp_path, position):
    # a lone row's write is one statement, which the group runs without a savepoint of its own: when
    # SQLite refuses it (here a trigger another connection adds), the statement is undone and the
    # group's other writes commit
    tenant = make_tenant(app.test_client())
    headers = tenant.headers()
    assert tenant.rowset("identify", [row("first", Age=1)]).status_code == 200  # the row set exists
    refuse_boom_keys(tmp_path / "group.sqlite3")
    calls = [post(app, headers, [row(f"ok{i}", Age=i)]) for i in range(4)]
    calls.insert(position, post(app, headers, [row("boom", Age=1)]))
    answers = in_one_group(app, calls)
    statuses = [a.status_code for a in answers]
    assert statuses.pop(position) == 500 and statuses == [200] * 4
    assert keys_of(tenant) == {"first", *(f"ok{i}" for i in range(4))}
    assert tenant.rowset("identify", [row("later", Age=2)]).status_code == 200
    assert keys_of(tenant) == {"first", "later", *(f"ok{i}" for i in range(4))}


def test_writes_answered_after_their_group_committed(app, tmp_path):
    # another connection to the database file sees a request's rows as soon as it has its answer
    tenant = make_tenant(app.test_client())
    headers = tenant.headers()
    seen: dict[int, int] = {}

    def write_then_look(i: int):
        def call():
            answer = app.test_client().post(URL, json=[row(f"c{i}", Age=i)], headers=headers)
            with sqlite3.connect(str(tmp_path / "group.sqlite3")) as other:
                seen[i] = other.execute(
                    "SELECT count(*) FROM rows WHERE json_extract(data, '$.\"Contact Key\"') = ?", (f"c{i}",)
                ).fetchone()[0]
            return answer

        return call

    answers = in_one_group(app, [write_then_look(i) for i in range(6)])
    assert [a.status_code for a in answers] == [200] * 6
    assert seen == dict.fromkeys(range(6), 1)
