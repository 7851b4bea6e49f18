"""The HTTP stack under an attacker's bytes, over real sockets: every bad request gets a clear
4xx (never a 500, never a connection closed without an answer), and the server keeps
serving afterwards. Bytes are written raw, so no client library tidies them up."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Awaitable, Callable

import pytest

from manager.app.http import MAX_BODY_BYTES
from manager.app.receiver import Accepted, Receiver
from manager.event import PlaybackEvent
from manager.logs import configure_logging
from tests.app.test_receiver import TOKEN, Sink, event

Address = tuple[str, int]


def serving(check: Callable[[Address], Awaitable[None]]) -> Sink:
    sink = Sink()

    async def main() -> None:
        receiver = Receiver(TOKEN, sink.accept, sink.status)
        address = await receiver.start("127.0.0.1", 0)
        try:
            await check(address)
        finally:
            await receiver.stop()

    asyncio.run(main())
    return sink


async def exchange(address: Address, request: bytes, body_tail: bytes = b"") -> bytes:
    """Write `request` (then `body_tail`, unawaited: the server may answer before it has
    read it all) and read until the server closes."""
    reader, writer = await asyncio.open_connection(*address)
    writer.write(request)

    async def trickle() -> None:
        for start in range(0, len(body_tail), 64 * 1024):
            writer.write(body_tail[start : start + 64 * 1024])
            await writer.drain()

    sender = asyncio.create_task(trickle())
    try:
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)
        writer.close()


async def still_serving(address: Address) -> None:
    answer = await exchange(
        address, b"GET /health HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b'{"status":"ok"}'), answer


def status_of(answer: bytes) -> int:
    assert answer, "the connection was closed without an answer"
    return int(answer.split(b" ", 2)[1])


def post(path: str, headers: str, body: bytes = b"", auth: bool = True) -> bytes:
    bearer = f"Authorization: Bearer {TOKEN}\r\n" if auth else ""
    head = f"POST {path} HTTP/1.1\r\nHost: m\r\nConnection: close\r\n{bearer}{headers}\r\n"
    return head.encode() + body


CASES = {
    "negative Content-Length": (post("/api/v1/events", "Content-Length: -5\r\n", b"{}"), 400),
    "bad chunk size": (
        post("/api/v1/events", "Transfer-Encoding: chunked\r\n", b"zz\r\n{}\r\n0\r\n\r\n"),
        400,
    ),
    "negative chunk size": (
        post("/api/v1/events", "Transfer-Encoding: chunked\r\n", b"-2\r\n{}\r\n0\r\n\r\n"),
        400,
    ),
    "oversized body, announced": (
        post("/api/v1/events", f"Content-Length: {MAX_BODY_BYTES + 1}\r\n", b"[{}"),
        413,
    ),
    "invalid JSON": (post("/api/v1/events", "Content-Length: 5\r\n", b"{nope"), 400),
    "invalid JSON, legacy door": (
        post(f"/?token={TOKEN}", "Content-Length: 5\r\n", b"{nope", auth=False),
        400,
    ),
    "wrong bearer token": (
        post("/api/v1/events", "Authorization: Bearer nope\r\nContent-Length: 2\r\n", b"{}", False),
        401,
    ),
    "wrong legacy token": (post("/?token=guess", "Content-Length: 2\r\n", b"{}", False), 401),
    "unknown route": (post("/api/v2/events", "Content-Length: 2\r\n", b"{}"), 404),
    "wrong method": (
        b"DELETE /api/v1/events HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n",
        405,
    ),
    "no length": (post("/api/v1/events", ""), 411),
    "garbage request line": (b"\x16\x03\x01 hello\r\n\r\n", 400),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_bad_request_gets_a_clear_4xx_and_the_server_goes_on(name: str) -> None:
    request, expected = CASES[name]

    async def check(address: Address) -> None:
        for _ in range(2):  # the same again: nothing was left broken by the first
            assert status_of(await exchange(address, request)) == expected
            await still_serving(address)

    assert serving(check).events == []


def test_an_oversized_chunked_body_gets_413() -> None:
    head = post("/api/v1/events", "Transfer-Encoding: chunked\r\n")
    size = MAX_BODY_BYTES + 1
    chunked = f"{size:x}\r\n".encode() + b" " * size + b"\r\n0\r\n\r\n"

    async def check(address: Address) -> None:
        assert status_of(await exchange(address, head, chunked)) == 413
        await still_serving(address)

    serving(check)


def test_error_answers_are_json_and_keep_the_connection() -> None:
    """An answer the handlers give (401, 404, 405) leaves a kept-alive connection usable."""

    async def check(address: Address) -> None:
        reader, writer = await asyncio.open_connection(*address)
        try:
            for path, expected in (("/nope", 404), ("/api/v1/status", 401), ("/", 405)):
                writer.write(f"GET {path} HTTP/1.1\r\nHost: m\r\n\r\n".encode())
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
                assert status_of(head) == expected
                length = next(
                    int(line.split(b":")[1])
                    for line in head.lower().split(b"\r\n")
                    if line.startswith(b"content-length:")
                )
                assert b"content-type: application/json" in head.lower()
                assert "error" in json.loads(await reader.readexactly(length))
        finally:
            writer.close()

    serving(check)


def test_tokens_in_the_query_reach_no_log() -> None:
    """uvicorn's access log would print `POST /?token=…`; ours names the path only."""
    stream = io.StringIO()
    configure_logging("json", "DEBUG", stream=stream)
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(f"{record.name} {record.getMessage()}")

    keep = Keep(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(keep)
    root.setLevel(logging.DEBUG)
    body = json.dumps(event()).encode()

    async def check(address: Address) -> None:
        length = f"Content-Length: {len(body)}\r\n"
        for path in (f"/?token={TOKEN}", f"/?token={TOKEN}x", f"/nope?token={TOKEN}"):
            assert status_of(await exchange(address, post(path, length, body, False))) < 500
        assert status_of(await exchange(address, post("/", "Content-Length: -1\r\n"))) == 400

    try:
        serving(check)
    finally:
        root.removeHandler(keep)
        root.setLevel(old_level)
        configure_logging()
    lines = stream.getvalue()
    assert '"event": "http"' in lines  # the debug line is there, without the query
    assert TOKEN not in lines
    assert not [r for r in records if TOKEN in r]


def test_a_request_in_flight_at_stop_is_answered() -> None:
    """Stopping stops accepting, and lets a request being handled finish (graceful)."""
    sink = Sink()
    body = json.dumps(event()).encode()

    async def slow_accept(events: list[PlaybackEvent]) -> Accepted:
        await asyncio.sleep(0.5)
        return await sink.accept(events)

    async def main() -> None:
        receiver = Receiver(TOKEN, slow_accept, sink.status)
        address = await receiver.start("127.0.0.1", 0)
        head = post("/api/v1/events", f"Content-Length: {len(body)}\r\n", body)
        in_flight = asyncio.create_task(exchange(address, head))
        await asyncio.sleep(0.2)
        await receiver.stop()
        assert status_of(await in_flight) == 202
        with pytest.raises(OSError):
            await asyncio.open_connection(*address)

    asyncio.run(main())
    assert len(sink.events) == 1
