"""The shared HTTP exchange (manager/servers/http.py)."""

from __future__ import annotations

import asyncio
import gc
import weakref

import httpx

from manager.servers.http import send


def test_a_read_answer_goes_with_its_last_reference() -> None:
    # A full sync reads hundreds of ~1 MB pages with its catalogue in memory, when the
    # cyclic collector seldom runs: an answer left in a reference cycle kept its body.
    async def main() -> tuple[bytes, weakref.ref[httpx.Response]]:
        transport = httpx.MockTransport(lambda _: httpx.Response(200, content=b"x" * 1000))
        async with httpx.AsyncClient(transport=transport) as http:
            response = await send(http, "GET", "http://server/page", headers={})
            return response.content, weakref.ref(response)

    gc.disable()
    try:
        body, ref = asyncio.run(main())
        assert body == b"x" * 1000
        assert ref() is None  # freed by its reference count, not by a collection
    finally:
        gc.enable()
