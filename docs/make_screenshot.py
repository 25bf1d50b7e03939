"""Regenerate docs/inspector.png: the web inspector showing a demo tenant with real traffic.

Starts a throw-away emulator, writes rows (one with an ignored key, one with a bad email), goes
over the rate limit for some 429s, adds a fault rule and lets it fire, then photographs the page
in the system's headless Chromium. Run: ``.venv/bin/python docs/make_screenshot.py``.
"""

from __future__ import annotations

import time
from pathlib import Path

import requests
from playwright.sync_api import sync_playwright

from emulator.launcher import start_emulator

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OUT = Path(__file__).with_name("inspector.png")


def traffic(url: str) -> None:
    token = requests.post(
        f"{url}/v2/token",
        timeout=10,
        json={"grant_type": "client_credentials", "client_id": "demo-client-id", "client_secret": "demo-client-secret"},
    ).json()["access_token"]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    rowset = f"{url}/hub/v1/dataevents/key:segment-identify/rowset"
    people = [("ann", "Ann", "ann@example.com"), ("bob", "Bob", "bob@example.com"), ("cy", "Cy", "cy@example.org")]
    for key, name, email in people:
        session.post(rowset, json=[{"keys": {"Contact Key": key}, "values": {"Email": email, "First Name": name}}])
        time.sleep(0.4)
    session.post(
        rowset, json=[{"keys": {"Contact Key": "dee"}, "values": {"Email": "dee@example.com", "Shoe Size": 38}}]
    )
    session.post(rowset, json=[{"keys": {"Contact Key": "eve"}, "values": {"Email": "not-an-email"}}])
    session.post(f"{url}/contacts/v1/contacts", json={"contactKey": "ann", "attributeSets": []})
    session.post(
        f"{url}/interaction/v1/events",
        json={"ContactKey": "ann", "EventDefinitionKey": "APIEvent-user-registered", "Data": {"Plan": "pro"}},
    )
    session.put(
        f"{url}/data/v1/async/dataextensions/key:segment-identify/rows",
        json={
            "items": [{"Contact Key": f"bulk-{i}", "Email": f"bulk{i}@example.com"} for i in range(3)]
            + [{"Contact Key": "bulk-bad", "Email": "nope"}]
        },
    )
    requests.post(
        f"{url}/_emulator/faults",
        timeout=10,
        json={"id": "flaky-hub", "kind": "unavailable", "tenant": "demo", "path": "/hub/*", "times": 2},
    )
    for second in range(5):  # a burst over the 5/s limit each second: the chart shows 429s against the line
        for _ in range(3 + second):
            session.get(f"{url}/data/v1/customobjects", params={"$search": ""})
        session.post(
            rowset,
            json=[{"keys": {"Contact Key": f"burst-{second}"}, "values": {"Email": f"burst{second}@example.com"}}],
        )
        time.sleep(1)


def main() -> None:
    with start_emulator("--rate-limit", "5", "--burst", "5", demo=True, journal_size=None) as server:
        url = server.url
        traffic(url)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1200})
            page.goto(f"{url}/_emulator/ui")
            page.wait_for_selector("#journal tr[data-status='503']")
            page.locator("#journal tr[data-status='200']", has_text="ignored").first.click()
            page.wait_for_selector("[data-testid='request-body']")
            page.screenshot(path=str(OUT), full_page=True)
            browser.close()
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
