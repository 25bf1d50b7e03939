"""Helpers for connector tests that run against a live emulator (never mocks of HTTP)."""

from __future__ import annotations

from connector.delivery.destination import Destination
from connector.settings import load_settings
from tests.fixtures import contact_de

# the DEs the connector's default settings (``destination``) write to: traits, Order Completed, Button Clicked
IDENTIFY_DE = contact_de(
    "identify",
    "Identify",
    {"name": "Email", "type": "EmailAddress"},
    {"name": "First Name", "type": "Text"},
    {"name": "Last Name", "type": "Text"},
    {"name": "Created At", "type": "Date"},
    {"name": "IP Address", "type": "Text"},
    {"name": "UTM Source", "type": "Text"},
    {"name": "Device-model", "type": "Text"},
    {"name": "Screen Width", "type": "Number"},
)
PRODUCT_ID = {"name": "Product Id", "type": "Text", "isPrimaryKey": True}
ORDERS_DE = contact_de(
    "orders",
    "Orders",
    PRODUCT_ID,
    {"name": "Revenue", "type": "Decimal", "precision": 18, "scale": 2},
    {"name": "Quantity", "type": "Number"},
)
CLICKS_DE = {
    "key": "clicks",
    "name": "Clicks",
    "fields": [
        {"name": "Uuid", "type": "Text", "length": 64, "isPrimaryKey": True},
        {"name": "Contact Key", "type": "Text", "length": 254},
        {"name": "Button Title", "type": "Text"},
    ],
}


def sfmc_tenant(emulator, **body) -> dict:
    body.setdefault("settings", {"rate_limit": 0, "async_pickup_delay": 0})
    body.setdefault("data_extensions", [IDENTIFY_DE, ORDERS_DE, CLICKS_DE])
    return emulator.create_tenant(**body)


def fault(emulator, tenant: dict, **rule) -> None:
    """Add a fault rule for this tenant through the admin API."""
    response = emulator.admin("POST", "/faults", json={"tenant": tenant["id"], **rule})
    assert response.status_code in (200, 201), response.text


ORDERS_EVENT = {"event": "Order Completed", "de_key": "orders", "primary_keys": "Contact Key,Product Id"}
CLICKS_EVENT = {"event": "Button Clicked", "de_key": "clicks", "uuid_primary_key": True}


def connector_settings(emulator, tenant: dict, outbox_dir, **overrides) -> dict:
    """The settings (file format) of a connector for ``tenant``'s first package on ``emulator``."""
    package = tenant["packages"][0]
    return {
        "client_id": package["client_id"],
        "client_secret": package["client_secret"],
        "subdomain": tenant["subdomain"],
        "auth_base_url": emulator.url,
        "identify_de_key": "identify",
        "conversion_events": [ORDERS_EVENT, CLICKS_EVENT],
        "outbox_path": str(outbox_dir / "outbox.sqlite3"),
        **overrides,
    }


def destination(emulator, tenant: dict, tmp_path, **overrides) -> Destination:
    settings = connector_settings(emulator, tenant, tmp_path, **{"rate_limit": 1000, **overrides})
    return Destination(load_settings(overrides=settings, env={}))


def identify(n: int, **extra) -> dict:
    return {
        "type": "identify",
        "userId": f"user-{n}",
        "messageId": f"identify-{n}",
        "traits": {"firstName": "Ann", "email": f"ann{n}@example.com", **extra},
    }


def order(n: int, user: str = "u1", product: str = "p1", **props) -> dict:
    return {
        "type": "track",
        "event": "Order Completed",
        "userId": user,
        "messageId": f"order-{n}",
        "properties": {"productId": product, "revenue": 10 + n, "quantity": n, **props},
    }
