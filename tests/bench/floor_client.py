"""The floor's HTTP clients, each with the one call the floor makes: `get`.

`aiohttp`: aiohttp's session itself, the way the manager sends its requests
(servers/http.py `_straight`): no httpx request or response in between. `httpx-aiohttp`:
an httpx client over aiohttp's connections, the floor until the manager sent straight on
them (2026-12-02). `httpcore`: httpx's own transport, the floor before the manager moved
to aiohttp's connections. A floor on a heavier client than the manager's own would not be
a floor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self

import aiohttp
import httpx
from httpx_aiohttp import HttpxAiohttpClient


class Answer(Protocol):
    @property
    def content(self) -> bytes: ...

    def raise_for_status(self) -> object: ...


class FloorClient(Protocol):
    async def get(
        self, url: str, *, params: Mapping[str, str] | None = None, headers: Mapping[str, str]
    ) -> Answer: ...


@dataclass(frozen=True, slots=True)
class _Bare:
    status: int
    content: bytes

    def raise_for_status(self) -> None:
        if self.status >= 300:
            raise RuntimeError(f"HTTP {self.status}")


class BareAiohttp:
    """An aiohttp session with the floor's headers, `connections` at most."""

    def __init__(self, headers: Mapping[str, str], connections: int, timeout: float) -> None:
        self._session = aiohttp.ClientSession(
            headers=dict(headers),
            connector=aiohttp.TCPConnector(limit=connections),
            timeout=aiohttp.ClientTimeout(total=timeout),
        )

    async def get(
        self, url: str, *, params: Mapping[str, str] | None = None, headers: Mapping[str, str]
    ) -> _Bare:
        async with self._session.get(url, params=params, headers=headers) as answer:
            return _Bare(answer.status, await answer.read())

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._session.close()


def _httpx(kind: type[httpx.AsyncClient]) -> Callable[..., httpx.AsyncClient]:
    def make(headers: Mapping[str, str], connections: int, timeout: float) -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        return kind(headers=dict(headers), limits=limits, timeout=timeout)

    return make


TRANSPORTS = {
    "aiohttp": BareAiohttp,
    "httpx-aiohttp": _httpx(HttpxAiohttpClient),
    "httpcore": _httpx(httpx.AsyncClient),
}
