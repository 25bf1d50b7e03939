"""The emulator as the harness sees it: a URL and its admin API, used over HTTP only.

``EmulatorClient`` wraps the ``/_emulator`` control plane (tenants, rows, journal, faults, contacts,
journey entries, async jobs). Starting an emulator is ``emulator.launcher``'s (a child process or a
thread of this one).
"""

from __future__ import annotations

import re

import requests


class EmulatorUnavailable(RuntimeError):
    """The emulator lacks an endpoint a case needs (it answered a bare 404 for the route)."""


class AdminError(RuntimeError):
    pass


class EmulatorClient:
    def __init__(self, url: str, admin_token: str | None = None, timeout: float = 30.0):
        self.url = url.rstrip("/")
        self.session = requests.Session()
        if admin_token:
            self.session.headers["X-Emulator-Admin-Token"] = admin_token
        self.timeout = timeout

    def admin(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.session.request(method, f"{self.url}/_emulator{path}", timeout=self.timeout, **kwargs)

    def _json(self, method: str, path: str, what: str, **kwargs):
        response = self.admin(method, path, **kwargs)
        if response.status_code == 404 and _bare_not_found(response):
            generic = re.sub(r"^/tenants/[^/]+", "/tenants/{id}", path.split("?")[0])
            raise EmulatorUnavailable(f"the emulator has no {method} /_emulator{generic} ({what}) yet")
        if response.status_code >= 400:
            raise AdminError(f"{method} /_emulator{path} answered {response.status_code}: {response.text[:500]}")
        return response.json()

    def health(self) -> dict:
        return self._json("GET", "/health", "liveness")

    def create_tenant(self, body: dict) -> dict:
        return self._json("POST", "/tenants", "tenants", json=body)

    def delete_tenant(self, tenant_id: str) -> None:
        self.admin("DELETE", f"/tenants/{tenant_id}")
        self.admin("DELETE", f"/faults?tenant={tenant_id}")

    def data_extensions(self, tenant_id: str) -> list[dict]:
        return self._json("GET", f"/tenants/{tenant_id}/data-extensions", "data extensions")["items"]

    def rows(self, tenant_id: str, key: str) -> list[dict] | None:
        """Every row of a DE, or None when the tenant has no such DE."""
        response = self.admin("GET", f"/tenants/{tenant_id}/data-extensions/{key}/rows", params={"page_size": 10000})
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise AdminError(f"rows of {key}: {response.status_code} {response.text[:300]}")
        return response.json()["items"]

    def items(self, tenant_id: str, what: str) -> list[dict]:
        """``contacts``, ``journey-entries`` or ``async-jobs`` of a tenant."""
        return self._json("GET", f"/tenants/{tenant_id}/{what}", what)["items"]

    def journal(self, tenant_id: str, limit: int = 100000, **pattern) -> list[dict]:
        """The tenant's journal, oldest first."""
        params = {"tenant": tenant_id, "limit": limit, **pattern}
        return list(reversed(self._json("GET", "/journal", "request journal", params=params)["items"]))

    def add_faults(self, rules: list[dict]) -> list[dict]:
        return self._json("POST", "/faults", "fault injection", json=rules) if rules else []

    def fault(self, rule_id: str) -> dict | None:
        response = self.admin("GET", f"/faults/{rule_id}")
        return response.json() if response.ok else None


def _bare_not_found(response: requests.Response) -> bool:
    try:
        return response.json().get("message") == "Not Found"
    except ValueError:
        return True


def credentials(tenant: dict, url: str) -> dict:
    """What a connector needs to reach a tenant, as the ``SFMC_*`` environment variables name them."""
    package = tenant["packages"][0]
    return {
        "SFMC_CLIENT_ID": package["client_id"],
        "SFMC_CLIENT_SECRET": package["client_secret"],
        "SFMC_SUBDOMAIN": tenant["subdomain"],
        "SFMC_ACCOUNT_ID": str(tenant["business_units"][0]["mid"]),
        "SFMC_AUTH_BASE_URL": url,
        "SFMC_REST_BASE_URL": url,
    }
