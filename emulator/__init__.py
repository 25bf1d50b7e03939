"""A local Salesforce Marketing Cloud emulator: auth, Data Extensions, Journey Builder events and contacts."""

__version__ = "0.1.0"
