"""The web inspector in a real browser: live data appears, and fault rules added on the page take effect."""

from __future__ import annotations

import requests
from playwright.sync_api import expect

DEMO = {"grant_type": "client_credentials", "client_id": "demo-client-id", "client_secret": "demo-client-secret"}


def sfmc(server):
    token = requests.post(f"{server.url}/v2/token", json=DEMO, timeout=10).json()["access_token"]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def test_a_row_written_through_the_sfmc_api_appears(live_server_factory, page):
    server = live_server_factory("--db", ":memory:")
    page.goto(f"{server.url}/_emulator/ui")
    expect(page.get_by_test_id("tenant-select")).to_have_value("demo")
    expect(page.locator("#des button[data-key='segment-identify']")).to_have_class("active")
    client = sfmc(server)
    written = client.post(
        f"{server.url}/hub/v1/dataevents/key:segment-identify/rowset",
        timeout=10,
        json=[{"keys": {"Contact Key": "browser-user-1"}, "values": {"Email": "ann@example.com", "Shoe Size": 9}}],
    )
    assert written.status_code == 200
    expect(page.get_by_test_id("rows")).to_contain_text("browser-user-1")
    expect(page.get_by_test_id("rows")).to_contain_text("ann@example.com")
    entry = page.locator("#journal tr[data-status='200']", has_text="/hub/v1/dataevents").first
    expect(entry).to_contain_text("ignored: Shoe Size")
    entry.click()
    expect(page.get_by_test_id("request-body").first).to_contain_text('"Contact Key": "browser-user-1"')
    expect(page.locator("[data-stat='rows_written'] b")).to_have_text("1")
    expect(page.get_by_test_id("traffic")).not_to_have_attribute("data-accepted", "0")


def test_a_fault_rule_added_on_the_page_makes_the_next_call_fail(live_server_factory, page):
    server = live_server_factory("--db", ":memory:")
    page.goto(f"{server.url}/_emulator/ui")
    expect(page.get_by_test_id("tenant-select")).to_have_value("demo")
    page.get_by_test_id("fault-kind").select_option("unavailable")
    page.get_by_test_id("fault-path").fill("/hub/*")
    page.get_by_test_id("fault-times").fill("1")
    page.get_by_test_id("fault-add").click()
    expect(page.get_by_test_id("faults")).to_contain_text("unavailable")
    url = f"{server.url}/hub/v1/dataevents/key:segment-identify/rowset"
    rows = [{"keys": {"Contact Key": "u1"}, "values": {"First Name": "U"}}]
    client = sfmc(server)
    failed = client.post(url, json=rows, timeout=10)
    assert failed.status_code == 503 and failed.json()["errorcode"] == 50300 and "Retry-After" in failed.headers
    assert client.post(url, json=rows, timeout=10).status_code == 200
    expect(page.locator("#journal tr[data-status='503']")).to_contain_text("fault")
    expect(page.locator("#faults tr td:nth-child(5)")).to_have_text("1")  # fired once
    page.get_by_test_id("fault-remove").click()
    expect(page.locator("#faults tr")).to_have_count(0)
    assert requests.get(f"{server.url}/_emulator/faults", timeout=10).json()["items"] == []


def test_a_rejected_rule_shows_the_problem(live_server_factory, page):
    server = live_server_factory("--db", ":memory:")
    page.goto(f"{server.url}/_emulator/ui")
    expect(page.get_by_test_id("tenant-select")).to_have_value("demo")
    page.get_by_test_id("fault-kind").select_option("latency")
    page.get_by_test_id("fault-add").click()
    expect(page.get_by_test_id("fault-error")).to_contain_text("delay")


def test_the_chart_marks_429s(live_server_factory, page):
    server = live_server_factory("--db", ":memory:", "--rate-limit", "2", "--burst", "2")
    client = sfmc(server)
    statuses = [client.get(f"{server.url}/data/v1/customobjects", timeout=10).status_code for _ in range(6)]
    assert 429 in statuses
    page.goto(f"{server.url}/_emulator/ui")
    expect(page.get_by_test_id("traffic")).not_to_have_attribute("data-throttled", "0")
    expect(page.get_by_test_id("traffic")).to_have_attribute("data-throttled", str(statuses.count(429)))
    expect(page.locator("#journal tr[data-status='429']").first).to_be_visible()


def test_a_soap_call_appears_with_its_operation_and_object_type(live_server_factory, page):
    server = live_server_factory("--db", ":memory:")
    page.goto(f"{server.url}/_emulator/ui")
    expect(page.get_by_test_id("tenant-select")).to_have_value("demo")
    token = requests.post(f"{server.url}/v2/token", json=DEMO, timeout=10).json()["access_token"]
    envelope = (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><s:Header>'
        f'<fueloauth xmlns="http://exacttarget.com">{token}</fueloauth></s:Header><s:Body>'
        '<CreateRequest xmlns="http://exacttarget.com/wsdl/partnerAPI"><Options/>'
        '<Objects xsi:type="DataExtensionObject"><CustomerKey>segment-identify</CustomerKey><Properties>'
        "<Property><Name>Contact Key</Name><Value>soap-browser-1</Value></Property>"
        "</Properties></Objects></CreateRequest></s:Body></s:Envelope>"
    )
    answer = requests.post(
        f"{server.url}/Service.asmx", data=envelope, headers={"Content-Type": "text/xml"}, timeout=10
    )
    assert answer.status_code == 200
    expect(page.get_by_test_id("rows")).to_contain_text("soap-browser-1")
    entry = page.locator("#journal tr[data-status='200']", has_text="/Service.asmx").first
    expect(entry.get_by_test_id("soap-call")).to_have_text("SOAP Create DataExtensionObject")
