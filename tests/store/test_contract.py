"""The storage contract: every backend behind ``Store`` passes the same tests.

Each test runs on SQLite and on PostgreSQL (a real server: ``pg_cluster``), through the public
interface only, each on its own fresh database.
"""

from __future__ import annotations

import json
import sqlite3
import threading

import pytest

from emulator.domain import async_rows as jobs
from emulator.domain.data_extensions import build_data_extension
from emulator.domain.filters import Compare, parse_filter
from emulator.domain.tenants import build_tenant
from emulator.store import open_store
from emulator.store.migrations import MIGRATIONS
from emulator.store.sqlite import BATCH_CHUNK, BATCH_ROWS, MULTI_ROWS, row_json

FIELDS = [
    {"name": "Key", "type": "Text", "length": 50, "isPrimaryKey": True},
    {"name": "Name", "type": "Text", "length": 50},
]


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "store.sqlite3")
    return request.getfixturevalue("pg_cluster").create_schema()


@pytest.fixture
def store(url):
    store = open_store(url)
    yield store
    store.close()


def tenant(tenant_id: str = "acme"):
    return build_tenant({"id": tenant_id}, now=1000.0)


def de(key: str = "people", de_id: str | None = None):
    raw = {"name": key.title(), "key": key, "fields": FIELDS}
    if de_id:
        raw["id"] = de_id
    return build_data_extension(raw, now=1000.0)


def job(job_id: str, tenant_id: str = "acme", called_at: float = 10.0, due_at: float = 10.0, state=jobs.QUEUED):
    return {"id": job_id, "tenant_id": tenant_id, "state": state, "called_at": called_at, "due_at": due_at}


# -- schema ---------------------------------------------------------------------------------------


def assert_stored_as_row_json(path: str, expected: dict[str, dict]) -> None:
    """The first row set's rows of a SQLite file, in their order, are ``expected``'s as ``row_json`` writes them."""
    with sqlite3.connect(path) as db:
        stored = [tuple(r) for r in db.execute("SELECT row_key, data FROM rows WHERE set_no = 1 ORDER BY seq")]
    assert stored == [(key, row_json(row)) for key, row in expected.items()]


def test_a_fresh_database_gets_every_migration_and_reopening_keeps_the_data(url):
    first = open_store(url)
    first.put_tenant(tenant())
    first.close()
    second = open_store(url)  # migrations already applied: nothing runs twice, nothing is lost
    assert [t.id for t in second.list_tenants()] == ["acme"]
    # the newest migration's tables are there: the token bucket table answers
    assert second.take_token("acme", 1.0, 1.0, 0.0) == (True, 0.0)
    second.close()
    assert len(MIGRATIONS) >= 3


# -- tenants and data extensions ------------------------------------------------------------------


def test_tenants_are_stored_replaced_listed_and_deleted(store):
    store.put_tenant(tenant("b"))
    store.put_tenant(tenant("a"))
    replacement = tenant("a")
    store.put_tenant(replacement)  # replacing keeps one
    assert [t.id for t in store.list_tenants()] == ["a", "b"]
    assert store.get_tenant("a").to_dict() == replacement.to_dict()
    assert store.get_tenant("missing") is None
    assert store.delete_tenant("a") is True
    assert store.delete_tenant("a") is False
    assert [t.id for t in store.list_tenants()] == ["b"]


def test_data_extensions_keep_their_fields_and_insertion_order(store):
    store.put_tenant(tenant())
    store.put_data_extension("acme", de("zeta"))
    store.put_data_extension("acme", de("alpha"))
    grown = de("zeta", store.list_data_extensions("acme")[0].id)
    store.put_data_extension("acme", grown)  # replaced in place, as when fields are added
    listed = store.list_data_extensions("acme")
    assert [d.key for d in listed] == ["zeta", "alpha"]
    assert listed[1] == de("alpha", listed[1].id)
    assert store.list_data_extensions("other") == []


# -- rows -----------------------------------------------------------------------------------------


def test_rows_upsert_by_key_append_and_read_back(store):
    store.write_rows("acme", "de1", {"k1": {"Key": "k1", "Name": "Ann"}, "k2": {"Key": "k2", "Name": "Bo"}}, [])
    store.write_rows("acme", "de1", {"k1": {"Key": "k1", "Name": "Annie"}}, [{"Key": None, "Name": "loose"}])
    store.write_rows("acme", "de2", {"k1": {"Key": "k1", "Name": "other DE"}}, [])
    assert store.rows_by_key("acme", "de1", ["k1", "k2", "k1", "nope"]) == {
        "k1": {"Key": "k1", "Name": "Annie"},
        "k2": {"Key": "k2", "Name": "Bo"},
    }
    assert store.rows_by_key("acme", "de1", []) == {}
    rows, total = store.query_rows("acme", "de1", None, 0, 10)
    assert total == 3
    assert rows == [{"Key": "k1", "Name": "Annie"}, {"Key": "k2", "Name": "Bo"}, {"Key": None, "Name": "loose"}]
    page, total = store.query_rows("acme", "de1", None, 1, 1)
    assert (page, total) == ([{"Key": "k2", "Name": "Bo"}], 3)


