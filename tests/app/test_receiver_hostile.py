"""The HTTP door under hostile input, over a real socket: every answer is a clear 4xx.

Each case here was found by throwing abusive requests at the manager: before the fix they
got a 500 `internal error`, a closed connection with no answer, or a 202 for an event that
then crashed in processing.
"""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import httpx
import pytest

from manager.app.receiver import Receiver
from manager.logs import configure_logging
from tests.app.test_receiver import AUTH, TOKEN, Sink, event, run

# The documented caps (docs/manager.md): events per request, rejections listed in a reply.
MAX_EVENTS = 1000
MAX_REJECTIONS_SHOWN = 20


def raw_exchange(request: bytes) -> bytes:
    """Send bytes as they are (no client library tidying them up); the whole answer."""
    sink = Sink()

    async def main() -> bytes:
        receiver = Receiver(TOKEN, sink.accept, sink.status)
        host, port = await receiver.start("127.0.0.1", 0)
        try:
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(request)
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), 10)
            writer.close()
            return answer
        finally:
            await receiver.stop()

    answer = asyncio.run(main())
    assert sink.events == []
    return answer


def _head(extra: str) -> bytes:
    return (
        f"POST /api/v1/events HTTP/1.1\r\nHost: m\r\nAuthorization: Bearer {TOKEN}\r\n{extra}\r\n"
    ).encode()


@pytest.mark.parametrize("length", ["-5", "+2", "2_0", "0x10", "", "1e3", "٣"])
def test_a_bad_content_length_is_answered_400(length: str) -> None:
    answer = raw_exchange(_head(f"Content-Length: {length}\r\n") + b"{}")
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:80]


def test_two_different_content_lengths_are_answered_400() -> None:
    answer = raw_exchange(_head("Content-Length: 2\r\nContent-Length: 3\r\n") + b"{} ")
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:80]


@pytest.mark.parametrize(
    "chunks",
    [
        b"zz\r\n{}\r\n0\r\n\r\n",  # not hex
        b"-2\r\n{}\r\n0\r\n\r\n",
        b"0x2\r\n{}\r\n0\r\n\r\n",
        b"\r\n{}\r\n0\r\n\r\n",  # empty size line
        b"2\r\n{}XX0\r\n\r\n",  # chunk data not followed by CRLF
    ],
)
def test_a_bad_chunked_body_is_answered_400(chunks: bytes) -> None:
    answer = raw_exchange(_head("Transfer-Encoding: chunked\r\n") + chunks)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:80]


def test_an_odd_target_is_answered_404() -> None:
    # urlsplit read "//[" as a broken IPv6 host, so the hand-written server answered 400 and
    # closed; to starlette it is a path no route has, answered on a kept-alive connection.
    answer = raw_exchange(b"GET //[nope HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 404 "), answer[:80]


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_deeply_nested_json_is_answered_400_on_both_doors() -> None:
    async def check(http: httpx.AsyncClient) -> None:
        for body in (_deep(100_000), b'{"a":' * 50_000 + b"1" + b"}" * 50_000):
            r = await http.post("/api/v1/events", content=body, headers=AUTH)
            assert r.status_code == 400, r.text
            r = await http.post("/", params={"token": TOKEN}, content=body)
            assert r.status_code == 400, r.text
        nested = dict(event(), extra=json.loads(_deep(200)))  # ignored key, still fine
        r = await http.post("/api/v1/events", json=nested, headers=AUTH)
        assert r.status_code == 202

    run(check)


# The JSON text of each value matters (1e999, a lone surrogate), so these are raw snippets.
@pytest.mark.parametrize(
    ("field", "raw"),
    [
        ("state", "[]"),
        ("state", "{}"),
        ("time_ms", "1e999"),
        ("duration_ms", "1e999"),
        ("upstream_status", "1e999"),
        ("upstream_status", "null"),
        ("id", '"\\ud800"'),
        ("rating_key", '"\\udfff"'),
        ("token", '"tok\\ud800en"'),
        ("v", "true"),
        ("key", "7"),
        ("client_id", '{"a": 1}'),
        ("time_ms", "-1"),
        ("seen_at", "1e12"),
    ],
)
def test_a_bad_field_is_answered_400_naming_it(field: str, raw: str) -> None:
    base = json.dumps(event())[:-1]  # the same event without its closing brace
    body = f'{base}, "{field}": {raw}}}'.encode()

    async def check(http: httpx.AsyncClient) -> None:
        r = await http.post("/api/v1/events", content=body, headers=AUTH)
        assert r.status_code == 400, r.text
        assert field in r.json()["rejected"][0]["error"]

    assert run(check).events == []


@pytest.mark.parametrize("uri_or_status", [{"status": "inf"}, {"uri": "time=inf"}])
def test_legacy_payload_with_infinite_numbers_is_answered_400(
    uri_or_status: dict[str, str],
) -> None:
    uri = "/:/timeline?ratingKey=42&key=%2Flibrary%2Fmetadata%2F42&state=stopped&time=1"
    line: dict[str, Any] = {"host": "plex.example:32401", "token": "plex-token", "uri": uri}
    line["status"] = uri_or_status.get("status", "200")
    if "uri" in uri_or_status:
        line["uri"] = uri.replace("time=1", uri_or_status["uri"])

    async def check(http: httpx.AsyncClient) -> None:
        r = await http.post("/", params={"token": TOKEN}, content=json.dumps(line))
        assert r.status_code == 400, r.text

    assert run(check).events == []


def test_a_huge_list_is_refused_early_with_a_short_answer() -> None:
    async def check(http: httpx.AsyncClient) -> None:
        body = b"[" + b",".join([b"{}"] * 1_000_000) + b"]"  # ~3 MiB of invalid items
        r = await http.post("/api/v1/events", content=body, headers=AUTH)
        assert r.status_code == 413
        assert len(r.content) < 300
        r = await http.post("/api/v1/events", json=[{}] * (MAX_EVENTS + 1), headers=AUTH)
        assert r.status_code == 413

    run(check)


def test_the_list_of_rejections_is_capped_with_a_count() -> None:
    good = event()

    async def check(http: httpx.AsyncClient) -> None:
        r = await http.post("/api/v1/events", json=[{}] * MAX_EVENTS, headers=AUTH)
        assert r.status_code == 400
        body = r.json()
        assert len(body["rejected"]) == MAX_REJECTIONS_SHOWN
        assert body["rejected_count"] == MAX_EVENTS
        r = await http.post("/api/v1/events", json=[*([{}] * 30), good], headers=AUTH)
        assert r.status_code == 202
        body = r.json()
        assert body["accepted"] == 1 and body["rejected_count"] == 30
        assert [x["index"] for x in body["rejected"]] == list(range(MAX_REJECTIONS_SHOWN))

    assert [e.id for e in run(check).events] == [good["id"]]


def test_wrong_tokens_do_not_flood_the_log() -> None:
    stream = io.StringIO()
    configure_logging("json", "INFO", stream=stream)

    async def check(http: httpx.AsyncClient) -> None:
        for _ in range(50):
            r = await http.post("/api/v1/events", json=event(), headers={"Authorization": "x"})
            assert r.status_code == 401
            r = await http.post("/", params={"token": "guess"}, content=b"{}")
            assert r.status_code == 401

    try:
        run(check)
    finally:
        configure_logging()
    lines = [json.loads(line)["event"] for line in stream.getvalue().splitlines()]
    # one line each (two if a minute passed in between), not one per request
    assert 1 <= lines.count("events_refused") <= 2
    assert 1 <= lines.count("legacy_refused") <= 2
