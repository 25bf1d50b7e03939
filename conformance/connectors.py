"""A connector's command-line form (python:, cmd:, serve:, segment-actions:, http://) to its adapter.

The forms are described in ``conformance/adapters.py``. This lives apart from the adapters so that
an adapter defined elsewhere (``conformance/segment_actions``) can build on them without an
import cycle.
"""

from __future__ import annotations

from .adapters import Adapter, AdapterError, CommandAdapter, HttpAdapter, PythonAdapter, ServeAdapter
from .segment_actions import SegmentActionsAdapter


def make_adapter(spec: str, *, write_key: str | None = None) -> Adapter:
    """An adapter from its command-line form (see the module docstring)."""
    kind, _, rest = spec.partition(":")
    if kind == "python":
        return PythonAdapter(rest)
    if kind == "cmd":
        return CommandAdapter(rest)
    if kind == "serve":
        return ServeAdapter(rest, write_key or "conformance-write-key")
    if kind in ("http", "https"):
        return HttpAdapter(spec, write_key)
    if kind == "segment-actions":
        return SegmentActionsAdapter(rest)
    raise AdapterError(
        f"unknown connector '{spec}': use python:module:function, cmd:<command>, "
        "serve:<command template>, segment-actions:<action> or http://host:port"
    )
