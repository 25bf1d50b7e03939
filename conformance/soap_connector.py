"""A SOAP-based connector: ``--connector python:conformance.soap_connector:run``.

It plans with this repository's planner, but writes every Data Extension row over SFMC's SOAP API
with FuelSDK-Python (``Salesforce-FuelSDK-Sans``, unmodified): one ``Create`` per Data Extension with
``SaveOptions`` ``UpdateAdd``, as SOAP-based reverse-ETL tools upsert. Contacts and API events go
through the bundled connector's REST delivery. Running the case library with it checks that rows
written through SOAP land under the same seed rules as REST writes.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections import defaultdict
from pathlib import Path

import FuelSDK

from connector.plan import UpsertRow, plan
from connector.transform import bind_to_columns

from .bundled import build, deliver


def _soap_client(settings: dict, folder: str) -> FuelSDK.ET_Client:
    base = settings["auth_base_url"].rstrip("/")
    return FuelSDK.ET_Client(
        False,
        False,
        {
            "clientid": settings["client_id"],
            "clientsecret": settings["client_secret"],
            "authenticationurl": base,
            "useOAuth2Authentication": "True",
            "defaultwsdl": f"{base}/etframework.wsdl",
            "wsdl_file_local_loc": str(Path(folder) / "etframework.wsdl"),
            "baseapiurl": base,
            **({"accountId": str(settings["account_id"])} if settings.get("account_id") else {}),
        },
    )


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _upsert(client: FuelSDK.ET_Client, de_key: str, rows: list[UpsertRow]) -> list[str]:
    """One SOAP Create (UpdateAdd) of the rows; the problems of the rows SFMC refused."""
    factory = client.soap_client.factory
    options = factory.create("CreateOptions")
    option = factory.create("SaveOption")
    option.PropertyName = "*"
    option.SaveAction = "UpdateAdd"
    options.SaveOptions = {"SaveOption": [option]}
    objects = []
    for row in rows:
        obj = factory.create("DataExtensionObject")
        obj.CustomerKey = de_key
        obj.Properties = {"Property": [{"Name": k, "Value": _text(v)} for k, v in {**row.keys, **row.values}.items()]}
        objects.append(obj)
    status, body = client.soap_client.service.Create(options, objects)
    if status != 200:
        return [f"{de_key}: SOAP Create answered {status}: {body}"]
    return [f"{de_key}: {r.StatusMessage}" for r in body.Results if r.StatusCode != "OK"]


def run(settings: dict, events: list[dict], env: dict) -> dict:
    rows: dict[str, list[UpsertRow]] = defaultdict(list)

    def planner(event, connector_settings):
        planned = plan(event, connector_settings)
        others = []
        for op in planned.operations:
            if isinstance(op, UpsertRow):
                rows[op.de_key].append(op)
            else:
                others.append(op)
        return dataclasses.replace(planned, operations=tuple(others))

    with tempfile.TemporaryDirectory(prefix="sfmc-soap-connector-") as tmp:
        destination = build(settings, tmp, planner=planner)
        summary = deliver(destination, events)
        problems: list[str] = []
        refused: list[str] = []
        if rows:
            client = _soap_client(settings, tmp)
            for de_key, batch in rows.items():
                # as the REST delivery does: text becomes ISO-8601 only for the DE's Date columns, an
                # ambiguous day/month is refused with the reason (connector.transform.bind_to_columns)
                types = destination.column_types(de_key)
                ready = []
                for op in batch:
                    try:
                        values = bind_to_columns(op.values, types) if types is not None else op.values
                    except ValueError as error:
                        refused.append(f"{de_key}: {error}")
                        continue
                    ready.append(dataclasses.replace(op, values=values))
                if ready:
                    problems.extend(_upsert(client, de_key, ready))
    rejected = {**summary["rejected"], **({"date_refused": len(refused)} if refused else {})}
    return {
        **summary,
        "rejected": rejected,
        "refused_rows": refused,
        "soap_rows": sum(len(b) for b in rows.values()) - len(refused),
        "soap_row_errors": problems,
    }
