"""One HTTP exchange with a media server: our request in, a 2xx answer or an error class out.

Every kind shares this so that a refused credential, a missing item, an overloaded server
and a dead one mean the same to the rest of the cluster whichever kind answered. Each kind
adds its own headers (and its credential) before calling; an error's text is redacted.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import aiohttp
import httpx

from manager.redaction import redact_text
from manager.servers.errors import RateLimited, Unreachable, error_for_status

_BODY_IN_ERROR = 200


@dataclass(frozen=True, slots=True, weakref_slot=True)  # tests see an answer freed
class Answer:
    """A server's answer, as far as anything here reads one: its status, its headers
    (looked up in any case) and its body, decoded as sent (gzip undone)."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


async def send(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    params: Mapping[str, str] | None = None,
    json: Any = None,
    timeout: float | None = None,
    target: str = "",
    where: str = "",
) -> Answer:
    """Send and return a 2xx answer; anything else becomes a MediaServerError subclass.
    `where` names the request in error messages (never its query: it may hold ids only,
    but the habit keeps credentials out of them)."""
    where = where or f"{target or url} {method}"
    try:
        response = await _exchange(http, method, url, headers, params, json, timeout)
    except (httpx.TransportError, aiohttp.ClientError, TimeoutError) as exc:
        raise Unreachable(f"{where}: {redact_text(_failure(exc))}", target=target) from None
    if response.status_code >= 300:
        body = redact_text(response.text[:_BODY_IN_ERROR].replace("\n", " ").strip())
        message = f"{where}: HTTP {response.status_code}" + (f" {body}" if body else "")
        error = error_for_status(response.status_code, message, target=target)
        if isinstance(error, RateLimited):
            error.retry_after = parse_retry_after(response.headers.get("Retry-After"))
        raise error
    return response


# What quote_plus leaves as it is: most values we send (ids, numbers, names of states).
_PLAIN = re.compile(r"[A-Za-z0-9_.~-]*")


def _quoted(value: object) -> str:
    # As httpx turns a value into text (primitive_value_to_str).
    text = (
        value if isinstance(value, str)
        else "" if value is None
        else ("true" if value else "false") if isinstance(value, bool)
        else str(value)
    )  # fmt: skip
    return text if _PLAIN.fullmatch(text) else quote_plus(text)


def query_text(params: Mapping[str, Any]) -> str:
    """The query httpx makes of `params` (QueryParams: urlencode, quote_plus), without
    building a QueryParams: a full sync sends one per write, and a write's values are
    mostly plain (ids, numbers), which need no quoting at all."""
    return "&".join(f"{_quoted(k)}={_quoted(v)}" for k, v in params.items())


async def _exchange(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    headers: Mapping[str, str],
    params: Mapping[str, str] | None,
    json: Any,
    timeout: float | None,
) -> Answer:
    """The request straight to the client's connection pool, read whole.

    A full sync makes one request per write, tens of thousands, and the client's own send
    (cookie jar, auth and redirect steps, hooks, a log record per request) cost a quarter
    of each (make bench BENCH=sync). None of it is wanted here: a media server's cookies
    must not change what we send, we follow no redirect and use no auth flow. The client
    still gives its defaults (headers, timeout) and picks the transport (a proxy mount
    from the environment included); a client without that method is sent to normally.
    On the manager's own client (servers/pools.py) a request that goes straight to the
    server skips httpx's request too (`_straight`)."""
    if params and "?" not in url:
        # The same query text httpx makes of `params` (QueryParams is urlencode), put in
        # the URL here: the client's merge of params into a URL is ~30 of the ~100 µs
        # build_request takes (timeit), and a full sync makes tens of thousands.
        url, params = f"{url}?{query_text(params)}", None
    route = getattr(http, "route", None)
    session = route(url) if route is not None and params is None and json is None else None
    if session is not None:
        return await _straight(session, http, method, url, headers, timeout)
    request = http.build_request(
        method,
        url,
        params=params,
        headers=headers,
        json=json,
        timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
    )
    pick = getattr(http, "_transport_for_url", None)
    if pick is None:
        response = await http.send(request)
        # The client's send leaves the read response in a reference cycle (its stream
        # refers back to it), so its body (a library page: ~1 MB) outlives the caller
        # until the cyclic collector runs, which is rare with a full sync's catalogue in
        # memory: dozens piled up. A plain stream of the same bytes breaks the cycle, and
        # the body goes with the last reference. The pool's own answer below has none.
        response.stream = httpx.ByteStream(response.content)
        return Answer(response.status_code, response.headers, response.content)
    response = await pick(request.url).handle_async_request(request)
    response.request = request
    try:
        await response.aread()
    finally:
        await response.aclose()
    return Answer(response.status_code, response.headers, response.content)


async def _straight(
    session: aiohttp.ClientSession,
    http: httpx.AsyncClient,
    method: str,
    url: str,
    headers: Mapping[str, str],
    timeout: float | None,
) -> Answer:
    """The request on the aiohttp session its client's transport would use, as that
    transport would send it (the client's headers under ours, names in lower case as
    aiohttp got them from httpx; no redirect followed; the body decoded by aiohttp as
    httpx's response decodes it). httpx's request and response and its transport's
    conversions cost as much client CPU as aiohttp's own send (make bench
    BENCH=transport)."""
    sent = dict(http.headers.items())
    sent.update((name.lower(), value) for name, value in headers.items())
    if timeout is None:
        limit = _timeout_of(http.timeout.connect, http.timeout.read, http.timeout.pool)
    else:  # a number stands for every phase, as in httpx.Timeout(timeout)
        limit = _timeout_of(timeout, timeout, timeout)
    async with session.request(
        method, url, headers=sent, allow_redirects=False, timeout=limit
    ) as answer:
        return Answer(answer.status, answer.headers, await answer.read())


@functools.cache
def _timeout_of(
    connect: float | None, read: float | None, pool: float | None
) -> aiohttp.ClientTimeout:
    """httpx's timeout as its aiohttp transport translates it."""
    return aiohttp.ClientTimeout(sock_connect=connect, sock_read=read, connect=pool)


def _failure(exc: BaseException) -> str:
    """Why no answer came, in a few words. The transport (servers/pools.py) raises
    httpx's errors from aiohttp's and names some by a near miss (a refused connection
    as a connect timeout): the aiohttp error it came from is the truer name. An aiohttp
    error's text may carry the URL: of an answer that was not HTTP only the reason is
    kept."""
    cause = exc.__cause__ if isinstance(exc.__cause__, aiohttp.ClientError) else exc
    if isinstance(cause, (httpx.TimeoutException, TimeoutError)):
        return f"timed out ({type(cause).__name__})"
    if isinstance(cause, aiohttp.ClientResponseError):
        return f"{type(cause).__name__}: {cause.message}"
    return f"{type(cause).__name__}: {cause}"


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (the HTTP-date form is rare: ignored)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
