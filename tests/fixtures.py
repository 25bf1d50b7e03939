"""Data Extension definitions the tests share, each spelled once.

Tenants are created with these through the admin API (``make_tenant``, ``sfmc_tenant`` and the like);
a test that needs a DE of its own builds it with ``contact_de`` so the contact-key column reads the same
everywhere.
"""

from __future__ import annotations

# SFMC's subscriber key: Text(254), the primary key of every contact-keyed DE in these tests
CONTACT_KEY = {"name": "Contact Key", "type": "Text", "length": 254, "isPrimaryKey": True}

# one column of every type, behind the default tenant's ``identify`` DE
IDENTIFY_FIELDS = [
    CONTACT_KEY,
    {"name": "Email", "type": "EmailAddress"},
    {"name": "First Name", "type": "Text", "length": 20},
    {"name": "Age", "type": "Number"},
    {"name": "Score", "type": "Decimal", "precision": 5, "scale": 2},
    {"name": "Created At", "type": "Date"},
    {"name": "Opted In", "type": "Boolean"},
    {"name": "Phone", "type": "Phone"},
    {"name": "Locale", "type": "Locale"},
]
IDENTIFY_DE = {"key": "identify", "name": "Identify", "fields": IDENTIFY_FIELDS}


def contact_de(key: str, name: str, *fields: dict) -> dict:
    """A DE keyed by ``Contact Key``, then ``fields`` (another primary key among them makes the key composite)."""
    return {"key": key, "name": name, "fields": [CONTACT_KEY, *fields]}
