"""Keep-alive connections with the cheaper idle check (manager/servers/connections.py),
over real sockets: a connection the server closed while idle is never reused."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from manager.servers import connections

_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


async def _server(close_after_answer: bool) -> tuple[asyncio.Server, list[int]]:
    """An HTTP/1.1 server answering every request with keep-alive; it may then close the
    connection anyway, as a server does when its idle timeout runs out. The list counts
    the connections it accepted."""
    accepted: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(_ANSWER)
                await writer.drain()
                if close_after_answer:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    return await asyncio.start_server(serve, "127.0.0.1", 0), accepted


def _client() -> httpx.AsyncClient:
    http = httpx.AsyncClient(timeout=5)
    assert connections.use_backend(http)
    return http


@pytest.mark.parametrize(("closes", "connections_made"), [(True, 3), (False, 1)])
def test_an_idle_connection_is_reused_only_while_the_server_keeps_it(
    closes: bool, connections_made: int
) -> None:
    async def main() -> list[int]:
        server, accepted = await _server(close_after_answer=closes)
        port = server.sockets[0].getsockname()[1]
        async with _client() as http:
            for _ in range(3):
                assert (await http.get(f"http://127.0.0.1:{port}/")).text == "ok"
                await asyncio.sleep(0.05)  # a close reaches us meanwhile
        server.close()
        return accepted

    assert len(asyncio.run(main())) == connections_made


def test_only_a_fresh_client_of_this_httpx_takes_the_backend() -> None:
    async def main() -> None:
        async with httpx.AsyncClient() as http:
            assert connections.use_backend(http)
        mock = httpx.MockTransport(lambda _: httpx.Response(200))
        async with httpx.AsyncClient(transport=mock) as http:
            assert not connections.use_backend(http)

    asyncio.run(main())