def test_a_merged_row_is_created_as_given_and_an_update_keeps_what_it_does_not_name(store):
    def stored(key):
        return list(store.rows_by_key("acme", "de1", [key])[key].items())  # the columns in their stored order

    store.merge_row("acme", "de1", "k1", {"Name": "Ann", "Key": "K1", "City": "Paris"}, ("Key",))
    assert stored("k1") == [("Name", "Ann"), ("Key", "K1"), ("City", "Paris")]
    # the update replaces the columns it names where they stand, appends new ones, keeps the others and
    # the key column's stored spelling
    store.merge_row("acme", "de1", "k1", {"Key": "k1", "Plan": "pro", "Name": "Annie"}, ("Key",))
    assert stored("k1") == [("Name", "Annie"), ("Key", "K1"), ("City", "Paris"), ("Plan", "pro")]
    store.merge_row("acme", "de1", "k1", {"Key": "k1", "City": None}, ("Key",))  # a null is a value
    assert stored("k1") == [("Name", "Annie"), ("Key", "K1"), ("City", None), ("Plan", "pro")]
    store.merge_row("acme", "de2", "k1", {"Key": "k1", "Name": "other DE"}, ("Key",))
    assert stored("k1") == [("Name", "Annie"), ("Key", "K1"), ("City", None), ("Plan", "pro")]
    with pytest.raises(RuntimeError), store.transaction():
        store.merge_row("acme", "de1", "k1", {"Key": "k1", "Name": "rolled back"}, ("Key",))
        store.merge_row("acme", "de3", "k9", {"Key": "k9", "Name": "rolled back"}, ("Key",))
        raise RuntimeError
    assert stored("k1") == [("Name", "Annie"), ("Key", "K1"), ("City", None), ("Plan", "pro")]
    assert store.rows_by_key("acme", "de3", ["k9"]) == {}
    store.merge_row("acme", "de3", "k9", {"Key": "k9", "Name": "after"}, ("Key",))
    assert store.query_rows("acme", "de3", None, 0, 10) == ([{"Key": "k9", "Name": "after"}], 1)


def test_many_rows_in_one_write(store):
    writes = {f"k{i}": {"Key": f"k{i}", "Name": str(i)} for i in reversed(range(1200))}
    appends = [{"Key": None, "Name": f"loose {i}"} for i in range(300)]
    store.write_rows("acme", "de1", writes, appends)
    assert len(store.rows_by_key("acme", "de1", list(writes))) == 1200
    rows, total = store.query_rows("acme", "de1", None, 0, 2000)
    assert total == 1500
    assert rows == [*writes.values(), *appends]  # read back in the order written


def test_new_rows_go_in_only_when_none_of_their_keys_is_stored(store):
    # insert_new_rows stores every row (True) or none (False: a store may also answer False untried)
    first = {f"k{i}": {"Key": f"k{i}", "Name": f"first {i}"} for i in range(20)}
    if not store.insert_new_rows("acme", "de1", first):
        assert store.query_rows("acme", "de1", None, 0, 100) == ([], 0)
        store.write_rows("acme", "de1", first, [])
    clash = {f"n{i}": {"Key": f"n{i}", "Name": f"new {i}"} for i in range(19)}
    clash["k7"] = {"Key": "k7", "Name": "stored already"}
    assert store.insert_new_rows("acme", "de1", clash) is False
    assert store.rows_by_key("acme", "de1", ["n0", "n1"]) == {}  # new keys: the next insert is tried again
    with store.transaction():  # inside a transaction, its earlier writes stay when the insert stores nothing
        store.write_rows("acme", "de1", {"x": {"Key": "x", "Name": "kept"}}, [])
        assert store.insert_new_rows("acme", "de1", clash) is False
    expected = [*first.values(), {"Key": "x", "Name": "kept"}]
    assert store.query_rows("acme", "de1", None, 0, 100) == (expected, 21)
    assert store.rows_by_key("acme", "de1", list(clash)) == {"k7": first["k7"]}


# text a row's key or values may hold: JSON escapes, quotes, control characters, U+2028, text that
# reads like an escape or like a stored row key, characters beyond the BMP, an empty string
TRICKY_TEXT = [
    'q"uote\\back\\slash',
    "tab\tnew\nline\r\x01\x1f\x7f",
    "\\u0000 and \\n as text",
    '["k"]',
    "\u2028\u2029 é ß 😀",
    "",
]


@pytest.mark.parametrize("copies", [1, 40])  # a few rows, and a few hundred in one write
def test_rows_keep_any_text_in_keys_and_values(store, copies):
    writes = {
        f"{text}|{i}|{n}": {"Key": text, "Name": text + "!", "Empty": None}
        for n in range(copies)
        for i, text in enumerate(TRICKY_TEXT)
    }
    appends = [{"Key": None, "Name": text} for _ in range(copies) for text in TRICKY_TEXT]
    store.write_rows("acme", "de1", writes, appends)
    assert store.rows_by_key("acme", "de1", list(writes)) == writes
    rows, total = store.query_rows("acme", "de1", None, 0, 1000)
    assert (rows, total) == ([*writes.values(), *appends], 2 * len(writes))
    # the stored text is what filters read
    where = Compare("Name", "eq", TRICKY_TEXT[0] + "!")
    assert store.query_rows("acme", "de1", where, 0, 1000)[0] == [
        writes[f"{TRICKY_TEXT[0]}|0|{n}"] for n in range(copies)
    ]
    updated = {key: {**row, "Name": "new"} for key, row in writes.items()}
    store.write_rows("acme", "de1", updated, [])
    assert store.rows_by_key("acme", "de1", list(writes)) == updated


def test_row_filters_compare_case_insensitively_with_and_or(store):
    store.write_rows(
        "acme",
        "de1",
        {
            "1": {"Key": "1", "Name": "Ann"},
            "2": {"Key": "2", "Name": "Bo"},
            "3": {"Key": "3", "Name": None},
        },
        [],
    )

    def keys(text):
        return [r["Key"] for r in store.query_rows("acme", "de1", parse_filter(text), 0, 10)[0]]

    assert keys("Name eq 'ANN'") == ["1"]
    assert keys("Name ne 'ann'") == ["2", "3"]
    assert keys("Name eq 'Ann' or Key eq '2'") == ["1", "2"]
    assert keys("Name eq 'Ann' and Key eq '2'") == []
    assert keys("Key eq 3") == ["3"]


