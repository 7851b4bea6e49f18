"""The shared HTTP exchange (manager/servers/http.py)."""

from __future__ import annotations

import asyncio
import gc
import weakref
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from manager.servers.http import Answer, query_text, send


class _SendOnly:
    """A client with only the public build_request and send: the exchange's other path."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    def build_request(self, *args: Any, **kwargs: Any) -> httpx.Request:
        return self._http.build_request(*args, **kwargs)

    async def send(self, request: httpx.Request) -> httpx.Response:
        return await self._http.send(request)


@pytest.mark.parametrize("path", ["pool", "client send"])
def test_a_read_answer_goes_with_its_last_reference(path: str) -> None:
    # A full sync reads hundreds of ~1 MB pages with its catalogue in memory, when the
    # cyclic collector seldom runs: an answer left in a reference cycle kept its body.
    async def main() -> tuple[bytes, weakref.ref[Answer]]:
        transport = httpx.MockTransport(lambda _: httpx.Response(200, content=b"x" * 1000))
        async with httpx.AsyncClient(transport=transport) as http:
            client: Any = http if path == "pool" else _SendOnly(http)
            response = await send(client, "GET", "http://server/page", headers={})
            return response.content, weakref.ref(response)

    gc.disable()
    try:
        body, ref = asyncio.run(main())
        assert body == b"x" * 1000
        assert ref() is None  # freed by its reference count, not by a collection
    finally:
        gc.enable()


@pytest.mark.parametrize(
    ("url", "params"),
    [
        ("http://server/:/scrobble", {"key": "12", "identifier": "com.plexapp.plugins.library"}),
        ("http://server/Items", {"SearchTerm": "Amélie & co, 2/3 + more", "Fields": "A,B"}),
        ("http://server/Items?Recursive=true", {"ParentId": "a b", "Recursive": "false"}),
        ("http://server/Items", {}),
    ],
)
def test_the_query_is_the_one_httpx_makes_of_params(url: str, params: dict[str, str]) -> None:
    # The exchange writes `params` into the URL itself (cheaper than the client's merge);
    # the server must see the same bytes as from the client's own merge.
    seen: list[bytes] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path)
        return httpx.Response(200)

    async def main() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
            await send(http, "GET", url, headers={}, params=params)

    asyncio.run(main())
    assert seen == [httpx.Request("GET", url, params=params).url.raw_path]


_VALUES = st.one_of(st.text(), st.integers(), st.floats(allow_nan=False), st.booleans(), st.none())


@given(st.dictionaries(st.text(), _VALUES, max_size=5))
def test_query_text_is_httpx_s_query_for_any_params(params: dict[str, Any]) -> None:
    assert query_text(params) == str(httpx.QueryParams(params))
