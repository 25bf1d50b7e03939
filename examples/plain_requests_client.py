"""A Marketing Cloud client written only from Salesforce's public REST documentation, with plain `requests`.

It knows nothing about the emulator: point SFMC_AUTH_URL / SFMC_REST_URL at real SFMC
(https://<subdomain>.auth.marketingcloudapis.com/ and the token's rest_instance_url) or at the emulator.

    SFMC_AUTH_URL=http://127.0.0.1:8085/ SFMC_CLIENT_ID=demo-client-id SFMC_CLIENT_SECRET=demo-client-secret \\
        python examples/plain_requests_client.py
"""

from __future__ import annotations

import os
import sys
import time

import requests


def field(name: str, kind: str, ordinal: int, **given) -> dict:
    """A complete field object, as SFMC's REST create wants it (every flag spelled out)."""
    flags = ("isTemplateField", "isHidden", "isReadOnly", "isInheritable", "isOverridable", "mustOverride")
    base = {"name": name, "type": kind, "ordinal": ordinal, "isPrimaryKey": False, "isNullable": True}
    return {**base, **dict.fromkeys(flags, False), **given}


class MarketingCloud:
    def __init__(self, auth_url: str, client_id: str, client_secret: str, account_id: str | None = None):
        self.auth_url = auth_url.rstrip("/")
        self.credentials = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
        if account_id:
            self.credentials["account_id"] = account_id
        self.session = requests.Session()
        self.token = None
        self.rest_url = None
        self.expires_at = 0.0

    def authenticate(self) -> None:
        response = self.session.post(f"{self.auth_url}/v2/token", json=self.credentials, timeout=30)
        response.raise_for_status()
        body = response.json()
        self.token = body["access_token"]
        self.rest_url = body["rest_instance_url"].rstrip("/")
        self.expires_at = time.monotonic() + body["expires_in"] - 60

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        for _attempt in range(5):
            if self.token is None or time.monotonic() > self.expires_at:
                self.authenticate()
            response = self.session.request(
                method,
                f"{self.rest_url}{path}",
                headers={"Authorization": f"Bearer {self.token}"},
                timeout=30,
                **kwargs,
            )
            if response.status_code == 401:
                self.token = None
                continue
            if response.status_code == 429:
                time.sleep(float(response.headers.get("Retry-After", "1")))
                continue
            return response
        return response

    def data_extension_folder(self) -> int:
        """A folder id for a new DE (SFMC's REST create requires one): where the existing DEs are."""
        items = self.request("GET", "/data/v1/customobjects", params={"$search": ""}).json().get("items", [])
        return next(
            (i["categoryId"] for i in items if i.get("categoryId")), int(os.environ.get("SFMC_CATEGORY_ID", "0"))
        )

    def create_data_extension(self, definition: dict) -> dict:
        response = self.request("POST", "/data/v1/customobjects", json=definition)
        if response.status_code == 409:  # already there from an earlier run
            return self.request("GET", f"/data/v1/customobjects/key:{definition['key']}").json()
        response.raise_for_status()
        return response.json()

    def upsert_rows(self, key: str, rows: list[dict]) -> requests.Response:
        return self.request("POST", f"/hub/v1/dataevents/key:{key}/rowset", json=rows)

    def upsert_row(self, key: str, primary_keys: dict, values: dict) -> requests.Response:
        path_keys = ",".join(f"{k}:{v}" for k, v in primary_keys.items())
        return self.request("PUT", f"/hub/v1/dataevents/key:{key}/rows/{path_keys}", json={"values": values})

    def rows(self, key: str, filter_expr: str | None = None) -> list[dict]:
        params = {"$pageSize": 2500, "$page": 1}
        if filter_expr:
            params["$filter"] = filter_expr
        items = []
        while True:
            body = self.request("GET", f"/data/v1/customobjectdata/key/{key}/rowset", params=params).json()
            items.extend(body.get("items", []))
            if "next" not in body.get("links", {}):
                return items
            params["$page"] += 1


def main() -> int:
    mc = MarketingCloud(
        os.environ.get("SFMC_AUTH_URL", "http://127.0.0.1:8085/"),
        os.environ.get("SFMC_CLIENT_ID", "demo-client-id"),
        os.environ.get("SFMC_CLIENT_SECRET", "demo-client-secret"),
        os.environ.get("SFMC_ACCOUNT_ID"),
    )
    mc.create_data_extension(
        {
            "name": "Example Subscribers",
            "key": "example-subscribers",
            "categoryId": mc.data_extension_folder(),
            "isSendable": False,
            "fields": [
                field("Subscriber Key", "Text", 0, length=100, isPrimaryKey=True, isNullable=False),
                field("Email Address", "EmailAddress", 1),
                field("Points", "Number", 2),
            ],
        }
    )
    saved = mc.upsert_rows(
        "example-subscribers",
        [
            {"keys": {"Subscriber Key": "sub-1"}, "values": {"Email Address": "one@example.com", "Points": 10}},
            {"keys": {"Subscriber Key": "sub-2"}, "values": {"Email Address": "two@example.com", "Points": 20}},
        ],
    )
    print("rowset:", saved.status_code)
    print("single row:", mc.upsert_row("example-subscribers", {"Subscriber Key": "sub-1"}, {"Points": 11}).status_code)
    refused = mc.upsert_rows(
        "example-subscribers", [{"keys": {"Subscriber Key": "sub-3"}, "values": {"Email Address": "not an email"}}]
    )
    print("bad row:", refused.status_code, refused.json().get("additionalErrors", [{}])[0].get("message"))
    for item in mc.rows("example-subscribers", "Points eq 11"):
        print("row:", item["keys"], item["values"])
    return 0 if saved.ok and refused.status_code == 400 else 1


if __name__ == "__main__":
    sys.exit(main())
