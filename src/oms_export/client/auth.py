"""OAuth 2.0 client credentials as an ``httpx.Auth``: the token is fetched, cached and renewed."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable, Generator

import httpx
import orjson

from oms_export.client.errors import api_error
from oms_export.client.retry import parse_retry_after

SCOPE = "export-api.order-item-details"


class ClientCredentials(httpx.Auth):
    """Bearer tokens from ``POST /token``, fetched on first use and reused until near expiry.

    A 401 whose ``WWW-Authenticate`` says ``invalid_token`` (expired, or ended by a secret
    rotation) gets one fresh token and one more try. Only the token response's body is read
    here, so export bodies still stream. Two requests that start at once may each fetch a token;
    both are valid, so no lock is needed.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: str = SCOPE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._token_url = token_url
        self._form = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
            "scope": scope,
        }
        self._clock = clock
        self._token: str | None = None
        self._renew_at = 0.0

    def __repr__(self) -> str:  # never show the secret
        return f"ClientCredentials({self._token_url!r}, client_id={self._form['client_id']!r})"

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        flow = self._flow(request)
        outgoing = next(flow)
        while True:
            response = yield outgoing
            if outgoing.url == self._token_url:
                response.read()
            try:
                outgoing = flow.send(response)
            except StopIteration:
                return

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        flow = self._flow(request)
        outgoing = next(flow)
        while True:
            response = yield outgoing
            if outgoing.url == self._token_url:
                await response.aread()
            try:
                outgoing = flow.send(response)
            except StopIteration:
                return

    def _flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._token is None or self._clock() >= self._renew_at:
            yield from self._fetch_token()
        request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if response.status_code == 401 and "invalid_token" in response.headers.get(
            "WWW-Authenticate", ""
        ):
            yield from self._fetch_token()
            request.headers["Authorization"] = f"Bearer {self._token}"
            yield request

    def _fetch_token(self) -> Generator[httpx.Request, httpx.Response, None]:
        self._token = None
        started = self._clock()
        response = yield httpx.Request("POST", self._token_url, data=self._form)
        if response.status_code != 200:
            raise api_error(response, parse_retry_after(response.headers.get("Retry-After")))
        body = orjson.loads(response.content)
        lifetime = float(body.get("expires_in", 3600))
        self._token = str(body["access_token"])
        # Renew a little early, so a token never expires between our check and the service's.
        self._renew_at = started + lifetime - min(30.0, lifetime / 10)