def test_soap_filter_operators_give_the_same_verdicts(store):
    store.write_rows(
        "acme",
        "de1",
        {
            "1": {"Key": "1", "Name": "Ann", "Age": "9"},
            "2": {"Key": "2", "Name": "bob", "Age": "10"},
            "3": {"Key": "3", "Name": None, "Age": "100"},
            "4": {"Key": "4", "Name": "", "Age": None},
        },
        [],
    )

    def keys(op, value="", values=(), numeric=False, column="Name"):
        where = Compare(column, op, value, tuple(values), numeric)
        return [r["Key"] for r in store.query_rows("acme", "de1", where, 0, 10)[0]]

    assert keys("gt", "9", numeric=True, column="Age") == ["2", "3"]  # numbers, not text: 10 > 9
    assert keys("le", "10", numeric=True, column="Age") == ["1", "2"]
    assert keys("between", values=("9", "10"), numeric=True, column="Age") == ["1", "2"]
    assert keys("gt", "B") == ["2"]  # text compares byte-wise: 'bob' > 'B', 'Ann' < 'B'
    assert keys("null") == ["3", "4"]
    assert keys("notnull") == ["1", "2"]
    assert keys("like", "%O%") == ["2"]
    assert keys("in", values=("ANN", "Bob", "zed")) == ["1", "2"]
    assert keys("ne", "10", numeric=True, column="Age") == ["1", "3", "4"]


def test_rows_and_data_extensions_are_deleted(store):
    store.put_tenant(tenant())
    store.put_data_extension("acme", de("people", "de1"))
    store.put_data_extension("acme", de("others", "de2"))
    store.write_rows("acme", "de1", {"a": {"Key": "a"}, "b": {"Key": "b"}, "c": {"Key": "c"}}, [])
    store.write_rows("acme", "de2", {"a": {"Key": "a"}}, [])
    assert store.delete_rows("acme", "de1", ["a", "c", "missing", "a"]) == 2
    assert list(store.rows_by_key("acme", "de1", ["a", "b", "c"])) == ["b"]
    assert store.delete_rows("acme", "de1", []) == 0
    assert store.delete_data_extension("other-tenant", "de1") is False
    assert list(store.rows_by_key("acme", "de1", ["b"])) == ["b"]  # another tenant's delete touched nothing
    assert store.delete_data_extension("acme", "de1") is True
    assert [d.id for d in store.list_data_extensions("acme")] == ["de2"]
    assert store.query_rows("acme", "de1", None, 0, 10)[1] == 0
    assert store.rows_by_key("acme", "de2", ["a"]) == {"a": {"Key": "a"}}


def test_a_failing_transaction_leaves_nothing_and_nested_ones_roll_back_alone(store):
    with pytest.raises(RuntimeError), store.transaction():
        store.write_rows("acme", "de1", {"a": {"Key": "a"}}, [])
        raise RuntimeError("boom")
    assert store.rows_by_key("acme", "de1", ["a"]) == {}
    with store.transaction():
        store.write_rows("acme", "de1", {"b": {"Key": "b"}}, [])
        with pytest.raises(RuntimeError), store.transaction():
            store.write_rows("acme", "de1", {"c": {"Key": "c"}}, [])
            raise RuntimeError("inner")
    assert set(store.rows_by_key("acme", "de1", ["a", "b", "c"])) == {"b"}


def test_one_row_writes_land_in_their_own_data_extension_after_a_rolled_back_first_write(store, url):
    # a one-row write of a Data Extension whose rows' storage is known goes in as one statement; the
    # storage a rolled-back transaction set up must not be taken for known (another DE gets it next)
    with pytest.raises(RuntimeError), store.transaction():
        store.write_rows("acme", "fresh", {"k": {"Key": "k", "Name": "rolled back"}}, [])
        raise RuntimeError("boom")
    store.write_rows("acme", "taken", {"t": {"Key": "t", "Name": "taken"}}, [])
    store.write_rows("acme", "fresh", {"k": {"Key": "k", "Name": "first"}}, [])
    store.write_rows("acme", "fresh", {"k": {"Key": "k", "Name": "second", "Extra": None}}, [])
    store.write_rows("acme", "fresh", {"n": {"Key": "n", "Name": ""}}, [])
    reopened = open_store(url)
    try:
        for view in (store, reopened):
            assert view.query_rows("acme", "taken", None, 0, 10) == ([{"Key": "t", "Name": "taken"}], 1)
            assert view.query_rows("acme", "fresh", None, 0, 10) == (
                [{"Key": "k", "Name": "second", "Extra": None}, {"Key": "n", "Name": ""}],
                2,
            )
    finally:
        reopened.close()


def test_a_rolled_back_first_write_leaves_no_trace_for_the_next_data_extension(store):
    # the first write of a Data Extension may set up its rows' storage; rolled back, another
    # Data Extension written next (in a savepoint, then at the top) must not find these rows
    with store.transaction():
        store.write_rows("acme", "kept", {"k": {"Key": "k", "Name": "kept"}}, [])
        with pytest.raises(RuntimeError), store.transaction():
            store.write_rows("acme", "inner-gone", {"k": {"Key": "k", "Name": "inner-gone"}}, [])
            raise RuntimeError("inner")
        store.write_rows("other", "inner-next", {"k": {"Key": "k", "Name": "inner-next"}}, [])
    with pytest.raises(RuntimeError), store.transaction():
        store.write_rows("acme", "gone", {"k": {"Key": "k", "Name": "gone"}}, [])
        raise RuntimeError("boom")
    store.write_rows("other", "next", {"k": {"Key": "k", "Name": "next"}}, [])
    for tenant_id, de_id in (("acme", "gone"), ("acme", "inner-gone")):
        assert store.rows_by_key(tenant_id, de_id, ["k"]) == {}
        assert store.query_rows(tenant_id, de_id, None, 0, 10) == ([], 0)
    assert store.query_rows("other", "next", None, 0, 10) == ([{"Key": "k", "Name": "next"}], 1)
    assert store.rows_by_key("other", "inner-next", ["k"]) == {"k": {"Key": "k", "Name": "inner-next"}}
    assert store.rows_by_key("acme", "kept", ["k"]) == {"k": {"Key": "k", "Name": "kept"}}


