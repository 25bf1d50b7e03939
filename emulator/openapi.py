"""The OpenAPI 3.1 document of the whole emulator, and request-body validation driven by it.

Every route declares its operation where it is declared (``api/routes.py``: rule, methods, scope,
summary, body schema together); this module holds the shared schemas, builds one operation from
a declaration (``operation``), the document from all of them (``OpenApi``), and checks request
bodies against the same schemas, so the docs and the behaviour cannot drift.
``tests/emulator/test_openapi.py`` checks that every Flask route is documented and every
documented operation exists.

Each SFMC operation documents its success body (a schema per answer, cited from the SFMC reference,
``sfmc-api-notes.md`` or the recordings in ``docs/fidelity.md``; no schema and no content where the
answer has no body), the chain's 401/403/429 in SFMC's envelope and its other 4xx in the route's
own; non-JSON answers (the inspector, metrics, SOAP, OPTIONS) carry their real media types. Fields
a route refuses the absence of are ``required`` in the served document (``REFUSED_WHEN_ABSENT``).
``tests/emulator/test_schemathesis.py`` checks live answers against all of it.

An operation's ``x-error-envelope`` says how a body that fails its schema is answered: ``sfmc``
(400, errorcode 10003, one ``additionalErrors`` entry per problem), ``oauth`` (400
``invalid_request``) or ``async`` (400 ``resultMessages``).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from functools import lru_cache

import jsonschema

from .domain.faults import RULE_SCHEMA

OBJ = {"type": "object"}
ANY_JSON = {}
STR_OR_NUM = {"type": ["string", "number"]}

SCHEMAS: dict[str, dict] = {
    "SfmcError": {
        "type": "object",
        "required": ["message", "errorcode", "documentation"],
        "properties": {
            "message": {"type": "string"},
            "errorcode": {"type": "integer"},
            "documentation": {"type": "string"},
            "additionalErrors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "message": {"type": "string"},
                        "errorcode": {"type": "integer"},
                        "documentation": {"type": "string"},
                    },
                },
            },
        },
    },
    "OAuthError": {
        "type": "object",
        "required": ["error", "error_description"],
        "properties": {
            "error": {"type": "string"},
            "error_description": {"type": "string"},
            "error_uri": {"type": "string"},
        },
    },
    "AsyncError": {
        "type": "object",
        "required": ["resultMessages"],
        "properties": {
            "resultMessages": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        k: {"type": "string"} for k in ("resultType", "resultClass", "resultCode", "message")
                    },
                },
            }
        },
    },
    "TokenRequest": {
        "type": "object",
        "description": "JSON or form-encoded; the Authorization header is ignored.",
        "properties": {
            "grant_type": {"type": "string"},
            "client_id": STR_OR_NUM,
            "client_secret": STR_OR_NUM,
            "account_id": {"type": ["string", "integer"]},
            "scope": {"type": "string"},
        },
    },
    "TokenResponse": {
        "type": "object",
        "description": "sfmc-api-notes.md (OAuth2 v2); the instance URLs point back at the emulator.",
        "required": ["access_token", "token_type", "expires_in", "scope", "soap_instance_url", "rest_instance_url"],
        "properties": {
            "access_token": {"type": "string"},
            "token_type": {"const": "Bearer"},
            "expires_in": {"type": "integer"},
            "scope": {"type": "string"},
            "soap_instance_url": {"type": "string"},
            "rest_instance_url": {"type": "string"},
        },
    },
    "LegacyTokenRequest": {
        "type": "object",
        "properties": {
            "clientId": STR_OR_NUM,
            "clientSecret": STR_OR_NUM,
            "accessType": {"type": "string", "description": "'offline' adds a refreshToken to the answer"},
            "refreshToken": {"type": "string"},
        },
    },
    "LegacyTokenResponse": {
        "type": "object",
        "description": "sfmc-api-notes.md (Legacy v1): refreshToken with accessType offline, "
        "legacyToken with ?legacy=1.",
        "required": ["accessToken", "expiresIn"],
        "properties": {
            "accessToken": {"type": "string"},
            "expiresIn": {"type": "integer"},
            "refreshToken": {"type": "string"},
            "legacyToken": {"type": "string"},
        },
    },
    "Rowset": {
        "type": "array",
        "description": "Rows to upsert on the primary key; not atomic (rows before the first bad "
        "row are saved). Best practice 50 rows per call, 5 MB at most.",
        # keys/values are left to the row validator: a bad row is a 10006 row failure, and rows before it are saved
        "items": {
            "type": "object",
            "properties": {
                "keys": {"description": "object: the primary-key columns"},
                "values": {"description": "object: the other columns"},
            },
        },
    },
    "HubAsyncRowset": {
        "type": "array",
        "description": "The sync rowset's shape; accepted with 202 and written later, each row standing "
        "or failing alone.",
        "items": {"type": "object", "properties": {"keys": {}, "values": {}}},
    },
    "RowValues": {"type": "object", "properties": {"values": {"type": ["object", "null"]}}},
    "HubAsyncRowValues": {"type": "object", "properties": {"values": {"type": ["object", "null"]}}},
    "RowsetEcho": {
        "type": "array",
        "description": "The rowset as sent (sfmc-api-notes.md: 200 echoes the array).",
        "items": {"type": "object"},
    },
    "RowEcho": {
        "type": "object",
        "description": "One {keys, values} (sfmc-api-notes.md), keys from the path.",
        "required": ["keys", "values"],
        "properties": {"keys": OBJ, "values": OBJ},
    },
    "RowsetPage": {
        "type": "object",
        "description": "sfmc-api-notes.md (Reading rows); items absent when the page is empty. Recorded answers "
        "(sfmc-devtools test/resources) read every value back as a string, dates as M/d/yyyy h:mm:ss AM.",
        "required": ["links", "requestToken", "customObjectKey", "pageSize", "page", "count", "top"],
        "properties": {
            "links": {
                "type": "object",
                "properties": {"self": {"type": "string"}, "next": {"type": "string"}, "prev": {"type": "string"}},
            },
            "requestToken": {"type": "string"},
            "tokenExpireDateUtc": {"type": "string"},
            "customObjectId": {"type": "string"},
            "customObjectKey": {"type": "string"},
            "pageSize": {"type": "integer"},
            "page": {"type": "integer"},
            "count": {"type": "integer"},
            "top": {"type": "integer"},
            "items": {
                "type": "array",
                "items": {"type": "object", "required": ["keys", "values"], "properties": {"keys": OBJ, "values": OBJ}},
            },
        },
    },
    "DataExtension": {
        "type": "object",
        "description": "sfmc-api-notes.md (POST /data/v1/customobjects → 201 {id, key, name, ...}).",
        "required": ["id", "key", "name", "fields"],
        "properties": {
            "id": {"type": "string"},
            "key": {"type": "string"},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "isSendable": {"type": "boolean"},
            "categoryId": {"type": ["integer", "string"]},
            "fieldCount": {"type": "integer"},
            "fields": {"type": "array", "items": {"$ref": "#/components/schemas/Field"}},
        },
    },
    "Field": {
        "type": "object",
        "required": ["name", "type", "isPrimaryKey", "isNullable"],
        "properties": {
            "name": {"type": "string"},
            "type": {"type": "string"},
            "length": {"type": ["integer", "null"]},
            "scale": {"type": ["integer", "null"]},
            "precision": {"type": ["integer", "null"]},
            "isPrimaryKey": {"type": "boolean"},
            "isNullable": {"type": "boolean"},
            "defaultValue": {},
            "ordinal": {"type": "integer"},
        },
    },
    "DataExtensionFields": {
        "type": "object",
        "description": "sfmc-api-notes.md (GET /data/v1/customobjects/{id}/fields: {fields: [...]}).",
        "required": ["id", "key", "fields"],
        "properties": {
            "id": {"type": "string"},
            "key": {"type": "string"},
            "fields": {"type": "array", "items": {"$ref": "#/components/schemas/Field"}},
        },
    },
    "DataExtensionList": {
        "type": "object",
        "description": "Pages of 25 with links and each DE's rowCount (docs/fidelity.md [probe-notes]).",
        "required": ["count", "page", "pageSize", "links", "items"],
        "properties": {
            "count": {"type": "integer"},
            "page": {"type": "integer"},
            "pageSize": {"type": "integer"},
            "links": OBJ,
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "key", "name"],
                    "properties": {
                        "id": {"type": "string"},
                        "key": {"type": "string"},
                        "name": {"type": "string"},
                        "rowCount": {"type": "integer"},
                    },
                },
            },
        },
    },
    "AsyncAccepted": {
        "type": "object",
        "description": "ResponseAsyncDataExtensionRows_202 of the SFMC REST reference (requestId required).",
        "required": ["requestId", "resultMessages"],
        "properties": {
            "requestId": {"type": "string"},
            "resultMessages": {"type": "array", "items": {"$ref": "#/components/schemas/ResultMessage"}},
        },
    },
    "ResultMessage": {
        "type": "object",
        "required": ["resultType", "resultClass", "resultCode", "message"],
        "properties": {k: {"type": "string"} for k in ("resultType", "resultClass", "resultCode", "message")},
    },
    "AsyncStatus": {
        "type": "object",
        "description": "ResponseAsyncStatus_200 of the SFMC REST reference; status is absent until the request "
        "is picked up (sfmc-api-notes.md), requestId is the status call's own.",
        "required": ["requestId", "resultMessages"],
        "properties": {
            "status": {
                "type": "object",
                "required": ["requestStatus", "requestId"],
                "properties": {
                    "callDateTime": {"type": "string"},
                    "completionDateTime": {"type": "string"},
                    "pickupDateTime": {"type": "string"},
                    "hasErrors": {"type": "boolean"},
                    "requestStatus": {"enum": ["Pending", "Executing", "Complete", "Error"]},
                    "resultStatus": {"enum": ["OK", "Has Errors"]},
                    "requestId": {"type": "string"},
                },
            },
            "requestId": {"type": "string"},
            "resultMessages": {"type": "array", "items": {"$ref": "#/components/schemas/ResultMessage"}},
        },
    },
    "AsyncResults": {
        "type": "object",
        "description": "ResponseAsyncResults_200 of the SFMC REST reference (page, pageSize, count, requestId "
        "required); one item per submitted row (docs/fidelity.md [sf-async-results]).",
        "required": ["page", "pageSize", "count", "requestId", "items"],
        "properties": {
            "page": {"type": "integer"},
            "pageSize": {"type": "integer"},
            "count": {"type": "integer"},
            "requestId": {"type": "string"},
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["status", "message"],
                    "properties": {
                        "status": {"enum": ["OK", "Error"]},
                        "message": {"type": "string"},
                        "errorCode": {"type": "integer"},
                        "errors": {"type": "array", "items": OBJ},
                    },
                },
            },
            "resultMessages": {"type": "array", "items": {"$ref": "#/components/schemas/ResultMessage"}},
        },
    },
    "EventInstance": {
        "type": "object",
        "description": "ResponsePostEvent_200 of the SFMC REST reference.",
        "required": ["eventInstanceId"],
        "properties": {"eventInstanceId": {"type": "string"}},
    },
    "AsyncEventsAccepted": {
        "type": "object",
        "description": "sfmc-api-notes.md (POST /interaction/v1/async/events); a refused member carries errorcode "
        "and message instead of an eventInstanceId.",
        "required": ["requestId", "count", "notQueuedCount", "members"],
        "properties": {
            "requestId": {"type": "string"},
            "count": {"type": "integer"},
            "notQueuedCount": {"type": "integer"},
            "members": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "contactKey": {},
                        "eventInstanceId": {"type": "string"},
                        "errorcode": {"type": "string"},
                        "message": {"type": "string"},
                    },
                },
            },
        },
    },
    "EventDefinitionView": {
        "type": "object",
        "description": "An event definition as recorded by sfmc-devtools (docs/fidelity.md [devtools-events]).",
        "required": ["id", "type", "name", "eventDefinitionKey", "dataExtensionId", "mode"],
        "properties": {
            "id": {"type": "string"},
            "type": {"type": "string"},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "createdDate": {"type": "string"},
            "modifiedDate": {"type": "string"},
            "mode": {"type": "string"},
            "eventDefinitionKey": {"type": "string"},
            "dataExtensionId": {"type": "string"},
            "dataExtensionName": {"type": "string"},
            "schema": OBJ,
            "arguments": OBJ,
            "metaData": OBJ,
        },
    },
    "EventDefinitionList": {
        "type": "object",
        "required": ["count", "page", "pageSize", "items"],
        "properties": {
            "count": {"type": "integer"},
            "page": {"type": "integer"},
            "pageSize": {"type": "integer"},
            "links": OBJ,
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/EventDefinitionView"}},
        },
    },
    "ContactResult": {
        "type": "object",
        "description": "sfmc-api-notes.md (Contacts: 200 {operationStatus, rowsAffected, contactKey, ...}).",
        "required": ["operationStatus", "rowsAffected", "contactKey", "contactId", "isNewContactKey", "hasErrors"],
        "properties": {
            "operationStatus": {"type": "string"},
            "rowsAffected": {"type": "integer"},
            "contactKey": {"type": "string"},
            "contactId": {"type": "integer"},
            "contactTypeID": {"type": "integer"},
            "isNewContactKey": {"type": "boolean"},
            "isNewContactId": {"type": "boolean"},
            "hasErrors": {"type": "boolean"},
            "resultMessages": {"type": "array"},
            "requestServiceMessageID": {"type": "string"},
            "responseDateTime": {"type": "string"},
            "serviceMessageID": {"type": "string"},
        },
    },
    "SoapEndpoint": {
        "type": "object",
        "description": "What FuelSDK reads its SOAP address from.",
        "required": ["url"],
        "properties": {"url": {"type": "string"}},
    },
    "DataExtensionDefinition": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "key": {"type": "string"},
            "description": {"type": "string"},
            "categoryId": {"type": ["integer", "string"]},
            "isSendable": {"type": "boolean"},
            "fields": {"type": "array", "items": {"$ref": "#/components/schemas/FieldDefinition"}},
        },
    },
    "FieldDefinition": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "type": {"type": "string"},
            "isPrimaryKey": {"type": "boolean"},
            "isNullable": {"type": "boolean"},
            "length": {"type": ["integer", "string"]},
            "scale": {"type": ["integer", "string"]},
            "precision": {"type": ["integer", "string"]},
            "ordinal": {"type": "integer"},
        },
    },
    "AddFields": {
        "type": "object",
        "properties": {"fields": {"type": "array", "items": {"$ref": "#/components/schemas/FieldDefinition"}}},
    },
    "AsyncRows": {
        "type": "object",
        "description": "Flat rows, keys and values together; at most 32,000 items.",
        "properties": {"items": {"type": "array", "items": OBJ}},
    },
    "ApiEvent": {
        "type": "object",
        "description": "Property names are accepted in any case (clients send contactKey).",
        "properties": {"ContactKey": STR_OR_NUM, "EventDefinitionKey": {"type": "string"}, "Data": OBJ},
    },
    "AsyncApiEvents": {
        "type": "object",
        "properties": {"eventDefinitionKey": {"type": "string"}, "members": {"type": "array", "items": OBJ}},
    },
    "EventDefinition": {
        "type": "object",
        "properties": {
            "eventDefinitionKey": {"type": "string"},
            "name": {"type": "string"},
            "dataExtensionId": {"type": "string"},
        },
    },
    "NewEventDefinition": {
        "type": "object",
        "description": "With a schema instead of a dataExtensionId, the event's Data Extension is created first "
        "(docs/fidelity.md [devtools-events]).",
        "properties": {
            "eventDefinitionKey": {"type": "string"},
            "key": {"description": "read as eventDefinitionKey when that is absent"},
            "name": {"type": "string"},
            "dataExtensionId": {"type": "string"},
            "schema": {"description": "the fields of a Data Extension to create for the event"},
        },
    },
    "ContactUpsert": {
        "type": "object",
        "properties": {"contactKey": STR_OR_NUM, "attributeSets": {"type": "array", "items": OBJ}},
    },
    "ContactUpdate": {
        "type": "object",
        "properties": {
            "contactKey": STR_OR_NUM,
            "contactID": {"description": "the contact's id, instead of contactKey"},
            "attributeSets": {"type": "array", "items": OBJ},
        },
    },
    "TenantDefinition": {
        "type": "object",
        "description": "An SFMC account; everything left out is generated. Same shape as a "
        "scenario file's tenants[] entry.",
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "subdomain": {"type": "string"},
            "business_units": {"type": "array", "items": OBJ},
            "packages": {"type": "array", "items": OBJ},
            "settings": OBJ,
            "data_extensions": {"type": "array", "items": OBJ},
            "event_definitions": {"type": "array", "items": OBJ},
        },
    },
    "TenantSettings": {
        "type": "object",
        "properties": {
            "rate_limit": {"type": "number"},
            "burst": {"type": "number"},
            "token_lifetime": {"type": "integer"},
            "async_api_enabled": {"type": "boolean"},
            "strict_columns": {"type": "boolean"},
            "require_title_case": {"type": "boolean"},
            "async_pickup_delay": {"type": "number"},
            "legacy_token_lifetime": {"type": "integer"},
            "sfmc_read_formats": {"type": "boolean"},
            "require_complete_definitions": {"type": "boolean"},
            "accept_sfmc_date_formats": {"type": "boolean"},
        },
    },
    "ClockChange": {"type": "object", "properties": {"advance": STR_OR_NUM, "freeze": {"type": "boolean"}}},
    "FaultRule": {k: v for k, v in RULE_SCHEMA.items() if k != "$schema"},
    "FaultRules": {
        "oneOf": [
            {"$ref": "#/components/schemas/FaultRule"},
            {"type": "array", "items": {"$ref": "#/components/schemas/FaultRule"}},
        ]
    },
    "JournalPattern": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "tenant": {"type": ["string", "null"], "description": "null: calls that failed auth"},
            "method": {"type": "string"},
            "path": {"type": "string", "description": "glob; * spans /"},
            "path_contains": {"type": "string"},
            "status": {"type": ["integer", "string"], "description": "429 or a class such as 4xx"},
            "since": {"type": "number", "description": "emulator-clock epoch seconds"},
            "since_id": {"type": "integer"},
            "body_contains": {"type": "string"},
        },
    },
    "JournalEntry": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "at": {"type": "number"},
            "tenant": {"type": ["string", "null"]},
            "mid": {"type": ["integer", "null"]},
            "method": {"type": "string"},
            "path": {"type": "string"},
            "query": {"type": "string"},
            "route": {"type": "string"},
            "status": {"type": ["integer", "null"], "description": "null when the connection was dropped"},
            "latency_ms": {"type": "number"},
            "request_body": {"type": ["string", "null"]},
            "request_body_truncated": {"type": "boolean"},
            "response_body": {"type": ["string", "null"]},
            "response_body_truncated": {"type": "boolean"},
            "keys_ignored": {"type": "array", "items": {"type": "string"}},
            "rules_broken": {"type": "array", "items": {"type": "string"}},
            "rows_written": {"type": "integer"},
            "fault": {"type": ["string", "null"]},
        },
    },
}

# Fields whose absence each route refuses with its own SFMC error (10002 "... is required", 10006 for a
# row, 401 for missing credentials, ...). The served document marks them; the body check before the
# view leaves them to the route, so a client sees the error SFMC sends for each, not a generic 10003.
# Property names matched in any case (API events) or with an alternative spelling are not marked
# beyond what JSON Schema can say (anyOf).
REFUSED_WHEN_ABSENT: dict[str, dict] = {
    "TokenRequest": {"required": ["grant_type", "client_id", "client_secret"]},
    "LegacyTokenRequest": {"required": ["clientId", "clientSecret"]},
    "Rowset": {"minItems": 1, "items": {"required": ["keys", "values"]}},
    "HubAsyncRowset": {"minItems": 1},
    "RowValues": {"required": ["values"]},
    "DataExtensionDefinition": {"required": ["name", "fields"]},
    "FieldDefinition": {"required": ["name"]},
    "AddFields": {"required": ["fields"]},
    "AsyncRows": {"required": ["items"]},
    "NewEventDefinition": {
        "allOf": [
            {"anyOf": [{"required": ["eventDefinitionKey"]}, {"required": ["key"]}]},
            {"anyOf": [{"required": ["dataExtensionId"]}, {"required": ["schema"]}]},
        ]
    },
    "ContactUpsert": {"required": ["contactKey", "attributeSets"]},
    "ContactUpdate": {
        "required": ["attributeSets"],
        "anyOf": [{"required": ["contactKey"]}, {"required": ["contactID"]}],
    },
}


def _merge(schema: dict, extra: dict) -> None:
    for name, value in extra.items():
        if isinstance(value, dict) and isinstance(schema.get(name), dict):
            _merge(schema[name], value)
        else:
            schema[name] = copy.deepcopy(value)


ERROR_RESPONSES = {
    "sfmc": {"$ref": "#/components/responses/SfmcError"},
    "oauth": {"$ref": "#/components/responses/OAuthError"},
    "async": {"$ref": "#/components/responses/AsyncError"},
}


def operation(
    summary: str,
    tag: str,
    *,
    body: str | None = None,
    ok: int = 200,
    response: str | None = None,
    ok_media: str | None = "application/json",
    scope: str | None = None,
    envelope: str = "sfmc",
    params: list[dict] | None = None,
    content_type: str = "application/json",
    description: str | None = None,
) -> dict:
    """One operation: its body, its success answer (``response``: a schema name; ``ok_media`` None: no
    body; another media type: not JSON) and the errors as the emulator answers them."""
    out: dict = {"summary": summary, "tags": [tag], "x-error-envelope": envelope}
    if description:
        out["description"] = description
    if params:
        out["parameters"] = params
    if body:
        media = {"schema": {"$ref": f"#/components/schemas/{body}"}}
        content = {content_type: media}
        if body == "TokenRequest":
            content["application/x-www-form-urlencoded"] = media
        out["requestBody"] = {"required": True, "content": content}
    success: dict = {"description": "success"}
    if ok_media == "application/json":
        schema = {"$ref": f"#/components/schemas/{response}"} if response else OBJ
        success["content"] = {ok_media: {"schema": schema}}
    elif ok_media:
        success["content"] = {ok_media: {"schema": {"type": "string"}}}
    out["responses"] = {str(ok): success, "4XX": ERROR_RESPONSES[envelope], "5XX": ERROR_RESPONSES["sfmc"]}
    if tag != "admin" and tag != "auth":
        out["security"] = [{"bearer": []}]
        # the request chain refuses a call before its route runs: always SFMC's REST envelope
        out["responses"]["401"] = ERROR_RESPONSES["sfmc"]
        out["responses"]["403"] = ERROR_RESPONSES["sfmc"]
        out["responses"]["429"] = {"$ref": "#/components/responses/RateLimited"}
    elif tag == "admin":
        out["security"] = [{}, {"adminBearer": []}, {"adminHeader": []}]
    if scope:
        out["x-required-scope"] = scope
    return out


def query(name: str, description: str, schema: dict | None = None) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


MAX_PAGE = 10**9


def page_params(max_page_size: int) -> list[dict]:
    """``$page`` and ``$pageSize``: whole numbers in range, anything else a 400 errorcode 10001."""
    return [
        query("$page", "1-based page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}),
        query("$pageSize", "items per page", {"type": "integer", "minimum": 1, "maximum": max_page_size}),
    ]


@lru_cache(maxsize=1024)  # asked for the matched rule on every request with a body; the rules are the app's own
def flask_to_openapi(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def options_operation(sibling: dict) -> dict:
    """OPTIONS as Flask answers it for every rule: 200 with Allow and no body, after the request chain
    (a call to an SFMC route still needs a token; SOAP reads its token from an envelope, so it is a fault)."""
    allowed = {
        "description": "the methods of this path",
        "headers": {"Allow": {"schema": {"type": "string"}, "required": True}},
    }
    out: dict = {"summary": "The methods this path answers (Allow)", "tags": sibling["tags"]}
    if sibling.get("x-error-envelope") == "soap":
        out["responses"] = {k: v for k, v in sibling["responses"].items() if k != "200"}
        return out
    # a path parameter that makes the URL match no rule (an empty one, say) is a plain 404
    out["responses"] = {"200": allowed, "404": ERROR_RESPONSES["sfmc"]}
    if "security" in sibling:
        out["security"] = sibling["security"]
    if sibling.get("security") == [{"bearer": []}]:
        out["responses"].update(
            {k: sibling["responses"][k] for k in ("401", "403", "429") if k in sibling["responses"]}
        )
    if sibling["tags"] == ["admin"]:
        out["responses"]["4XX"] = ERROR_RESPONSES["sfmc"]  # an admin token or cross-site refusal
    return out


def _error_response(description: str, schema: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def build_document(operations: dict[tuple[str, str], dict]) -> dict:
    """The document of ``operations``: (method, OpenAPI path) -> operation."""
    paths: dict[str, dict] = {}
    for (method, path), op in operations.items():
        item = paths.setdefault(path, {})
        item[method] = copy.deepcopy(op)
        names = re.findall(r"{([^}]+)}", path)
        if names:
            item["parameters"] = [
                {"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in names
            ]
    for item in paths.values():
        item["options"] = options_operation(next(op for op in item.values() if isinstance(op, dict) and "tags" in op))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "SFMC emulator",
            "version": "0.1.0",
            "description": "A local Salesforce Marketing Cloud (OAuth, Data Extensions, async rows, Journey "
            "Builder events, contacts) and its control plane under /_emulator: tenants, "
            "request journal, fault injection, metrics and the web inspector.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": copy.deepcopy(SCHEMAS),
            "responses": {
                "SfmcError": _error_response("SFMC REST error envelope", "SfmcError"),
                "OAuthError": _error_response("OAuth2 error", "OAuthError"),
                "AsyncError": _error_response("async API error envelope", "AsyncError"),
                "RateLimited": {
                    **_error_response("429 errorcode 50100 with Retry-After", "SfmcError"),
                    "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                },
            },
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "access_token from POST /v2/token"},
                "adminBearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "the --admin-token, when the emulator was started with one",
                },
                "adminHeader": {"type": "apiKey", "in": "header", "name": "X-Emulator-Admin-Token"},
            },
        },
    }


SurelyValid = Callable[[object], bool]  # surely_valid_check's compiled check


class OpenApi:
    """The document of a set of declared operations, and their request-body validators."""

    def __init__(self, operations: dict[tuple[str, str], dict]):
        checked = build_document(operations)
        schemas = checked["components"]["schemas"]
        self._validators: dict[tuple[str, str], tuple[jsonschema.Draft202012Validator, str]] = {}
        self._surely_valid: dict[tuple[str, str], Callable[[object], bool]] = {}
        # (method, Flask rule) -> its validator, envelope and quick check, or None: found on first use
        self._by_rule: dict[tuple[str, str], tuple[jsonschema.Draft202012Validator, str, SurelyValid] | None] = {}
        for path, item in checked["paths"].items():
            for method, op in item.items():
                if (
                    method == "parameters"
                    or "requestBody" not in op
                    or "application/json" not in op["requestBody"]["content"]
                ):
                    continue
                schema = _inline(op["requestBody"]["content"]["application/json"]["schema"], schemas)
                self._validators[(method, path)] = (jsonschema.Draft202012Validator(schema), op["x-error-envelope"])
                self._surely_valid[(method, path)] = surely_valid_check(schema)
        # the served document: the same, with the fields each route refuses the absence of marked required
        self.document = copy.deepcopy(checked)
        for name, extra in REFUSED_WHEN_ABSENT.items():
            _merge(self.document["components"]["schemas"][name], extra)

    def body_problems(self, method: str, flask_rule: str, body: object) -> tuple[list[str], str]:
        """Problems of a parsed JSON body against the route's schema (none if it has none), and its envelope."""
        try:
            found = self._by_rule[(method, flask_rule)]
        except KeyError:  # once per declared rule and method (rules are the app's, not the client's)
            route = (method.lower(), flask_to_openapi(flask_rule))
            validator_of = self._validators.get(route)
            found = self._by_rule[(method, flask_rule)] = (
                None if validator_of is None else (*validator_of, self._surely_valid[route])
            )
        if found is None:
            return [], "sfmc"
        validator, envelope, surely_valid = found
        if surely_valid(body) or validator.is_valid(body):
            return [], envelope
        problems = []
        errors = [leaf for error in validator.iter_errors(body) for leaf in _leaves(error)]
        for error in sorted(errors, key=lambda e: list(map(str, e.absolute_path)))[:20]:
            where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
            problems.append(f"{where or 'body'}: {error.message}")
        return problems, envelope


