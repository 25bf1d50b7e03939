"""The web inspector at ``/_emulator/ui``: one static page (HTML, vanilla JS, CSS), no build step.

The files are package data in ``emulator/ui``; the page reads everything through the admin API,
so what it shows is exactly what a test or a curl call would see.
"""

from __future__ import annotations

import mimetypes
from importlib import resources

from flask import Response

from .. import errors
from .routes import Api

api = Api("ui", __name__, tag="admin", url_prefix="/_emulator/ui")
FILES = {"index.html", "app.js", "style.css"}


def _serve(name: str) -> Response:
    if name not in FILES:
        raise errors.not_found(f"The inspector has no file '{name}'.")
    data = resources.files("emulator").joinpath(f"ui/{name}").read_bytes()
    mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return Response(data, mimetype=mimetype, headers={"Cache-Control": "no-cache"})


@api.get("", "The web inspector (HTML)", ok_media="text/html")
def page():
    return _serve("index.html")


@api.get(
    "/<path:filename>",
    "The inspector's static files",
    written_out={
        "x-error-envelope": "sfmc",
        "security": [{}, {"adminBearer": []}, {"adminHeader": []}],
        "responses": {
            "200": {
                "description": "index.html, app.js or style.css",
                "content": {t: {"schema": {"type": "string"}} for t in ("text/html", "text/javascript", "text/css")},
            },
            "4XX": {"$ref": "#/components/responses/SfmcError"},
        },
    },
)
def asset(filename: str):
    return _serve(filename)
