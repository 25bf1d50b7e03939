"""Flask's routing with its matches remembered (``emulator/api/routing.py``): the same answers as werkzeug's."""

from __future__ import annotations

import io

import pytest
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule

from emulator.api.routing import MAX_PATH, RememberingMap


def _maps(*rules: Rule):
    """The remembering map and werkzeug's own, with the same rules."""
    return RememberingMap([r.empty() for r in rules]), Map([r.empty() for r in rules])


def _match(url_map, path: str, method: str = "GET"):
    try:
        rule, values = url_map.bind("emulator.test").match(path, method, return_rule=True)
    except (NotFound, MethodNotAllowed) as err:
        return type(err).__name__
    return rule.endpoint, values


def test_a_remembered_match_answers_as_werkzeug_does_and_hands_out_a_copy():
    remembering, plain = _maps(
        Rule("/hub/v1/dataevents/<ref>/rowset", endpoint="rowset", methods=["POST"]),
        Rule("/hub/v1/dataevents/<ref>/rows/<path:keys>", endpoint="row", methods=["PUT"]),
        Rule("/data/v1/customobjects", endpoint="list", methods=["GET"]),
    )
    paths = [
        ("/hub/v1/dataevents/key:a/rowset", "POST"),
        ("/hub/v1/dataevents/key:a/rowset", "GET"),  # refused: never remembered
        ("/hub/v1/dataevents/key:a/rows/Id:1/Region:eu", "PUT"),
        ("/hub/v1/dataevents/key:b/rowset", "POST"),
        ("/nothing/here", "GET"),
        ("/data/v1/customobjects", "GET"),
        ("/hub/v1/dataevents/key:" + "k" * MAX_PATH + "/rowset", "POST"),  # too long to remember
    ]
    for _round in range(3):
        for path, method in paths:
            assert _match(remembering, path, method) == _match(plain, path, method), (path, method)
    _rule, values = remembering.bind("emulator.test").match("/hub/v1/dataevents/key:a/rowset", "POST", True)
    values["ref"] = "changed by a caller"
    assert _match(remembering, "/hub/v1/dataevents/key:a/rowset", "POST") == ("rowset", {"ref": "key:a"})


def test_a_rule_added_after_a_match_is_matched_from_then_on():
    remembering, _plain = _maps(Rule("/data/v1/<name>", endpoint="any"))
    assert _match(remembering, "/data/v1/async") == ("any", {"name": "async"})
    remembering.add(Rule("/data/v1/async", endpoint="async"))  # a fixed rule wins over a variable one
    assert _match(remembering, "/data/v1/async") == ("async", {})


@pytest.mark.parametrize("path", ["/hub/v1/dataevents/key:identify/rowset", "/HUB/v1/DataEvents/key:identify/ROWSET"])
def test_the_emulator_routes_a_repeated_path_the_same_way_every_time(tenant, path):
    for _ in range(3):
        response = tenant.call("POST", path, json=[{"keys": {"Contact Key": "c1"}, "values": {"Email": "a@b.io"}}])
        assert response.status_code == 200, response.get_json()
        wrong = tenant.call("GET", path)
        assert wrong.status_code == 405 and wrong.get_json()["errorcode"] == 405


ENVIRONS = [
    {},
    {"HTTP_HOST": "127.0.0.1:8085"},
    {"HTTP_HOST": "LocalHost:80"},
    {"HTTP_HOST": "mc123.rest.marketingcloudapis.com"},
    {"HTTP_HOST": "bücher.example:8080"},  # IDNA
    {"HTTP_HOST": "bad host"},  # werkzeug treats it as empty
    {"HTTP_HOST": "[::1]:8085", "wsgi.url_scheme": "https"},
    {"HTTP_HOST": "example.com:443", "wsgi.url_scheme": "https"},
    {"HTTP_CONNECTION": "keep-alive, Upgrade", "HTTP_UPGRADE": "websocket"},
    {"SCRIPT_NAME": "/base", "PATH_INFO": "/hub/v1/dataevents/key:a/rowset", "QUERY_STRING": "x=%C3%A9&y"},
    {"PATH_INFO": ""},
    {"PATH_INFO": "/data/v1/customobjectdata/key/caf\xc3\xa9/rowset", "QUERY_STRING": ""},  # UTF-8 as WSGI latin-1
]