ANNOTATIONS = {"description", "title", "examples", "default"}

# JSON Schema's types, each as the Python types of the values that are plainly of it (bool is not a
# number; a float that is a whole number is an integer to the schema: not plain, so left to the full validator)
PLAIN_TYPES: dict[str, frozenset[type]] = {
    "object": frozenset({dict}),
    "array": frozenset({list}),
    "string": frozenset({str}),
    "integer": frozenset({int}),
    "number": frozenset({int, float}),
    "boolean": frozenset({bool}),
    "null": frozenset({type(None)}),
}


def surely_valid_check(schema: object) -> Callable[[object], bool]:
    """A check compiled once from an inlined schema: ``True`` only for bodies that are certainly valid.

    It understands ``type``, ``items`` and ``properties`` (most request bodies use nothing else);
    a schema with any other keyword gets a check that never answers ``True``. A ``False`` only means
    "ask jsonschema", which decides and words the problems, so the verdicts are jsonschema's; the
    check spares its cost on the common valid body (on a 50-row rowset, most of the validation time).
    """
    if not isinstance(schema, dict) or not set(schema) <= {"type", "items", "properties"}:
        return lambda _value: False
    kind = schema.get("type")
    names = [kind] if isinstance(kind, str) else kind if isinstance(kind, list) else None
    if kind is not None and (names is None or not all(n in PLAIN_TYPES for n in names)):
        return lambda _value: False
    # the value's exact type among those of its schema's types (None: any type)
    allowed = frozenset().union(*(PLAIN_TYPES[n] for n in names)) if names is not None else None
    items = surely_valid_check(schema["items"]) if "items" in schema else None
    raw_properties = schema.get("properties", {})
    if not isinstance(raw_properties, dict):
        return lambda _value: False
    properties = [(name, surely_valid_check(sub)) for name, sub in raw_properties.items()]

    # plain loops and one type lookup a value: a 50-row rowset runs this for each of its rows and their members
    def check(value: object) -> bool:
        kind = type(value)
        if allowed is not None and kind not in allowed:
            return False
        if items is not None and kind is list and not all(map(items, value)):  # type: ignore[arg-type]
            return False
        if properties and kind is dict:
            for name, sub in properties:
                if name in value and not sub(value[name]):  # type: ignore[operator,index]
                    return False
        return True

    return check


def _inline(node, components: dict):
    """The schema with its ``$ref``s replaced and annotation-only subschemas dropped: the same verdicts,
    about three times faster on a 50-row rowset (validation runs on every write)."""
    if isinstance(node, list):
        return [_inline(item, components) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _inline(components[node["$ref"].rsplit("/", 1)[-1]], components)
    out = {k: _inline(v, components) for k, v in node.items() if k not in ANNOTATIONS and k != "properties"}
    if isinstance(node.get("properties"), dict):  # its keys are property names, not keywords
        properties = {k: _inline(v, components) for k, v in node["properties"].items()}
        properties = {k: v for k, v in properties.items() if v != {}}
        if properties:
            out["properties"] = properties
    return out


def _leaves(error) -> list:
    """The errors of the one ``oneOf``/``anyOf`` branch whose type fits, instead of "not valid under any"."""
    if error.validator in ("oneOf", "anyOf") and error.context:
        branches: dict = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        fitting = [
            subs for subs in branches.values() if not any(e.validator == "type" and not e.relative_path for e in subs)
        ]
        if len(fitting) == 1:
            return [leaf for sub in fitting[0] for leaf in _leaves(sub)]
    return [error]
