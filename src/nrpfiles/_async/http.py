"""Every request to a repository goes through here: token scoping, redirects, retries, errors."""

from __future__ import annotations

import json as jsonlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from nrpfiles._concurrency import async_sleep
from nrpfiles._pacing import Pacer, announced_rate_limit, report_pacing
from nrpfiles._retry import (
    IDEMPOTENT_METHODS,
    RetryableStatus,
    RetryPolicy,
    describe,
    error_is_retryable,
    status_is_retryable,
)
from nrpfiles._secret import Secret
from nrpfiles._urls import redact_url, same_origin
from nrpfiles.errors import (
    RepositoryCommunicationError,
    UnexpectedResponseError,
    error_from_response,
)
from nrpfiles.limits import async_slot

logger = logging.getLogger("nrpfiles")

MAX_REDIRECTS = 5
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

# A body is bytes, or a factory giving a fresh stream for every attempt, so a
# retried or redirected upload sends the whole body again.
Content = bytes | Callable[[], AsyncIterator[bytes]] | None


class AsyncHttp:
    """The client's one connection pool, used for every call.

    The bearer token is added only to requests whose scheme, host and port are
    the repository's; redirects are followed here rather than by httpx so that
    each hop is judged on its own origin.
    """

    def __init__(
        self,
        *,
        repository_url: httpx.URL,
        token: str | None,
        policy: RetryPolicy,
        client: httpx.AsyncClient,
    ) -> None:
        self.repository_url = repository_url
        self.policy = policy
        self._token = Secret(token) if token else None
        self._client = client
        self._sleep = async_sleep
        # One per client: its threads and tasks share the repository's rate limit.
        self._pacer = Pacer()

    @property
    def has_token(self) -> bool:
        return self._token is not None

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.repository_url} token={'***' if self._token else None}>"
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def request(
        self,
        method: str,
        url: str | httpx.URL,
        *,
        json: Any = None,
        content: Content = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """Send a request and read the whole response; a status >= 400 raises.

        The body is read inside the retries: an answer cut off halfway is
        asked for again when the request is safe to repeat.
        """
        # Under limit_connections every request holds a slot, or a thousand tasks'
        # API calls would all wait in the connection pool, which then does
        # quadratic work to hand out connections.
        async with async_slot():
            return await self._send_with_retries(
                method,
                httpx.URL(str(url)),
                json=json,
                content=content,
                headers=headers,
                params=params,
                idempotent=_is_idempotent(method, idempotent),
                read_body=True,
            )

    async def request_json(
        self,
        method: str,
        url: str | httpx.URL,
        *,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        idempotent: bool | None = None,
    ) -> tuple[Any, httpx.Response]:
        """A JSON call: the decoded body (None for an empty one) and the response."""
        response = await self.request(
            method, url, json=json, headers=headers, params=params, idempotent=idempotent
        )
        return decode_json(response), response

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        url: str | httpx.URL,
        *,
        json: Any = None,
        content: Content = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        idempotent: bool | None = None,
    ) -> AsyncIterator[httpx.Response]:
        """Open a response whose body the caller reads; retries cover getting the headers."""
        async with async_slot():
            response = await self._send_with_retries(
                method,
                httpx.URL(str(url)),
                json=json,
                content=content,
                headers=headers,
                params=params,
                idempotent=_is_idempotent(method, idempotent),
                read_body=False,
            )
            try:
                yield response
            finally:
                await response.aclose()

    async def _send_with_retries(
        self,
        method: str,
        url: httpx.URL,
        *,
        json: Any,
        content: Content,
        headers: Mapping[str, str] | None,
        params: Mapping[str, Any] | None,
        idempotent: bool,
        read_body: bool,
    ) -> httpx.Response:
        policy = self.policy
        retrying = AsyncRetrying(
            stop=policy.stop(),
            wait=policy.wait,
            retry=retry_if_exception(
                lambda error: error_is_retryable(error, idempotent=idempotent)
            ),
            sleep=lambda seconds: self._sleep(seconds),
            before_sleep=lambda state: _log_retry(method, url, policy, state),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    response = await self._send_following_redirects(
                        method, url, json=json, content=content, headers=headers, params=params
                    )
                    if response.status_code < 400:
                        if read_body:
                            try:
                                await response.aread()
                            finally:
                                await response.aclose()
                        return response
                    body = await response.aread()
                    await response.aclose()
                    if status_is_retryable(response.status_code, idempotent=idempotent):
                        raise RetryableStatus(response, body)
                    raise _error_for(response, body, None)
        except RetryableStatus as last:
            raise _error_for(last.response, last.body, last.retry_after) from None
        except httpx.TransportError as error:
            raise RepositoryCommunicationError(
                f"{describe(error)} (gave up after {retrying.statistics.get('attempt_number', 1)}"
                " attempt(s))",
                method=method,
                url=str(url),
            ) from None
        raise AssertionError("unreachable: tenacity either returns or raises")

    async def _send_following_redirects(
        self,
        method: str,
        url: httpx.URL,
        *,
        json: Any,
        content: Content,
        headers: Mapping[str, str] | None,
        params: Mapping[str, Any] | None,
    ) -> httpx.Response:
        for _ in range(MAX_REDIRECTS + 1):
            request = self._build_request(method, url, json, content, headers, params)
            response = await self._send_paced(request)
            location = response.headers.get("Location")
            if response.status_code not in _REDIRECT_STATUSES or not location:
                return response
            await response.aclose()
            url = request.url.join(location)
            params = None  # the Location is complete
            if response.status_code == 303 or (
                response.status_code in (301, 302) and method.upper() not in ("GET", "HEAD")
            ):
                method, json, content = "GET", None, None
        raise RepositoryCommunicationError(
            f"more than {MAX_REDIRECTS} redirects", method=method, url=str(url)
        )

    async def _send_paced(self, request: httpx.Request) -> httpx.Response:
        """Send, at the moment the repository's announced rate limit allows.

        Only requests to the repository count against its limit; storage
        redirects and presigned URLs go at once.
        """
        if not same_origin(request.url, self.repository_url):
            return await self._client.send(request, stream=True)
        while (wait := self._pacer.reserve()) > 0:
            report_pacing(wait)
            await self._sleep(wait)
        try:
            response = await self._client.send(request, stream=True)
        except BaseException:
            self._pacer.unanswered()
            raise
        self._pacer.answered(announced_rate_limit(response.headers))
        return response

    def _build_request(
        self,
        method: str,
        url: httpx.URL,
        json: Any,
        content: Content,
        headers: Mapping[str, str] | None,
        params: Mapping[str, Any] | None,
    ) -> httpx.Request:
        body = content() if callable(content) else content
        request = self._client.build_request(
            method, url, json=json, content=body, headers=headers, params=params
        )
        if self._token is not None and same_origin(request.url, self.repository_url):
            request.headers["Authorization"] = f"Bearer {self._token.reveal()}"
        else:
            # A default or caller header must not smuggle credentials elsewhere.
            request.headers.pop("Authorization", None)
        return request


def _is_idempotent(method: str, declared: bool | None) -> bool:
    return method.upper() in IDEMPOTENT_METHODS if declared is None else declared


def decode_json(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return jsonlib.loads(response.content)
    except ValueError as error:
        raise UnexpectedResponseError(
            f"the repository answered with a body that is not JSON ({error})",
            status=response.status_code,
            method=response.request.method,
            url=str(response.request.url),
        ) from None


def _error_for(response: httpx.Response, body: bytes, retry_after: float | None) -> Exception:
    return error_from_response(
        status=response.status_code,
        method=response.request.method,
        url=str(response.request.url),
        body=body,
        content_type=response.headers.get("Content-Type"),
        retry_after=retry_after,
    )


def _log_retry(method: str, url: httpx.URL, policy: RetryPolicy, state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    logger.warning(
        "retrying %s %s in %.2fs after attempt %d of %d failed: %s",
        method,
        redact_url(url),
        wait,
        state.attempt_number,
        policy.attempts,
        describe(error) if error else "unknown",
    )
