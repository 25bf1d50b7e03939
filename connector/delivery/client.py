"""The SFMC HTTP client: tokens, pacing and retries in one place.

* Tokens (OAuth2 v2, or legacy v1 without a subdomain, AUTH-2) are cached until shortly before
  expiry and refreshed once on a 401.
* Every call waits for the client-side rate limiter (RL-1).
* Retryable answers (429 honouring Retry-After, 5xx, network errors, and the 400 errorcode 10006
  without ``additionalErrors`` that SFMC gives for transient save failures; the table is
  ``outcomes.call_is_retryable``) are retried with exponential backoff and jitter (tenacity).
  Every wait is capped: a Retry-After by ``max_retry_after``, the backoff by ``max_backoff``
  (``ClientStats.capped_waits`` counts the cut ones). Any other 4xx is final and returned to the
  caller, who records the reason.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

import requests
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from ..settings import Settings
from .outcomes import call_is_retryable
from .ratelimit import RateLimiter

LEGACY_REST_BASE = "https://www.exacttargetapis.com"
TOKEN_MARGIN = 60.0
PACING_MARGIN = 0.97  # refresh this many seconds before SFMC says the token expires


class RetryableError(Exception):
    """A failure worth another try; ``retry_after`` is the server's hint in seconds, if any."""

    def __init__(self, reason: str, retry_after: float | None = None, response: requests.Response | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.response = response


class DeliveryError(Exception):
    """Retries exhausted, or authentication impossible: the events stay in the outbox for later."""


class AuthenticationError(DeliveryError):
    pass


@dataclass
class ClientStats:
    requests: int = 0
    retries: int = 0
    throttled: int = 0  # 429 answers seen
    token_requests: int = 0
    capped_waits: int = 0  # Retry-After hints longer than max_retry_after, cut to it
    longest_wait: float = 0.0
    by_status: Counter = field(default_factory=Counter)
    throttled_at: list[float] = field(default_factory=list, repr=False)  # time.monotonic() of each 429
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, status: int | str) -> None:
        with self.lock:
            self.requests += 1
            self.by_status[str(status)] += 1
            if status == 429:
                self.throttled += 1
                self.throttled_at.append(time.monotonic())

    def throttled_after(self, moment: float) -> int:
        """429s seen after ``moment`` (a time.monotonic() reading), e.g. after warm-up."""
        return sum(1 for t in self.throttled_at if t > moment)

    def as_dict(self) -> dict:
        return {
            "requests": self.requests,
            "retries": self.retries,
            "throttled_429": self.throttled,
            "token_requests": self.token_requests,
            "capped_waits": self.capped_waits,
            "longest_wait": round(self.longest_wait, 3),
            "by_status": dict(self.by_status),
        }


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        try:
            value = response.json().get("retryAfter")
        except ValueError:
            return None
    try:
        return max(0.0, float(value)) if value is not None else None
    except (TypeError, ValueError):
        return None


def is_retryable(response: requests.Response) -> bool:
    body: object = None
    if response.status_code == 400:
        try:
            body = response.json()
        except ValueError:
            body = None
    return call_is_retryable(response.status_code, body)


