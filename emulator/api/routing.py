"""The Flask app class of the emulator: Flask's routing and dispatch with what they work out per request
remembered, so a client repeating its calls does not pay for it again. Answers are unchanged.

- The URL map remembers which rule a path matched: werkzeug's matcher walks a state machine over the
  emulator's 60-odd rules on every request (about 4 us for a rowset upsert), for a result that depends
  only on the path, the method and the rule set. A match is kept (bounded, short paths only) and handed
  out as a copy; misses, redirects and refusals are not kept, so they go through werkzeug every time.
- The URL adapter Flask binds for each request: what werkzeug works out from the request's host headers
  (the host, its IDNA form, the scheme) is remembered per distinct set of those headers, from werkzeug's
  own answer the first time; the path, query and method are read for every request as werkzeug reads them.
- Whether a view or hook is a coroutine function is asked once per function, not on every call.
- No session is opened: the emulator keeps none, and Flask's default opens an empty one per request.
- A body of a plain ``Content-Length`` up to 64 KB is read from the WSGI input at once
  (``EmulatorRequest``), with the outcome of werkzeug's guarded stream: the same bytes, 413 past the
  request's limit, ``ClientDisconnected`` for a body that ends early or a stream that fails; anything
  else (chunked, a terminated input, an odd length) is read by werkzeug itself.
- Flask's request handling (``full_dispatch_request`` and the hook passes it makes) reads the request
  context once per step rather than through the ``request`` proxy at every use, looks up blueprint
  hooks only when a blueprint registered some, and sends a signal only when it has receivers; every
  hook, error handler and signal runs as in Flask (``tests/emulator/test_routing.py`` holds the two to it).

The routes themselves are declared once, in the API modules (``routes.py``); nothing here lists them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from itertools import chain
from typing import Any

from flask import Flask, Request, Response
from flask.globals import _cv_request
from flask.sansio.scaffold import _sentinel
from flask.sessions import NullSession, SessionInterface, SessionMixin
from flask.signals import appcontext_tearing_down, request_finished, request_started, request_tearing_down
from werkzeug.exceptions import ClientDisconnected
from werkzeug.routing import Map, MapAdapter, Rule
from werkzeug.routing.matcher import StateMachineMatcher
from werkzeug.wsgi import LimitedStream

MAX_REMEMBERED = 4096  # distinct (path, method) matches kept; the table starts over when full
MAX_PATH = 256  # longer paths are matched every time (they name keys and primary-key values)


class RememberingMatcher(StateMachineMatcher):
    """werkzeug's matcher, remembering the rule and values each (host part, path, method) matched."""

    def __init__(self, merge_slashes: bool):
        super().__init__(merge_slashes)
        self._matched: dict[tuple[str, str, str, bool], tuple[Rule, dict[str, Any]]] = {}

    def add(self, rule: Rule) -> None:
        self._matched.clear()
        super().add(rule)

    def update(self) -> None:
        self._matched.clear()
        super().update()

    def match(self, domain: str, path: str, method: str, websocket: bool) -> tuple[Rule, dict[str, Any]]:
        key = (domain, path, method, websocket)
        found = self._matched.get(key)
        if found is not None:
            return found[0], dict(found[1])  # a copy: the caller owns its view arguments
        rule, values = super().match(domain, path, method, websocket)  # raises for anything but a match
        if len(path) <= MAX_PATH:
            if len(self._matched) >= MAX_REMEMBERED:
                self._matched.clear()
            self._matched[key] = (rule, dict(values))
        return rule, values


class RememberingMap(Map):
    """A URL map whose matcher remembers its matches (``RememberingMatcher``)."""

    def __init__(self, rules: Any = None, *args: Any, **kwargs: Any):
        super().__init__(None, *args, **kwargs)
        self._matcher = RememberingMatcher(self.merge_slashes)  # merge_slashes: a property of the matcher
        for rule_factory in rules or ():
            self.add(rule_factory)


# what werkzeug's Map.bind_to_environ reads besides the path, the query and the method
HOST_KEYS = ("wsgi.url_scheme", "HTTP_HOST", "SERVER_NAME", "SERVER_PORT", "HTTP_CONNECTION", "HTTP_UPGRADE")