def test_the_url_adapter_is_flasks_own(app):
    """The adapter the emulator binds per request (its host part remembered) is the one Flask binds."""
    from flask import Flask
    from werkzeug.test import EnvironBuilder

    base = EnvironBuilder(path="/hub/v1/dataevents/key:a/rowset", method="POST").get_environ()
    base.pop("HTTP_HOST", None)
    for _round in range(2):  # the first binds through Flask, the next from what was remembered
        for extra in ENVIRONS:
            environ = {**base, **extra}
            ours, flasks = app.request_class(dict(environ)), app.request_class(dict(environ))
            adapter = app.create_url_adapter(ours)
            assert vars(adapter) == vars(Flask.create_url_adapter(app, flasks)), extra
            assert ours.host == flasks.host, extra


# -- Flask's request handling: every hook, handler and signal runs as in Flask itself -----------------


class Handled(Exception):
    pass


def _recording_app(app_class):
    """An app of ``app_class`` with a hook of every kind, at app and (nested) blueprint level, each
    recording what it saw; and the list they record into."""
    from flask import Blueprint, after_this_request, g, request, signals

    app = app_class("hooks")
    events: list[tuple] = []
    outer, inner = Blueprint("outer", __name__, url_prefix="/outer"), Blueprint("inner", __name__, url_prefix="/inner")

    def hooks(scope, owner):
        @owner.url_value_preprocessor
        def preprocess(endpoint, values):
            events.append((scope, "url_value_preprocessor", endpoint, dict(values or {})))

        @owner.before_request
        def before():
            events.append((scope, "before_request", request.endpoint))
            if request.args.get("stop") == scope:
                return f"stopped by {scope}", 202
            return None

        @owner.after_request
        def after(response):
            events.append((scope, "after_request", response.status_code))
            response.headers.add("X-After", scope)
            return response

        @owner.teardown_request
        def teardown(exc):
            events.append((scope, "teardown_request", type(exc).__name__))

        @owner.errorhandler(Handled)
        def handled(err):
            events.append((scope, "errorhandler", str(err)))
            return f"handled by {scope}", 409

    def views(owner, prefix):
        @owner.route("/ok/<name>", methods=["GET", "POST"])
        def ok(name):
            events.append((prefix, "view", name, g.get("marker")))

            @after_this_request
            def later(response):
                events.append((prefix, "after_this_request"))
                return response

            return {"name": name}

        @owner.route("/handled")
        def handled_view():
            raise Handled(prefix)

        @owner.route("/broken")
        def broken():
            raise RuntimeError(prefix)

    hooks("app", app)
    hooks("outer", outer)
    hooks("inner", inner)
    views(app, "app")
    views(outer, "outer")
    views(inner, "inner")
    outer.register_blueprint(inner)
    app.register_blueprint(outer)

    @app.teardown_appcontext
    def teardown_appcontext(exc):
        events.append(("app", "teardown_appcontext", type(exc).__name__))

    receivers = app.extensions["receivers"] = []  # held by the app: blinker holds receivers weakly
    for name in ("request_started", "request_finished", "request_tearing_down", "appcontext_tearing_down"):
        receivers.append(lambda _sender, _name=name, **extra: events.append(("signal", _name, sorted(extra))))
        getattr(signals, name).connect(receivers[-1], app)
    receivers.append(lambda _sender, exception: events.append(("signal", "got_request_exception", str(exception))))
    signals.got_request_exception.connect(receivers[-1], app)
    return app, events


PARITY_CALLS = [
    ("GET", "/ok/a"),
    ("POST", "/outer/ok/b"),
    ("GET", "/outer/inner/ok/c"),
    ("GET", "/outer/inner/ok/d?stop=app"),
    ("GET", "/outer/inner/ok/e?stop=outer"),
    ("GET", "/outer/inner/ok/f?stop=inner"),
    ("GET", "/handled"),
    ("GET", "/outer/inner/handled"),
    ("GET", "/broken"),
    ("GET", "/outer/broken"),
    ("GET", "/nowhere"),
    ("PUT", "/outer/ok/g"),
    ("OPTIONS", "/outer/inner/ok/h"),
]


def test_hooks_handlers_and_signals_run_as_in_flask():
    """EmulatorFlask's request handling calls what Flask's calls, in the same order, with the same
    arguments, and answers the same, for hooks of the app and of nested blueprints alike."""
    from flask import Flask

    from emulator.api.routing import EmulatorFlask

    seen = {}
    for app_class in (Flask, EmulatorFlask):
        app, events = _recording_app(app_class)
        client = app.test_client()
        answers = []
        for method, path in PARITY_CALLS:
            events.clear()
            response = client.open(path, method=method)
            answers.append((method, path, response.status, response.get_data(), response.headers.getlist("X-After")))
            answers.append(list(events))
        seen[app_class.__name__] = answers
    assert seen["EmulatorFlask"] == seen["Flask"]
    recorded = [event for item in seen["Flask"] if isinstance(item, list) for event in item]
    kinds = {event[1] for event in recorded}
    assert {"request_started", "request_finished", "request_tearing_down", "appcontext_tearing_down"} <= kinds
    assert {"url_value_preprocessor", "before_request", "after_request", "teardown_request"} <= kinds
    assert {"errorhandler", "after_this_request", "got_request_exception", "teardown_appcontext"} <= kinds
    assert {event[0] for event in recorded if event[1] == "before_request"} == {"app", "outer", "inner"}


