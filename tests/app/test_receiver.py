"""The HTTP API over a real socket: auth, single and batched events, legacy payload."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from manager.app.receiver import Accepted, Receiver
from manager.event import PlaybackEvent

TOKEN = "s3cret-manager-token"


def event(**kw: Any) -> dict[str, Any]:
    base = PlaybackEvent(
        kind="scrobble", rating_key="42", token="plex-token", upstream_url="http://127.0.0.1:1"
    )
    return {**base.to_dict(), **kw}


class Sink:
    def __init__(self) -> None:
        self.events: list[PlaybackEvent] = []
        self.ids: set[str] = set()

    async def accept(self, events: list[PlaybackEvent]) -> Accepted:
        dup = 0
        for e in events:
            if e.id in self.ids:
                dup += 1
                continue
            self.ids.add(e.id)
            self.events.append(e)
        return Accepted(len(events) - dup, dup)

    async def status(self) -> dict[str, Any]:
        return {"queue": {"writes": 0}}


def run(check: Any) -> Sink:
    sink = Sink()

    async def main() -> None:
        receiver = Receiver(TOKEN, sink.accept, sink.status)
        host, port = await receiver.start("127.0.0.1", 0)
        try:
            async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as http:
                await check(http)
        finally:
            await receiver.stop()

    asyncio.run(main())
    return sink


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_events_need_the_bearer_token() -> None:
    async def check(http: httpx.AsyncClient) -> None:
        r = await http.post("/api/v1/events", json=event())
        assert r.status_code == 401
        r = await http.post(
            "/api/v1/events", json=event(), headers={"Authorization": "Bearer nope"}
        )
        assert r.status_code == 401
        r = await http.post("/api/v1/events", json=event(), headers={"Authorization": TOKEN})
        assert r.status_code == 401
        assert (await http.get("/api/v1/status")).status_code == 401

    assert run(check).events == []


def test_single_list_duplicates_and_rejects() -> None:
    one, two = event(), event(kind="unscrobble")

    async def check(http: httpx.AsyncClient) -> None:
        r = await http.post("/api/v1/events", json=one, headers=AUTH)
        assert r.status_code == 202 and r.json()["accepted"] == 1
        bad = event(kind="explode")
        r = await http.post("/api/v1/events", json=[one, two, bad], headers=AUTH)
        assert r.status_code == 202
        body = r.json()
        assert (body["accepted"], body["duplicates"]) == (1, 1)
        assert body["rejected"][0]["index"] == 2 and "kind" in body["rejected"][0]["error"]
        r = await http.post("/api/v1/events", json=[bad], headers=AUTH)
        assert r.status_code == 400
        r = await http.post("/api/v1/events", content=b"{nope", headers=AUTH)
        assert r.status_code == 400
        assert (await http.get("/api/v1/events", headers=AUTH)).status_code == 405

    sink = run(check)
    assert [e.id for e in sink.events] == [one["id"], two["id"]]


def test_health_status_and_unknown_route() -> None:
    async def check(http: httpx.AsyncClient) -> None:
        r = await http.get("/health")
        assert r.status_code == 200 and r.json() == {"status": "ok"}
        r = await http.get("/api/v1/status", headers=AUTH)
        assert r.status_code == 200 and r.json()["queue"]["writes"] == 0
        assert (await http.get("/nope")).status_code == 404

    run(check)


def test_original_payload_at_root_with_token_query() -> None:
    line = {
        "remote_addr": "203.0.113.9",
        "proxy_add_x_forwarded_for": "203.0.113.9",
        "host": "plex.example:32401",
        "method": "GET",
        "uri": "/:/scrobble?key=42&identifier=com.plexapp.plugins.library",
        "token": "plex-token",
        "identifier": "c1",
        "status": "200",
    }

    async def check(http: httpx.AsyncClient) -> None:
        r = await http.post("/", params={"token": "wrong"}, content=json.dumps(line))
        assert r.status_code == 401
        r = await http.post("/", params={"token": TOKEN}, content=json.dumps(line))
        assert r.status_code == 200 and r.json()["accepted"] == 1
        replay = dict(line, uri=line["uri"] + "&plex-cluster=1")
        r = await http.post("/", params={"token": TOKEN}, content=json.dumps(replay))
        assert r.status_code == 200 and r.json() == {"ignored": "replay"}

    sink = run(check)
    assert [(e.kind, e.rating_key, e.upstream_url) for e in sink.events] == [
        ("scrobble", "42", "https://plex.example:32401")
    ]


def test_original_delivery_loop_with_curl_and_a_long_line() -> None:
    """The original proxy posted each log line with `curl -d`; older curls send `Expect:
    100-continue` for bodies over 1 kB (forced here) and wait for the answer before sending."""
    uri = "/:/timeline?ratingKey=42&key=%2Flibrary%2Fmetadata%2F42&state=stopped&time=1200000"
    # Plex Web's long profile parameter (not one we read; device names are capped at 256)
    uri += "&duration=5400000&X-Plex-Product=Plex%20Web&X-Plex-Client-Profile-Extra="
    uri += "x" * 1200
    line = json.dumps(
        {
            "remote_addr": "203.0.113.9",
            "proxy_add_x_forwarded_for": "203.0.113.9",
            "host": "plex.example:32401",
            "method": "GET",
            "uri": uri,
            "token": "plex-token",
            "identifier": "c1",
            "status": "200",
        }
    )
    assert len(line) > 1024

    async def check(http: httpx.AsyncClient) -> None:
        url = f"{http.base_url}?token={TOKEN}"
        proc = await asyncio.create_subprocess_exec(
            "curl", "-s", "-X", "POST", "-H", "Content-Type: application/json",
            "-H", "Expect: 100-continue",
            "--expect100-timeout", "20", "-m", "10", url, "-d", line,
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await proc.communicate()
        assert proc.returncode == 0, out
        assert json.loads(out)["accepted"] == 1

    sink = run(check)
    assert [(e.kind, e.time_ms, e.duration_ms) for e in sink.events] == [
        ("timeline", 1200000, 5400000)
    ]


def test_chunked_body() -> None:
    async def body() -> Any:
        yield b'{"v": 1, "id": "chunked-1", "kind": "scrobble", '
        yield b'"rating_key": "7", "token": "t", "upstream_url": "http://127.0.0.1:1"}'

    async def check(http: httpx.AsyncClient) -> None:
        r = await http.post("/api/v1/events", content=body(), headers=AUTH)
        assert r.status_code == 202 and r.json()["accepted"] == 1

    assert [e.id for e in run(check).events] == ["chunked-1"]