def _wsgi_text(environ: dict[str, Any], name: str) -> str | None:
    """An environ string as werkzeug reads it (latin-1 bytes as UTF-8, errors replaced)."""
    value = environ.get(name)
    return None if value is None else value.encode("latin1").decode(errors="replace")


ONE_READ = 64 * 1024  # werkzeug reads a body in pieces of this size; a body up to it is one read


class EmulatorRequest(Request):
    """Flask's request, reading a plain body at once rather than through werkzeug's ``LimitedStream``."""

    def get_data(self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False) -> Any:
        if cache and not parse_form_data and "_cached_data" not in self.__dict__ and "stream" not in self.__dict__:
            body = self._plain_body()
            if body is not None:
                self._cached_data = body
                # what werkzeug's stream is once read to its end: reads give b""
                self.__dict__["stream"] = LimitedStream(self.environ["wsgi.input"], 0)
        return super().get_data(cache, as_text, parse_form_data)  # type: ignore[call-overload]

    def _plain_body(self) -> bytes | None:
        """The body, read as werkzeug's ``stream.read()`` reads it, or None where werkzeug must read it
        (no or an odd Content-Length, chunked, a server-terminated input, past the limit: its 413)."""
        environ = self.environ
        length = environ.get("CONTENT_LENGTH")
        if (
            self.shallow
            or length is None
            or not (length.isascii() and length.isdigit())
            or "HTTP_TRANSFER_ENCODING" in environ
            or "wsgi.input_terminated" in environ
        ):
            return None
        size = int(length)
        limit = self.max_content_length
        if not 0 < size <= ONE_READ or (limit is not None and size > limit):
            return None
        stream = environ["wsgi.input"]
        try:
            body = stream.read(size)
            while len(body) < size:  # a stream may hand out a body in pieces
                more = stream.read(size - len(body))
                if not more:
                    raise ClientDisconnected()  # the body ended before its Content-Length
                body += more
        except (OSError, ValueError):
            raise ClientDisconnected() from None
        return body


class NoSessions(SessionInterface):
    """The emulator keeps no session: every request gets the same empty, read-only one, never saved."""

    null_session = NullSession()

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        return self.null_session

    def save_session(self, app: Flask, session: SessionMixin, response: Any) -> None:
        return None


