"""Destination settings: ``validation`` holds the settings objects and their checks, ``loading`` reads
them from a file, the environment and overrides. The names callers use are re-exported here."""

from .loading import ENVIRONMENT_VARIABLES, load_settings, read_settings_file
from .validation import (
    LEGACY_AUTH_BASE_URL,
    MAX_ASYNC_ITEMS,
    MAX_PAYLOAD_BYTES,
    MAX_SYNC_GROUP_SIZE,
    BatchingSettings,
    ConversionEvent,
    Issue,
    Settings,
    SettingsError,
    settings_from_mapping,
)

__all__ = [
    "ENVIRONMENT_VARIABLES",
    "LEGACY_AUTH_BASE_URL",
    "MAX_ASYNC_ITEMS",
    "MAX_PAYLOAD_BYTES",
    "MAX_SYNC_GROUP_SIZE",
    "BatchingSettings",
    "ConversionEvent",
    "Issue",
    "Settings",
    "SettingsError",
    "load_settings",
    "read_settings_file",
    "settings_from_mapping",
]
