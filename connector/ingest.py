"""Segment's HTTP tracking API in front of the destination, so Segment libraries send to it unchanged.

``/v1/identify``, ``/v1/track``, ``/v1/page``, ``/v1/screen``, ``/v1/group``, ``/v1/alias`` and
``/v1/batch`` (also ``/v1/i``, ``/v1/t``...), authenticated with the write key as the HTTP basic
user name, as Segment's libraries send it. An event is in the durable outbox before the answer
says ``success``; a background thread delivers it.
"""

from __future__ import annotations

import gzip
import json
import threading
import uuid
from datetime import UTC, datetime

from flask import Flask, jsonify, request

from .delivery.destination import Destination

TYPES = {
    "identify": "identify",
    "i": "identify",
    "track": "track",
    "t": "track",
    "page": "page",
    "p": "page",
    "screen": "screen",
    "s": "screen",
    "group": "group",
    "g": "group",
    "alias": "alias",
    "a": "alias",
}
MAX_BODY = 500 * 1024  # Segment's own limit for a batch request


def _error(message: str, status: int):
    return jsonify({"success": False, "error": message}), status


def create_ingest_app(destination: Destination, write_key: str | None, wake: threading.Event | None = None) -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY * 4

    def body() -> dict:
        raw = request.get_data()
        if request.headers.get("Content-Encoding", "").lower() == "gzip":
            raw = gzip.decompress(raw)
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object")
        return data

    def stamp(event: dict, kind: str, sent_at: str | None) -> dict:
        event = dict(event)
        event["type"] = kind
        event.setdefault("messageId", str(uuid.uuid4()))
        event.setdefault("receivedAt", datetime.now(UTC).isoformat())
        if sent_at:
            event.setdefault("sentAt", sent_at)
        return event

    @app.before_request
    def check_write_key():
        if request.path == "/health":
            return None
        if write_key is not None and (request.authorization is None or request.authorization.username != write_key):
            return _error("Invalid write key: send it as the HTTP basic user name.", 401)
        return None

    @app.post("/v1/<kind>")
    def receive(kind: str):
        try:
            data = body()
        except (ValueError, OSError, EOFError) as err:
            return _error(f"Unreadable body: {err}", 400)
        if kind == "batch" or kind == "b":
            batch = data.get("batch")
            if not isinstance(batch, list):
                return _error("A batch needs a 'batch' array of events.", 400)
            shared = data.get("context") if isinstance(data.get("context"), dict) else {}
            events = []
            for item in batch:
                if not isinstance(item, dict) or TYPES.get(str(item.get("type"))) is None:
                    return _error(
                        "Each batch item needs a 'type' of identify, track, page, screen, group or alias.",
                        400,
                    )
                if shared:  # a batch-level context applies to every event, the event's own wins
                    item = {**item, "context": {**shared, **(item.get("context") or {})}}
                events.append(stamp(item, TYPES[item["type"]], data.get("sentAt")))
        elif kind in TYPES:
            events = [stamp(data, TYPES[kind], data.get("sentAt"))]
        else:
            return _error(f"Unknown call '/v1/{kind}'.", 404)
        destination.accept(events)
        if wake is not None:
            wake.set()
        return jsonify({"success": True})

    @app.get("/health")
    def health():
        return jsonify({"status": "ok", "outbox": destination.outbox.counts()})

    return app


class DeliveryLoop:
    """Delivers pending events in the background until stopped; woken early when events arrive."""

    def __init__(self, destination: Destination, interval: float):
        self.destination = destination
        self.interval = interval
        self.wake = threading.Event()
        self._stop = threading.Event()
        self.last_summary = None
        self._thread = threading.Thread(target=self._run, name="sfmc-delivery", daemon=True)

    def start(self) -> DeliveryLoop:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self.wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.wake.wait(self.interval)
            self.wake.clear()
            self.last_summary = self.destination.deliver_pending()