class EmulatorFlask(Flask):
    request_class = EmulatorRequest
    url_map_class = RememberingMap
    session_interface = NoSessions()

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._sync_functions: set[Callable[..., Any]] = set()
        # the host headers -> (the request's host, the adapter's server name and scheme), werkzeug's answers
        self._hosts: dict[tuple[Any, ...], tuple[str, str, str]] = {}

    def create_url_adapter(self, request: Request | None) -> MapAdapter | None:
        """Flask's adapter for ``request``; werkzeug's work on its host headers done once per distinct set."""
        config = self.config
        if (
            request is None
            or config["TRUSTED_HOSTS"] is not None
            or config["SERVER_NAME"] is not None
            or request.trusted_hosts is not None
            or self.url_map.host_matching
            or self.subdomain_matching
        ):
            return super().create_url_adapter(request)
        environ = request.environ
        key = tuple(map(environ.get, HOST_KEYS))
        known = self._hosts.get(key)
        if known is None:
            adapter = super().create_url_adapter(request)  # werkzeug decides, and raises for a bad host
            assert adapter is not None
            if len(self._hosts) >= 256:
                self._hosts.clear()
            self._hosts[key] = (request.host, adapter.server_name, adapter.url_scheme)
            return adapter
        request.host, server_name, scheme = known
        script_name = _wsgi_text(environ, "SCRIPT_NAME")
        path_info = _wsgi_text(environ, "PATH_INFO")
        return MapAdapter(  # as werkzeug's Map.bind builds it
            self.url_map,
            server_name,
            "/" if script_name is None else script_name,
            self.url_map.default_subdomain or "",
            scheme,
            "/" if path_info is None else path_info,
            environ["REQUEST_METHOD"],
            _wsgi_text(environ, "QUERY_STRING"),
        )

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Flask's answer, asked once per function: views and hooks are plain functions here."""
        if func in self._sync_functions:
            return func
        found = super().ensure_sync(func)
        if found is func and len(self._sync_functions) < 1024:
            self._sync_functions.add(func)
        return found

    # -- Flask's request handling, with the request context looked up once per step --------------------
    # Each method below does what Flask's own does, in the same order, for every hook, error handler and
    # signal receiver registered; it reads the request from the context variable once instead of through
    # the ``request`` proxy at every use, and sends a signal only when it has a receiver (blinker's
    # ``send`` does nothing else then).

    def full_dispatch_request(self) -> Response:
        self._got_first_request = True
        try:
            if request_started.receivers:
                request_started.send(self, _async_wrapper=self.ensure_sync)
            rv = self.preprocess_request()
            if rv is None:
                rv = self.dispatch_request()
        except Exception as e:
            rv = self.handle_user_exception(e)
        return self.finalize_request(rv)

    def finalize_request(self, rv: Any, from_error_handler: bool = False) -> Response:
        response = self.make_response(rv)
        try:
            response = self.process_response(response)
            if request_finished.receivers:
                request_finished.send(self, _async_wrapper=self.ensure_sync, response=response)
        except Exception:
            if not from_error_handler:
                raise
            self.logger.exception("Request finalizing failed with an error while handling an error")
        return response

    def preprocess_request(self) -> Any:
        req = _cv_request.get().request
        preprocessors, before = self.url_value_preprocessors, self.before_request_funcs
        if _only_app(preprocessors) and _only_app(before):
            names: tuple[str | None, ...] = (None,)  # no blueprint registered one: the app's own, if any
        else:
            names = (None, *reversed(req.blueprints))
        for name in names:
            if name in preprocessors:
                for url_func in preprocessors[name]:
                    url_func(req.endpoint, req.view_args)
        for name in names:
            if name in before:
                for before_func in before[name]:
                    rv = self.ensure_sync(before_func)()
                    if rv is not None:
                        return rv
        return None

    def dispatch_request(self) -> Any:
        req = _cv_request.get().request
        if req.routing_exception is not None:
            self.raise_routing_exception(req)
        rule: Any = req.url_rule
        if getattr(rule, "provide_automatic_options", False) and req.method == "OPTIONS":
            return self.make_default_options_response()
        return self.ensure_sync(self.view_functions[rule.endpoint])(**req.view_args)  # type: ignore[arg-type]

    def process_response(self, response: Response) -> Response:
        ctx = _cv_request.get()
        for func in ctx._after_request_functions:
            response = self.ensure_sync(func)(response)
        after = self.after_request_funcs
        for name in (None,) if _only_app(after) else chain(ctx.request.blueprints, (None,)):
            if name in after:
                for func in reversed(after[name]):
                    response = self.ensure_sync(func)(response)
        if not self.session_interface.is_null_session(ctx._session):
            self.session_interface.save_session(self, ctx._session, response)  # type: ignore[arg-type]
        return response

    def do_teardown_request(self, exc: BaseException | None = _sentinel) -> None:  # type: ignore[assignment]
        if exc is _sentinel:
            exc = sys.exc_info()[1]
        teardown = self.teardown_request_funcs
        if teardown:
            names = (None,) if _only_app(teardown) else chain(_cv_request.get().request.blueprints, (None,))
            for name in names:
                if name in teardown:
                    for func in reversed(teardown[name]):
                        self.ensure_sync(func)(exc)
        if request_tearing_down.receivers:
            request_tearing_down.send(self, _async_wrapper=self.ensure_sync, exc=exc)

    def do_teardown_appcontext(self, exc: BaseException | None = _sentinel) -> None:  # type: ignore[assignment]
        if exc is _sentinel:
            exc = sys.exc_info()[1]
        for func in reversed(self.teardown_appcontext_funcs):
            self.ensure_sync(func)(exc)
        if appcontext_tearing_down.receivers:
            appcontext_tearing_down.send(self, _async_wrapper=self.ensure_sync, exc=exc)


def _only_app(registry: dict[Any, Any]) -> bool:
    """Whether a hook registry holds nothing but the app's own functions (no blueprint's)."""
    return not registry or (len(registry) == 1 and None in registry)
