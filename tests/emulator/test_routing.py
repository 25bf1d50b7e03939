"""Flask's routing with its matches remembered (``emulator/api/routing.py``): the same answers as werkzeug's."""

from __future__ import annotations

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
