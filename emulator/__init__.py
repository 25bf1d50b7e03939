"""A local Salesforce Marketing Cloud emulator: auth, Data Extensions, Journey Builder events and contacts.

``Emulator`` (the core: services over one store and clock) and its ``Config`` are importable from
here; ``emulator.app.create_app`` puts HTTP in front of one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["Config", "Emulator", "__version__"]

if TYPE_CHECKING:
    from .core import Config, Emulator


def __getattr__(name: str):
    if name in ("Config", "Emulator"):  # loaded on first use, so ``import emulator.cli`` stays light
        from . import core

        return getattr(core, name)
    raise AttributeError(f"module 'emulator' has no attribute {name!r}")
