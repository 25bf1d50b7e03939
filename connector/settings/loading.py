"""Loading destination settings: a file, then the environment, then overrides.

Settings come from a YAML (``.yaml``/``.yml``) or JSON (``.json``) file whose keys are the
snake_case field names of ``Settings``; environment variables override the file and
``overrides`` (e.g. command-line flags) override both. Example::

    client_id: 3xampl3clientid0000000000
    client_secret: keep-me-out-of-git            # or SFMC_CLIENT_SECRET
    subdomain: mc563885gzs27c5t9-63k636ttgm      # AUTH-2; omit to use the legacy v1 endpoint
    account_id: "510001234"                       # MID of the business unit (AUTH-3)
    identify_de_key: segment-identify             # ID-4; omit to skip the identify DE (ID-6)
    do_not_create_contacts: false                 # ID-5
    conversion_events:                            # TR-1
      - event: Order Completed
        de_key: orders
        primary_keys: Contact Key,Product Id      # TR-3; a YAML list works too
      - event: Button Clicked
        de_key: clicks
        uuid_primary_key: true                    # TR-5: one row per event
    api_events:                                   # API-1: Segment event → EventDefinitionKey
      Order Completed: APIEvent-6c4e2a1f
    personas_de_key: personas-audiences           # PER-1; omit to let the sync create one
    batching:                                     # BAT-1..4
      enabled: false
      max_items: 32000
      max_bytes: 5242880
      flush_interval: 1.0
      poll_interval: 1.0
      job_deadline: 300                           # an unfinished async request is abandoned after it
    sync_group_size: 50
    rate_limit: 20.0                              # RL-1: requests per second
    max_retries: 8
    max_retry_after: 60                           # caps on every wait: a Retry-After ...
    max_backoff: 20                               # ... and the backoff while SFMC fails
    transient_retries: 5                          # stalled jobs, deadlocked rows: sent again up to 5 times
    retry_delay: 1.0                              # first wait before that; doubles up to max_backoff
    auth_base_url: http://localhost:8080          # only to target an emulator
    rest_base_url: http://localhost:8080
    outbox_path: sfmc-outbox.sqlite3

Environment variables: ``SFMC_CLIENT_ID``, ``SFMC_CLIENT_SECRET``, ``SFMC_SUBDOMAIN``,
``SFMC_ACCOUNT_ID``, ``SFMC_AUTH_BASE_URL``, ``SFMC_REST_BASE_URL``; an empty variable counts as
unset. Unknown keys, duplicate keys and invalid values are all errors, reported together in one
``SettingsError`` (one problem per line, each naming the setting, why, and what to do).
Text values are stripped of surrounding whitespace; blank optional values mean "not set".
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from .validation import Settings, SettingsError, _shown, settings_from_mapping

ENVIRONMENT_VARIABLES: dict[str, str] = {
    "SFMC_CLIENT_ID": "client_id",
    "SFMC_CLIENT_SECRET": "client_secret",
    "SFMC_SUBDOMAIN": "subdomain",
    "SFMC_ACCOUNT_ID": "account_id",
    "SFMC_AUTH_BASE_URL": "auth_base_url",
    "SFMC_REST_BASE_URL": "rest_base_url",
}
"""Environment variable → setting it overrides."""


class _DuplicateKeyYamlLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys silently; a settings typo must not pass like that."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key; the base class reports it
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r}",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep=deep)


class _DuplicateJsonKey(ValueError):
    pass


def _json_object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateJsonKey(key)
        result[key] = value
    return result


def read_settings_file(path: str | os.PathLike[str]) -> Mapping[str, Any]:
    """The raw mapping in a YAML or JSON settings file (chosen by extension); SettingsError if unusable."""
    path = Path(path)
    label = str(path)
    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".json"):
        raise SettingsError([(label, f"unsupported file type {suffix or '(none)'!r}; use .yaml, .yml or .json")])
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SettingsError([(label, f"cannot read the settings file: {error.strerror or error}")]) from error
    except UnicodeDecodeError as error:
        raise SettingsError([(label, f"the settings file is not UTF-8 text ({error.reason})")]) from error
    if suffix == ".json":
        try:
            data = json.loads(text, object_pairs_hook=_json_object_without_duplicates)
        except _DuplicateJsonKey as error:
            raise SettingsError([(label, f"key {error.args[0]!r} appears twice in one object")]) from error
        except json.JSONDecodeError as error:
            raise SettingsError(
                [(label, f"not valid JSON at line {error.lineno}, column {error.colno}: {error.msg}")]
            ) from error
    else:
        try:
            data = yaml.load(text, Loader=_DuplicateKeyYamlLoader)  # a SafeLoader subclass: no arbitrary objects
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise SettingsError([(label, f"not valid YAML{where}: {error.problem}")]) from error
        except yaml.YAMLError as error:
            raise SettingsError([(label, f"not valid YAML: {error}")]) from error
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise SettingsError([(label, f"must hold a mapping of setting names to values (got {_shown(data)})")])
    return data


def _merged(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``extra``; mappings present in both merge key by key."""
    result = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = _merged(result[key], value)
        else:
            result[key] = value
    return result


def load_settings(
    path: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] = os.environ,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Settings from ``path`` (optional), then ``env`` variables, then ``overrides`` - later wins.

    Raises SettingsError naming every problem: the file's, unknown keys, invalid values.
    """
    data: dict[str, Any] = dict(read_settings_file(path)) if path is not None else {}
    origins: dict[str, str] = {}
    for variable, key in ENVIRONMENT_VARIABLES.items():
        value = env.get(variable)
        if value is not None and value.strip():
            data[key] = value
            origins[key] = variable
    if overrides:
        data = _merged(data, overrides)
        for key in overrides:
            origins.pop(key, None)
    return settings_from_mapping(data, origins=origins)