# -- tokens, write log, throttle ------------------------------------------------------------------


def test_tokens_round_trip(store):
    record = {"tenant_id": "acme", "mid": 1, "scopes": ["data_extensions_read"], "expires_at": 2e9}
    store.put_token("tok", record)
    assert store.get_token("tok") == record
    assert store.get_token("other") is None


def test_the_write_log_lists_newest_first_per_tenant(store):
    for i in range(3):
        store.log_write("acme", {"at": float(i), "n": i})
    store.log_write("other", {"at": 9.0, "n": 9})
    entries = store.list_writes("acme", 2)
    assert [e["n"] for e in entries] == [2, 1]
    assert all(isinstance(e["id"], int) for e in entries)


def test_token_bucket_gives_burst_then_refills_at_the_rate(store):
    assert [store.take_token("acme", 2.0, 3.0, 100.0)[0] for _ in range(4)] == [True, True, True, False]
    assert store.take_token("acme", 2.0, 3.0, 100.25)[0] is False  # half a token
    assert store.take_token("acme", 2.0, 3.0, 100.5)[0] is True  # one token after 0.5 s at 2/s
    assert store.take_token("acme", 2.0, 3.0, 1000.0) == (True, 2.0)  # refills to burst, never beyond
    assert store.take_token("other", 2.0, 3.0, 100.0)[0] is True  # buckets are per tenant
    # a new rate or burst starts a full bucket, as a settings change does
    assert store.take_token("acme", 5.0, 1.0, 1000.0) == (True, 0.0)
    store.forget_buckets("acme")
    assert store.take_token("acme", 5.0, 1.0, 1000.0) == (True, 0.0)