# -- the request body: read at once where werkzeug's guarded stream would give the same ---------------


class Pieces(io.BytesIO):
    """A WSGI input handing out at most two bytes per read (as a socket may)."""

    def read(self, size=-1):
        return super().read(2 if size is None or size < 0 else min(size, 2))

    def readinto(self, buffer):
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class Failing(io.BytesIO):
    def read(self, size=-1):
        raise OSError("connection reset")

    def readinto(self, buffer):
        raise OSError("connection reset")


BODY_CASES = [
    ({"CONTENT_LENGTH": "3"}, b"abc", None),
    ({"CONTENT_LENGTH": "3"}, b"abcdef", None),  # more input than the length: only the length is read
    ({"CONTENT_LENGTH": "10"}, b"abc", None),  # the client stopped early
    ({"CONTENT_LENGTH": "0"}, b"", None),
    ({}, b"abc", None),  # no length
    ({"CONTENT_LENGTH": " 3\t"}, b"abc", None),
    ({"CONTENT_LENGTH": "+3"}, b"abc", None),
    ({"CONTENT_LENGTH": "-1"}, b"abc", None),
    ({"CONTENT_LENGTH": "x"}, b"abc", None),
    ({"CONTENT_LENGTH": "\u0663"}, b"abc", None),  # a digit, but not an ASCII one
    ({"CONTENT_LENGTH": "70000"}, b"x" * 70_000, None),  # past one read
    ({"CONTENT_LENGTH": "65536"}, b"y" * 65_536, None),
    ({"CONTENT_LENGTH": "6"}, b"abcdef", 5),  # past the request's limit: 413
    ({"CONTENT_LENGTH": "5"}, b"abcde", 5),
    ({"CONTENT_LENGTH": "3", "HTTP_TRANSFER_ENCODING": "chunked"}, b"abc", None),
    ({"CONTENT_LENGTH": "3", "wsgi.input_terminated": True}, b"abc", 100),
    ({"CONTENT_LENGTH": "7"}, Pieces(b"abcdefg"), None),
    ({"CONTENT_LENGTH": "9"}, Pieces(b"abcdefg"), None),
    ({"CONTENT_LENGTH": "3"}, Failing(b"abc"), None),
]


def _outcome(read, *args):
    try:
        return read(*args)
    except Exception as err:  # the exception's kind is the outcome
        return type(err).__name__


def _read_stream(req):
    return req.stream.read()


@pytest.mark.parametrize(("extra", "body", "limit"), BODY_CASES)
def test_the_body_is_read_as_werkzeug_reads_it(extra, body, limit):
    from flask import Request

    from emulator.api.routing import EmulatorRequest

    seen = []
    for request_class in (Request, EmulatorRequest):
        stream = body if isinstance(body, io.BytesIO) else io.BytesIO(body)
        stream = type(stream)(stream.getvalue())  # each request its own input
        environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/", "wsgi.input": stream, **extra}
        req = request_class(environ)
        req.max_content_length = limit
        first = _outcome(req.get_data)
        seen.append((first, _outcome(_read_stream, req), _outcome(req.get_data), stream.tell()))
    assert seen[1] == seen[0]


def test_a_cached_body_is_left_to_werkzeug():
    """Only the first, caching read is taken at once; uncached reads and form parsing go through werkzeug."""
    from emulator.api.routing import EmulatorRequest

    environ = {"REQUEST_METHOD": "POST", "CONTENT_LENGTH": "3", "wsgi.input": io.BytesIO(b"abc")}
    req = EmulatorRequest(environ)
    assert req.get_data(cache=False) == b"abc" and req.get_data() == b""
    form = EmulatorRequest(
        {
            "REQUEST_METHOD": "POST",
            "CONTENT_LENGTH": "7",
            "CONTENT_TYPE": "application/x-www-form-urlencoded",
            "wsgi.input": io.BytesIO(b"a=1&b=2"),
        }
    )
    assert form.get_data() == b"a=1&b=2" and form.form.to_dict() == {"a": "1", "b": "2"}