class SfmcClient:
    def __init__(
        self,
        settings: Settings,
        *,
        session: requests.Session | None = None,
        sleep=time.sleep,
        timeout: float = 30.0,
    ):
        self.settings = settings
        self.session = session or requests.Session()
        # A small margin under the account's limit absorbs clock skew between us and SFMC's bucket.
        self.limiter = RateLimiter(settings.rate_limit * PACING_MARGIN, sleep=sleep)
        self.stats = ClientStats()
        self.timeout = timeout
        self._sleep = sleep
        self._token_lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self._rest_base = settings.rest_base_url
        self._soap_base: str | None = None

    # -- tokens -------------------------------------------------------------------------------

    def _authenticate(self) -> None:
        s = self.settings
        if s.uses_legacy_auth:
            body = {"clientId": s.client_id, "clientSecret": s.client_secret}
        else:
            body = {
                "grant_type": "client_credentials",
                "client_id": s.client_id,
                "client_secret": s.client_secret,
            }
            if s.account_id:
                body["account_id"] = s.account_id
        for attempt in Retrying(
            stop=stop_after_attempt(s.max_retries + 1),
            reraise=True,
            wait=self._wait,
            retry=retry_if_exception_type(RetryableError),
            sleep=self._sleep,
        ):
            with attempt:
                try:
                    response = self.session.post(s.auth_url(), json=body, timeout=self.timeout)
                except requests.RequestException as err:
                    raise RetryableError(f"token request failed: {err.__class__.__name__}") from err
                self.stats.token_requests += 1
                if response.status_code == 429 or response.status_code >= 500:
                    raise RetryableError(f"token request answered {response.status_code}", _retry_after(response))
        if response.status_code != 200:
            raise AuthenticationError(f"authentication failed ({response.status_code}): {response.text[:300]}")
        data = response.json()
        if s.uses_legacy_auth:
            self._token, lifetime = data["accessToken"], float(data.get("expiresIn", 3600))
            self._rest_base = self._rest_base or (s.auth_base_url or LEGACY_REST_BASE)
        else:
            self._token, lifetime = data["access_token"], float(data.get("expires_in", 1079))
            self._rest_base = s.rest_base_url or data.get("rest_instance_url", "").rstrip("/")
            self._soap_base = data.get("soap_instance_url", "").rstrip("/") or None
        self._expires_at = time.monotonic() + max(lifetime - TOKEN_MARGIN, lifetime / 2)

    def token(self, *, renew: bool = False) -> str:
        with self._token_lock:
            if renew or self._token is None or time.monotonic() >= self._expires_at:
                self._authenticate()
            return self._token

    # -- calls --------------------------------------------------------------------------------

    def _wait(self, state: RetryCallState) -> float:
        """Retry-After when the server gave one, else exponential backoff with full jitter."""
        error = state.outcome.exception() if state.outcome else None
        capped = False
        if isinstance(error, RetryableError) and error.retry_after is not None:
            wait = error.retry_after
            if wait > self.settings.max_retry_after:
                wait, capped = self.settings.max_retry_after, True
            self.limiter.penalise(wait)
        else:
            wait = wait_random_exponential(multiplier=0.25, max=self.settings.max_backoff)(state)
        with self.stats.lock:  # calls go out from two threads when batching (the sender and the poller)
            self.stats.retries += 1
            self.stats.capped_waits += capped
            self.stats.longest_wait = max(self.stats.longest_wait, wait)
        return wait

    def _send(self, method: str, path: str, body) -> requests.Response:
        # compact JSON: the size the senders budget against SFMC's 5 MB limit is the size sent
        if body is None or isinstance(body, bytes):  # bytes: JSON the caller encoded already
            data = body
        else:
            data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {} if body is None else {"Content-Type": "application/json"}
        renewed = False
        while True:
            token = self.token()
            self.limiter.acquire()
            try:
                response = self.session.request(
                    method,
                    f"{self._rest_base}{path}",
                    data=data,
                    timeout=self.timeout,
                    headers=headers | {"Authorization": f"Bearer {token}"},
                )
            except requests.RequestException as err:
                self.stats.count(type(err).__name__)
                raise RetryableError(f"network error: {err.__class__.__name__}") from err
            self.stats.count(response.status_code)
            if response.status_code == 401 and not renewed:
                renewed = True  # expired or revoked: one fresh token, then the answer stands
                self.token(renew=True)
                continue
            if is_retryable(response):
                raise RetryableError(
                    f"{method} {path} answered {response.status_code}: {response.text[:200]}",
                    _retry_after(response),
                    response,
                )
            return response

    def soap(self, action: str, body: str) -> requests.Response | None:
        """One SOAP call to ``Service.asmx`` with the current token (no retries: callers use it for
        look-ups they can do without); None without a SOAP host (legacy auth) or on a network error."""
        token = self.token()
        if not self._soap_base:
            return None
        envelope = (
            '<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><s:Header>'
            f'<fueloauth xmlns="http://exacttarget.com">{escape(token)}</fueloauth></s:Header>'
            f"<s:Body>{body}</s:Body></s:Envelope>"
        )
        self.limiter.acquire()
        try:
            return self.session.post(
                f"{self._soap_base}/Service.asmx",
                data=envelope.encode(),
                headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": action},
                timeout=self.timeout,
            )
        except requests.RequestException:
            return None

    def call(self, method: str, path: str, body=None) -> requests.Response:
        """The final answer for a call: 2xx, or a 4xx that retrying cannot change.

        ``body`` is JSON-ready data, or bytes of JSON already encoded. Raises DeliveryError when
        retries run out (the caller keeps the events for later).
        """
        try:
            for attempt in Retrying(
                stop=stop_after_attempt(self.settings.max_retries + 1),
                reraise=True,
                wait=self._wait,
                retry=retry_if_exception_type(RetryableError),
                sleep=self._sleep,
            ):
                with attempt:
                    return self._send(method, path, body)
        except RetryableError as err:
            raise DeliveryError(f"gave up after {self.settings.max_retries + 1} attempts: {err.reason}") from err
        raise AssertionError("unreachable")