def test_token_bucket_is_exact_under_concurrent_callers(url):
    """Many threads, each with its own connection on PostgreSQL: exactly ``burst`` get through."""
    stores = [open_store(url) for _ in range(2)]  # two store objects: as two processes would
    allowed = []
    lock = threading.Lock()

    def hammer(store):
        for _ in range(25):
            ok, _ = store.take_token("acme", 0.001, 30.0, 500.0)
            with lock:
                allowed.append(ok)

    threads = [threading.Thread(target=hammer, args=(stores[i % 2],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(allowed) == 30 and len(allowed) == 200
    for s in stores:
        s.close()


# -- async jobs -----------------------------------------------------------------------------------


def test_async_jobs_keep_items_until_finished(store):
    store.put_async_job(job("j1"), [{"keys": {"Key": "1"}}])
    assert store.get_async_job("acme", "j1")["state"] == jobs.QUEUED
    assert store.async_job_items("acme", "j1") == [{"keys": {"Key": "1"}}]
    store.put_async_job({**job("j1"), "state": jobs.PENDING})
    assert store.async_job_items("acme", "j1") == [{"keys": {"Key": "1"}}]
    store.put_async_job({**job("j1"), "state": jobs.COMPLETE})
    assert store.get_async_job("acme", "j1")["state"] == jobs.COMPLETE
    assert store.async_job_items("acme", "j1") is None
    assert store.get_async_job("acme", "nope") is None


def test_async_jobs_list_by_tenant_and_state_in_call_order(store):
    store.put_async_job(job("late", called_at=30.0), [])
    store.put_async_job(job("early", called_at=10.0), [])
    store.put_async_job(job("done", called_at=20.0, state=jobs.COMPLETE), [])
    store.put_async_job(job("theirs", tenant_id="other"), [])
    assert [j["id"] for j in store.list_async_jobs("acme", 10)] == ["early", "done", "late"]
    assert [j["id"] for j in store.list_async_jobs("acme", 1)] == ["early"]
    assert [j["id"] for j in store.list_async_jobs(None, 10, jobs.UNFINISHED)] == ["early", "theirs", "late"]


def test_claiming_takes_the_next_due_job(store):
    store.put_async_job(job("later", due_at=50.0), [])
    store.put_async_job(job("first", due_at=20.0, called_at=5.0), [])
    store.put_async_job(job("done", due_at=1.0, state=jobs.COMPLETE), [])
    assert store.next_async_due(jobs.UNFINISHED) == 20.0
    with store.transaction():
        assert store.claim_async_jobs(10.0, jobs.UNFINISHED) == []  # nothing due yet
        assert [j["id"] for j in store.claim_async_jobs(20.0, jobs.UNFINISHED)] == ["first"]
    store.put_async_job({**job("first", due_at=20.0), "state": jobs.COMPLETE})
    with store.transaction():
        assert [j["id"] for j in store.claim_async_jobs(60.0, jobs.UNFINISHED, limit=5)] == ["later"]
    assert store.next_async_due((jobs.ERROR,)) is None


def test_a_claimed_job_is_skipped_by_others_until_its_transaction_ends(pg_cluster):
    """PostgreSQL, two store objects (as two processes): the second never gets the job the first holds.
    (One process owns a SQLite database, so there is no second claimer there.)"""
    url = pg_cluster.create_schema()
    first, second = open_store(url), open_store(url)
    first.put_async_job(job("a", due_at=1.0), [])
    first.put_async_job(job("b", due_at=2.0), [])
    claimed_second = []
    with first.transaction():
        assert [j["id"] for j in first.claim_async_jobs(5.0, jobs.UNFINISHED)] == ["a"]
        worker = threading.Thread(
            target=lambda: claimed_second.extend(j["id"] for j in second.claim_async_jobs(5.0, jobs.UNFINISHED, 5))
        )
        worker.start()
        worker.join()
    assert claimed_second == ["b"]
    with second.transaction():  # released with the first transaction
        assert [j["id"] for j in second.claim_async_jobs(5.0, jobs.UNFINISHED, 5)] == ["a", "b"]
    first.close()
    second.close()


# -- what a shared store also holds (PostgreSQL): journal, fault firings, counters -------------------


def test_the_shared_journal_stays_bounded_under_concurrent_recorders_and_counts_every_eviction(pg_cluster):
    """Two store objects (as two processes) record 4 x 150 entries for two tenants at once: each tenant
    keeps exactly its newest ``keep``, every other entry is counted evicted, and the byte bound holds."""
    url = pg_cluster.create_schema()
    stores = [open_store(url), open_store(url)]
    keep, size = 40, 1000

    def record(store, tenant_key: str):
        for i in range(150):
            store.record_journal(tenant_key, float(i), "GET", 200, size, f'{{"n": {i}}}', keep, 10**9)

    threads = [threading.Thread(target=record, args=(s, t)) for s in stores for t in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counts = stores[0].journal_tenants()
    assert counts == {"a": (keep, keep * size, 300 - keep), "b": (keep, keep * size, 300 - keep)}
    assert stores[1].count_journal({"tenant_key": "a"}) == keep
    newest = stores[1].journal_entries({"tenant_key": "b"}, None)
    assert [i for i, _ in newest] == sorted((i for i, _ in newest), reverse=True)
    # all tenants together under 50 entries' bytes: the oldest of any tenant go, the newest stays
    stores[0].record_journal("c", 1.0, "GET", 200, size, "{}", keep, 50 * size)
    counts = stores[1].journal_tenants()
    assert sum(held for held, _, _ in counts.values()) == 50 and counts["c"][0] == 1
    assert sum(evicted for _, _, evicted in counts.values()) == 600 - 49
    for store in stores:
        store.close()


def test_a_counted_fault_rule_is_granted_exactly_n_times_to_concurrent_stores(pg_cluster):
    url = pg_cluster.create_schema()
    stores = [open_store(url), open_store(url)]
    assert stores[0].add_fault_rule("r", {"kind": "unavailable", "times": 25}, None, 25, 1.0) == "r"
    assert stores[1].add_fault_rule("r", {"kind": "unavailable"}, None, None, 2.0) is None  # id taken
    granted: list[int] = []

    def fire(store):
        for _ in range(40):
            if store.fire_fault_rule("r") is not None:
                granted.append(1)

    threads = [threading.Thread(target=fire, args=(s,)) for s in stores for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(granted) == 25 and stores[1].list_fault_rules()[0]["fired"] == 25
    for store in stores:
        store.close()


def test_shared_counters_add_up_what_every_store_adds(pg_cluster):
    url = pg_cluster.create_schema()
    stores = [open_store(url), open_store(url)]
    for store in stores:
        store.add_stats([("a", "c", "requests", 3), ("a", "sa", "100", 2), ("", "c", "requests", 1)])
    assert sorted(stores[0].stats_rows("a", ("c",))) == [("a", "c", "requests", 6)]
    assert sorted(stores[1].stats_rows(None, ("c",))) == [("", "c", "requests", 2), ("a", "c", "requests", 6)]
    stores[0].add_stats([], prune_before=101)  # per-second points older than the window go
    assert stores[1].stats_rows("a", ("sa",)) == []
    stores[1].forget_stats("a")
    assert stores[0].stats_rows(None, ("c",)) == [("", "c", "requests", 2)]
    for store in stores:
        store.close()


# -- Journey Builder, contacts, reset -------------------------------------------------------------


def test_event_definitions_journey_entries_and_contacts(store):
    store.put_event_definition("acme", {"id": "e1", "key": "Signup"})
    store.put_event_definition("acme", {"id": "e2", "key": "Order"})
    store.put_event_definition("acme", {"id": "e1", "key": "Signup", "name": "renamed"})
    assert [d["id"] for d in store.list_event_definitions("acme")] == ["e1", "e2"]
    assert store.list_event_definitions("acme")[0]["name"] == "renamed"
    assert store.delete_event_definition("acme", "e2") is True
    assert store.delete_event_definition("other", "e1") is False
    for i in range(3):
        store.add_journey_entry("acme", {"n": i})
    assert [e["n"] for e in store.list_journey_entries("acme", 2)] == [2, 1]
    assert store.last_contact_id("acme") == 0
    store.put_contact("acme", {"contactKey": "c2", "contactId": 2})
    store.put_contact("acme", {"contactKey": "c1", "contactId": 1, "v": 1})
    store.put_contact("acme", {"contactKey": "c1", "contactId": 1, "v": 2})
    assert store.get_contact("acme", key="c1")["v"] == 2
    assert store.get_contact("acme", contact_id=2)["contactKey"] == "c2"
    assert store.get_contact("other", key="c1") is None
    assert store.last_contact_id("acme") == 2
    assert [c["contactKey"] for c in store.list_contacts("acme", 10)] == ["c1", "c2"]


def _fill(store, tenant_id: str, de_id: str) -> None:
    store.put_tenant(tenant(tenant_id))
    store.put_data_extension(tenant_id, de(f"people-{tenant_id}", de_id))
    store.write_rows(tenant_id, de_id, {"k": {"Key": "k"}}, [])
    store.put_token(f"tok-{tenant_id}", {"tenant_id": tenant_id, "expires_at": 2e9})
    store.log_write(tenant_id, {"at": 1.0})
    store.put_async_job(job(f"job-{tenant_id}", tenant_id=tenant_id), [])
    store.put_event_definition(tenant_id, {"id": f"ev-{tenant_id}", "key": "Signup"})
    store.add_journey_entry(tenant_id, {"n": 1})
    store.put_contact(tenant_id, {"contactKey": "c", "contactId": 1})
    store.take_token(tenant_id, 1.0, 1.0, 0.0)


def _state(store, tenant_id: str, de_id: str) -> dict:
    return {
        "tenant": store.get_tenant(tenant_id) is not None,
        "des": len(store.list_data_extensions(tenant_id)),
        "rows": store.query_rows(tenant_id, de_id, None, 0, 10)[1],
        "token": store.get_token(f"tok-{tenant_id}") is not None,
        "writes": len(store.list_writes(tenant_id, 10)),
        "jobs": len(store.list_async_jobs(tenant_id, 10)),
        "events": len(store.list_event_definitions(tenant_id)),
        "entries": len(store.list_journey_entries(tenant_id, 10)),
        "contacts": len(store.list_contacts(tenant_id, 10)),
        "bucket_full": store.take_token(tenant_id, 1.0, 1.0, 0.0)[0],
    }


FULL = {"tenant": True, "des": 1, "rows": 1, "token": True, "writes": 1, "jobs": 1, "events": 1, "entries": 1}
CLEARED = {"rows": 0, "token": False, "writes": 0, "jobs": 0, "entries": 0, "contacts": 0, "bucket_full": True}


def test_reset_of_one_tenant_keeps_definitions_and_other_tenants(store):
    _fill(store, "a", "de-a")
    _fill(store, "b", "de-b")
    store.reset("a")
    assert _state(store, "a", "de-a") == {"tenant": True, "des": 1, "events": 1, **CLEARED}
    assert _state(store, "b", "de-b") == {**FULL, "contacts": 1, "bucket_full": False}


def test_reset_of_everything_and_deleting_a_tenant(store):
    _fill(store, "a", "de-a")
    _fill(store, "b", "de-b")
    store.reset()
    assert _state(store, "b", "de-b") == {"tenant": True, "des": 1, "events": 1, **CLEARED}
    _fill(store, "a", "de-a")
    assert store.delete_tenant("a") is True
    assert _state(store, "a", "de-a") == {"tenant": False, "des": 0, "events": 0, **CLEARED}


# -- tenant scope in every key ------------------------------------------------------------------------


def test_the_same_ids_in_two_tenants_are_two_objects(store):
    for t in ("a", "b"):
        store.put_tenant(tenant(t))
        store.put_data_extension(t, de(f"people-{t}", "same-id"))
        store.write_rows(t, "same-id", {"k": {"Key": "k", "Name": t}}, [{"Key": None, "Name": f"loose {t}"}])
        store.put_event_definition(t, {"id": "ev", "key": f"Signup-{t}"})
        store.put_async_job(job("job", tenant_id=t), [{"from": t}])
    store.put_data_extension("a", de("renamed", "same-id"))  # an update stays inside tenant a
    store.put_async_job({**job("job", tenant_id="a"), "state": jobs.COMPLETE})
    assert [d.key for d in store.list_data_extensions("a")] == ["renamed"]
    assert [d.key for d in store.list_data_extensions("b")] == ["people-b"]
    assert store.rows_by_key("b", "same-id", ["k"]) == {"k": {"Key": "k", "Name": "b"}}
    assert [r["Name"] for r in store.query_rows("b", "same-id", None, 0, 10)[0]] == ["b", "loose b"]
    assert store.list_event_definitions("b") == [{"id": "ev", "key": "Signup-b"}]
    assert store.get_async_job("b", "job")["state"] == jobs.QUEUED
    assert store.async_job_items("b", "job") == [{"from": "b"}] and store.async_job_items("a", "job") is None
    assert store.delete_event_definition("a", "ev") is True
    assert store.list_event_definitions("b") == [{"id": "ev", "key": "Signup-b"}]
    store.delete_tenant("a")
    assert store.query_rows("b", "same-id", None, 0, 10)[1] == 2


def _database_at_version_3(url: str):
    """A database as the emulator left it before tenant-scoped keys, with one tenant's objects."""
    from emulator.store.migrations import statements

    de_body = '{"id": "d1", "key": "k", "name": "K", "is_sendable": false, "description": "", ' + (
        '"category_id": 0, "created_at": 0.0, "fields": []}'
    )
    inserts = [
        ("INSERT INTO data_extensions (id, tenant_id, key, body) VALUES ('d1', 't1', 'k', {0})", (de_body,)),
        ("INSERT INTO rows (de_id, row_key, data) VALUES ('d1', 'a', '{{\"A\": \"1\"}}')", ()),
        (
            "INSERT INTO event_definitions (id, tenant_id, key, body) VALUES ('e1', 't1', 'ev', '{{\"id\": \"e1\"}}')",
            (),
        ),
        (
            "INSERT INTO async_jobs (id, tenant_id, state, called_at, body, items, due_at) "
            "VALUES ('j1', 't1', 'Queued', 1.0, '{{\"id\": \"j1\"}}', '[]', 1.0)",
            (),
        ),
    ]
    if url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(url, autocommit=True) as db:
            for number in (1, 2, 3):
                for statement in statements(number, "postgresql"):
                    db.execute(statement)
            db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
            db.execute("INSERT INTO schema_version (version) VALUES (3)")
            for sql, params in inserts:
                db.execute(sql.format("%s"), params)
        return
    import sqlite3

    db = sqlite3.connect(url)
    for number in (1, 2, 3):
        script = ";\n".join(statements(number, "sqlite"))
        db.executescript(f"BEGIN; {script}; PRAGMA user_version={number}; COMMIT;")
    for sql, params in inserts:
        db.execute(sql.format("?"), params)
    db.commit()
    db.close()


def test_migrating_to_tenant_scoped_keys_keeps_everything(url):
    _database_at_version_3(url)
    store = open_store(url)
    try:
        assert [d.key for d in store.list_data_extensions("t1")] == ["k"]
        assert store.rows_by_key("t1", "d1", ["a"]) == {"a": {"A": "1"}}
        assert store.rows_by_key("t2", "d1", ["a"]) == {}
        assert store.list_event_definitions("t1") == [{"id": "e1"}]
        assert store.get_async_job("t1", "j1") == {"id": "j1"} and store.get_async_job("t2", "j1") is None
        store.write_rows("t1", "d1", {"b": {"A": "2"}}, [])
        assert store.query_rows("t1", "d1", None, 0, 10)[1] == 2
    finally:
        store.close()


def test_sqlite_stores_any_row_text_and_reads_it_back(tmp_path):
    # rows are encoded by orjson; a row holding text orjson refuses (a lone surrogate, which no HTTP
    # body can carry but a caller of the store can) is encoded by json.dumps instead
    store = open_store(str(tmp_path / "text.sqlite3"))
    plain = {f"k{i}": {"Key": f"k{i}", "Name": 'Zoë 日本 🎉 " \\ \x00 \x7f'} for i in range(3)}
    store.write_rows("acme", "de1", plain, [{"Key": None, "Name": "loose é"}])
    odd = {"odd": {"Key": "odd", "Name": "\ud800 half"}, "even": {"Key": "even", "Name": "fine"}}
    store.write_rows("acme", "de1", odd, [])
    assert store.rows_by_key("acme", "de1", [*plain, *odd]) == {**plain, **odd}
    assert store.query_rows("acme", "de1", parse_filter("Name eq 'loose é'"), 0, 10) == (
        [{"Key": None, "Name": "loose é"}],
        1,
    )


@pytest.mark.parametrize("others", [1, 300])  # a few rows, and a few hundred in one write
def test_sqlite_rows_keep_a_nul_in_a_key_and_lone_surrogates(tmp_path, others):
    # text PostgreSQL cannot hold: a NUL character in a key; values with lone surrogates (stored as
    # json.dumps escapes them)
    store = open_store(str(tmp_path / "store.sqlite3"))
    plain = {f"p{i}": {"Key": f"p{i}", "Name": "plain"} for i in range(others)}
    try:
        nul = {**plain, "a\x00b": {"Key": "a\x00b", "Name": "nul"}}
        store.write_rows("acme", "de1", nul, [])
        assert store.rows_by_key("acme", "de1", list(nul)) == nul
        lone = {**plain, "c": {"Key": "c", "Name": "x\udfff"}}
        appends = [{"Key": None, "Name": "plain"}] * others + [{"Key": None, "Name": "\ud800"}]
        store.write_rows("acme", "de2", lone, appends)
        assert store.rows_by_key("acme", "de2", list(lone)) == lone
        assert store.query_rows("acme", "de2", None, 0, 1000)[0] == [*lone.values(), *appends]
    finally:
        store.close()


def test_sqlite_merges_a_row_into_one_stored_with_a_lone_surrogate_and_any_column_name(tmp_path):
    # a row stored by json.dumps (it holds a lone surrogate) writes its column names as escapes where orjson
    # writes them as they are: an update merges by name all the same, never adding a second member
    path = str(tmp_path / "merge.sqlite3")
    store = open_store(path)
    names = ["Key", "Villé", "日本", 'Tab\tQuote"', "Del\x7f", "Plain"]
    try:
        store.write_rows("acme", "de1", {"k": {**dict.fromkeys(names, "old"), "Key": "K", "Plain": "\ud800"}}, [])
        store.merge_row("acme", "de1", "k", {**dict.fromkeys(names, "new"), "Key": "k"}, ("Key",))
        assert list(store.rows_by_key("acme", "de1", ["k"])["k"].items()) == [("Key", "K")] + [
            (name, "new") for name in names[1:]
        ]
        store.merge_row("acme", "de1", "k", {"Key": "k", "Plain": "\udfff", "Added": "a"}, ("Key",))
        assert store.rows_by_key("acme", "de1", ["k"])["k"] == {
            **dict.fromkeys(names, "new"),
            "Key": "K",
            "Plain": "\udfff",
            "Added": "a",
        }
        ascii_names = {"Key": "K", "Name": "\ud800 half", "City": "Paris"}  # stored by json.dumps
        store.write_rows("acme", "de2", {"k": ascii_names}, [])
        store.merge_row("acme", "de2", "k", {"Key": "k", "City": "Lyon", "Plan": "pro"}, ("Key",))
        assert list(store.rows_by_key("acme", "de2", ["k"])["k"].items()) == [
            ("Key", "K"),
            ("Name", "\ud800 half"),
            ("City", "Lyon"),
            ("Plan", "pro"),
        ]
    finally:
        store.close()
    with sqlite3.connect(path) as db:  # each stored text names each column once (a reader keeps the last)
        for (text,) in db.execute("SELECT data FROM rows"):
            pairs = json.loads(text, object_pairs_hook=lambda pairs: pairs)
            assert len(pairs) == len(dict(pairs))


def test_sqlite_writes_of_several_statements_store_each_row_as_one_would(tmp_path):
    # a bulk write goes in as statements of BATCH_CHUNK rows each: every row stored as row_json
    # writes it, in order, a row orjson refuses among them (encoded by json.dumps), and a second
    # write over the same keys replaces each row where it stands
    path = str(tmp_path / "chunks.sqlite3")
    store = open_store(path)
    count = 2 * BATCH_CHUNK + 50
    try:
        for generation in ("first", "second"):
            writes = {f"k{i}": {"Key": f"k{i}", "Name": f"{generation} {i}"} for i in range(count)}
            writes[f"k{BATCH_CHUNK + 7}"]["Name"] = "\ud800 half"  # in the second statement
            appends = [{"Key": None, "Name": f"{generation} loose {i}"} for i in range(BATCH_CHUNK + 3)]
            appends[BATCH_CHUNK + 1]["Name"] = "\udfff"
            store.write_rows("acme", "de1", writes, appends)
            assert store.rows_by_key("acme", "de1", list(writes)) == writes
            loose = [{"Key": None, "Name": f"first loose {i}"} for i in range(BATCH_CHUNK + 3)]
            loose[BATCH_CHUNK + 1]["Name"] = "\udfff"
            if generation == "second":
                loose += appends
            assert store.query_rows("acme", "de1", None, 0, 3 * count)[0] == [*writes.values(), *loose]
    finally:
        store.close()
    with sqlite3.connect(path) as db:
        stored = [text for (text,) in db.execute("SELECT data FROM rows ORDER BY seq")]
    assert stored == [row_json(row) for row in [*writes.values(), *loose]]


@pytest.mark.parametrize("count", [MULTI_ROWS - 1, MULTI_ROWS, 50, BATCH_ROWS - 1])
def test_sqlite_writes_of_a_few_dozen_rows_store_each_row_as_one_would(tmp_path, count):
    # keyed rows below BATCH_ROWS go in as one multi-row statement from MULTI_ROWS rows: every row
    # stored as row_json writes it, in order, new rows after the stored ones, a stored row replaced
    # where it stands, a row orjson refuses (encoded by json.dumps) and a NUL in a key among them
    path = str(tmp_path / "few.sqlite3")
    store = open_store(path)
    try:
        first = {f"k{i}": {"Key": f"k{i}", "Name": f"first {i}"} for i in range(0, 2 * count, 2)}
        store.write_rows("acme", "de1", first, [])
        second = {f"k{i}": {"Key": f"k{i}", "Name": f"second {i}"} for i in range(count)}
        second["k1"]["Name"] = "\ud800 half"
        second["a\x00b"] = second.pop(f"k{count - 1}")
        store.write_rows("acme", "de1", second, [])
        expected = {**first, **second}
        assert store.rows_by_key("acme", "de1", list(expected)) == expected
    finally:
        store.close()
    assert_stored_as_row_json(path, expected)


@pytest.mark.parametrize("count", [MULTI_ROWS, 50, BATCH_ROWS - 1])
def test_sqlite_inserts_a_few_dozen_new_rows_as_write_rows_stores_them(tmp_path, count):
    # new keys from MULTI_ROWS to BATCH_ROWS - 1 rows go in as one plain INSERT: each row stored as
    # row_json writes it, in order, after the stored rows (a row orjson refuses and a NUL in a key among
    # them); a write with one stored key stores nothing, and the Data Extension's next writes are not
    # tried until a read finds none of its keys stored
    path = str(tmp_path / "new.sqlite3")
    store = open_store(path)
    try:
        first = {f"k{i}": {"Key": f"k{i}", "Name": f"first {i}"} for i in range(count)}
        first["k1"]["Name"] = "\ud800 half"
        first["a\x00b"] = first.pop(f"k{count - 1}")
        assert store.insert_new_rows("acme", "de1", first) is True
        second = {f"n{i}": {"Key": f"n{i}", "Name": f"second {i}"} for i in range(count)}
        assert store.insert_new_rows("acme", "de1", second) is True
        clash = {"x": {"Key": "x"}, **dict(list(first.items())[1:])}
        assert store.insert_new_rows("acme", "de1", clash) is False
        assert store.insert_new_rows("acme", "fresh", second) is True  # a Data Extension's first write
        # after a stored key, de1's writes read first (untried) until a read of several keys finds none
        third = {f"t{i}": {"Key": f"t{i}", "Name": f"third {i}"} for i in range(count)}
        assert store.insert_new_rows("acme", "de1", third) is False
        assert store.rows_by_key("acme", "de1", ["k0", "t0"]) == {"k0": first["k0"]}
        assert store.insert_new_rows("acme", "de1", third) is False
        assert store.rows_by_key("acme", "de1", ["t0", "t1"]) == {}
        assert store.insert_new_rows("acme", "de1", third) is True
        few = {f"z{i}": {"Key": f"z{i}"} for i in range(MULTI_ROWS - 1)}
        assert store.insert_new_rows("acme", "de1", few) is False  # untried: executemany's count of rows
        expected = {**first, **second, **third}
        assert store.rows_by_key("acme", "de1", [*expected, "x", *few]) == expected
        # a rolled-back first write's row set is not taken for known: the next one of that DE lands in its own
        with pytest.raises(RuntimeError), store.transaction():
            assert store.insert_new_rows("acme", "gone", second) is True
            raise RuntimeError("boom")
        assert store.insert_new_rows("acme", "taken", second) is True
        assert store.insert_new_rows("acme", "gone", third) is True
        assert store.rows_by_key("acme", "taken", [*second, *third]) == second
        assert store.rows_by_key("acme", "gone", [*second, *third]) == third
        assert store.rows_by_key("acme", "fresh", list(expected)) == second
    finally:
        store.close()
    assert_stored_as_row_json(path, expected)
