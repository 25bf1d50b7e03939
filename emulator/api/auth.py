"""``POST /v2/token`` (OAuth2 client credentials) and legacy ``POST /v1/requestToken``.

Token calls are not counted against the REST rate limit: in SFMC they go to the separate auth
host, and the seed's 20 requests/second is about REST calls (RL-1).
"""

from __future__ import annotations

import json

from flask import request

from .. import errors
from .common import emulator, json_body, ok
from .hosts import token_instance_urls
from .routes import Api

api = Api("auth", __name__, tag="auth")


def _token_body() -> dict:
    """JSON or form-encoded body; the Authorization header is ignored on purpose."""
    if request.mimetype == "application/x-www-form-urlencoded":
        return request.form.to_dict()
    try:
        body = json.loads(request.get_data(cache=True) or b"null")
    except (ValueError, RecursionError):
        raise errors.oauth_invalid_request("The body must be JSON or form-encoded.") from None
    if not isinstance(body, dict):
        raise errors.oauth_invalid_request(
            "Send grant_type, client_id and client_secret as a JSON object or form fields."
        )
    return body


@api.post(
    "/v2/token", "OAuth2 client-credentials token", body="TokenRequest", response="TokenResponse", envelope="oauth"
)
def token():
    answer = emulator().auth.issue(_token_body(), request.host_url)
    answer.update(token_instance_urls())  # SFMC's host names when reached by name
    return ok(answer)


@api.post("/v1/requestToken", "Legacy v1 token", body="LegacyTokenRequest", response="LegacyTokenResponse")
def request_token():
    body = json_body(dict)
    legacy = request.args.get("legacy", "").lower() in ("1", "true")
    return ok(emulator().auth.issue_legacy(body, legacy))
