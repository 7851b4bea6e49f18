"""The webhook door over real sockets (the receiver's starlette app on the real listener):
each kind's payload accepted and stored, wrong keys 401, bad bodies 400, WatchState's root
shape, and the original's legacy root door beside it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from manager.app.receiver import Receiver
from manager.app.webhooks import WEBHOOK_MAX_BODY, WebhookDoor
from manager.config import ServerConfig
from tests.app.test_http_wire import exchange, status_of
from tests.app.test_receiver import TOKEN, Sink
from tests.support.webhooks import multipart, payload, plex_body

KEYS = {
    "plex": "plex-key-0123456789",
    "jelly": "jelly-key-0123456789",
    "emby": "emby-key-0123456789",
}
SERVERS = [
    ServerConfig("plex", "http://plex.lan:32400", "owner-token", webhook_key=KEYS["plex"]),
    ServerConfig(
        "jelly", "http://jelly.lan:8096", "k1", kind="jellyfin", webhook_key=KEYS["jelly"]
    ),
    ServerConfig("emby", "http://emby.lan:8096", "k2", kind="emby", webhook_key=KEYS["emby"]),
]
IDS = {"plex": "machine-plex"}
USER = "0123456789abcdef0123456789abcdef"
Check = Callable[[httpx.AsyncClient, tuple[str, int]], Awaitable[None]]


def run(check: Check) -> Sink:
    sink = Sink()

    async def main() -> None:
        door = WebhookDoor(SERVERS, IDS.get)
        receiver = Receiver(TOKEN, sink.accept, sink.status, door)
        host, port = await receiver.start("127.0.0.1", 0)
        try:
            async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as http:
                await check(http, (host, port))
        finally:
            await receiver.stop()

    asyncio.run(main())
    return sink


def plex(name: str = "media.scrobble", **values: Any) -> tuple[bytes, dict[str, str]]:
    body, ctype = plex_body(
        name,
        thumb=b"\xff\xd8\xff" + bytes(20_000),
        **{"item": "42", "account": 1, "server": "machine-plex", **values},
    )
    return body, {"Content-Type": ctype}


def jelly(name: str = "PlaybackStop", **values: Any) -> bytes:
    data = payload(
        "jellyfin",
        name,
        **{"item": "ab" * 16, "user": USER, "ticks": str(12_000_000_000), **values},
    )
    return json.dumps(data).encode()


def emby(name: str = "item.markplayed", **values: Any) -> bytes:
    data = payload("emby", name, **{"item": "240270", "user": USER, "ticks": 0, **values})
    return json.dumps(data).encode()


def test_each_kind_is_accepted_and_stored() -> None:
    async def check(http: httpx.AsyncClient, _: Any) -> None:
        body, headers = plex()
        r = await http.post(
            "/webhooks/plex", params={"apikey": KEYS["plex"]}, content=body, headers=headers
        )
        assert r.status_code == 200 and r.json() == {"accepted": 1, "duplicates": 0}
        # The plugin's default content type, and the key as a header in any case.
        r = await http.post(
            "/webhooks/jellyfin",
            content=jelly(),
            headers={"Content-Type": "text/plain", "x-APIKEY": KEYS["jelly"]},
        )
        assert r.status_code == 200 and r.json()["accepted"] == 1
        r = await http.post("/webhooks/emby", params={"ApiKey": KEYS["emby"]}, content=emby())
        assert r.status_code == 200 and r.json()["accepted"] == 1
        body, ctype = multipart({"data": emby("playback.stop", ticks=12_000_000_000).decode()})
        r = await http.post(
            "/webhooks/emby",
            params={"apikey": KEYS["emby"]},
            content=body,
            headers={"Content-Type": ctype},
        )
        assert r.status_code == 200 and r.json()["accepted"] == 1

    sink = run(check)
    got = [
        (e.kind, e.state, e.time_ms, e.rating_key, e.account_id, e.upstream_url)
        for e in sink.events
    ]
    assert got == [
        ("scrobble", None, None, "42", "1", "http://plex.lan:32400"),
        ("timeline", "stopped", 1_200_000, "ab" * 16, USER, "http://jelly.lan:8096"),
        ("scrobble", None, None, "240270", USER, "http://emby.lan:8096"),
        ("timeline", "stopped", 1_200_000, "240270", USER, "http://emby.lan:8096"),
    ]
    assert sink.events[0].machine_identifier == "machine-plex"
    assert all(e.token is None and e.proxy_name == "webhook" for e in sink.events)


def test_a_wrong_or_missing_key_is_401_and_nothing_is_stored() -> None:
    async def check(http: httpx.AsyncClient, _: Any) -> None:
        body, headers = plex()
        for params, extra in [
            ({}, {}),
            ({"apikey": "guess"}, {}),
            ({"apikey": KEYS["plex"][:-1]}, {}),
            ({}, {"X-Apikey": ""}),
            ({"token": KEYS["plex"]}, {}),  # a key is not the manager's token
        ]:
            r = await http.post(
                "/webhooks/plex", params=params, content=body, headers={**headers, **extra}
            )
            assert r.status_code == 401, (params, extra)
            assert r.json() == {"error": "missing or wrong webhook key"}
        # The manager's own token is not a webhook key either.
        r = await http.post(
            "/webhooks/plex", params={"apikey": TOKEN}, content=body, headers=headers
        )
        assert r.status_code == 401

    assert run(check).events == []


def test_bad_bodies_are_400_naming_what_is_wrong() -> None:
    async def check(http: httpx.AsyncClient, _: Any) -> None:
        key = {"apikey": KEYS["plex"]}
        body, _ = plex()
        cases = [
            ("/webhooks/plex", key, b"{nope", {}, "payload: not JSON"),
            ("/webhooks/plex", key, body, {"Content-Type": "multipart/form-data"}, "boundary"),
            (
                "/webhooks/plex",
                key,
                multipart({"other": "{}"})[0],
                {"Content-Type": multipart({})[1]},
                "no 'payload' part",
            ),
            (
                "/webhooks/plex",
                key,
                multipart({"payload": "x" * 300_000})[0],
                {"Content-Type": multipart({})[1]},
                "bad multipart body",
            ),
            ("/webhooks/jellyfin", {"apikey": KEYS["jelly"]}, b"[1]", {}, "not a JSON object"),
            (
                "/webhooks/jellyfin",
                {"apikey": KEYS["jelly"]},
                b'{"NotificationType": "PlaybackStop"}',
                {},
                "ItemId",
            ),
            ("/webhooks/emby", {"apikey": KEYS["emby"]}, b"\xff\xfe", {}, "not JSON"),
            # The key names the server, and so its kind: another kind's path is a mistake.
            (
                "/webhooks/emby",
                {"apikey": KEYS["jelly"]},
                emby(),
                {},
                "server 'jelly''s, a jellyfin server, not emby",
            ),
        ]
        for path, params, content, headers, message in cases:
            r = await http.post(path, params=params, content=content, headers=headers)
            assert r.status_code == 400, (path, message, r.text)
            assert message in r.json()["error"], (message, r.json())

    assert run(check).events == []


def test_too_big_a_body_is_413() -> None:
    async def check(http: httpx.AsyncClient, _: Any) -> None:
        r = await http.post(
            "/webhooks/jellyfin",
            params={"apikey": KEYS["jelly"]},
            content=b" " * (WEBHOOK_MAX_BODY + 1),
        )
        assert r.status_code == 413

    assert run(check).events == []


def test_other_events_are_200_ignored() -> None:
    async def check(http: httpx.AsyncClient, _: Any) -> None:
        body, headers = plex("library.new")
        r = await http.post(
            "/webhooks/plex", params={"apikey": KEYS["plex"]}, content=body, headers=headers
        )
        assert r.status_code == 200 and r.json() == {"ignored": "library.new"}
        r = await http.post(
            "/webhooks/emby",
            params={"apikey": KEYS["emby"]},
            content=emby("system.notificationtest"),
        )
        assert r.json() == {"ignored": "system.notificationtest"}
        replay = json.loads(jelly())
        replay["ClientName"] = "Plex Cluster"
        r = await http.post("/webhooks/jellyfin", params={"apikey": KEYS["jelly"]}, json=replay)
        assert r.json() == {"ignored": "PlaybackStop: our own replay"}

    assert run(check).events == []


def test_the_same_webhook_twice_is_one_event() -> None:
    async def check(http: httpx.AsyncClient, _: Any) -> None:
        answers = [{"accepted": 1, "duplicates": 0}, {"accepted": 0, "duplicates": 1}]
        for attempt, expected in enumerate(answers):
            # A new multipart boundary each time, as a server's retry would have.
            body, headers = plex()
            boundary = f"retry{attempt}".encode()
            body = body.replace(b"plexclustertest7d2a", boundary)
            ctype = headers["Content-Type"].replace("plexclustertest7d2a", boundary.decode())
            r = await http.post(
                "/webhooks/plex",
                params={"apikey": KEYS["plex"]},
                content=body,
                headers={"Content-Type": ctype},
            )
            assert r.json() == expected

    assert len(run(check).events) == 1


def test_watchstate_root_shape_beside_the_legacy_door() -> None:
    line = {
        "host": "plex.example:32401",
        "method": "GET",
        "uri": "/:/scrobble?key=42&identifier=com.plexapp.plugins.library",
        "token": "plex-token",
        "status": "200",
    }

    async def check(http: httpx.AsyncClient, address: tuple[str, int]) -> None:
        # WatchState's shape: the key on the root path, the kind from the key's server.
        r = await http.post("/", params={"apikey": KEYS["jelly"]}, content=jelly())
        assert r.status_code == 200 and r.json()["accepted"] == 1
        r = await http.post(
            "/", headers={"X-apikey": KEYS["emby"]}, content=emby("item.markunplayed")
        )
        assert r.status_code == 200 and r.json()["accepted"] == 1
        r = await http.post("/", params={"apikey": "guess"}, content=emby())
        assert r.status_code == 401
        # The original's door: a token decides, as it always did.
        r = await http.post("/", params={"token": TOKEN}, content=json.dumps(line))
        assert r.status_code == 200 and r.json()["accepted"] == 1
        r = await http.post("/", params={"token": "wrong"}, content=json.dumps(line))
        assert r.status_code == 401
        r = await http.post("/", content=json.dumps(line))
        assert r.status_code == 401
        # Raw bytes: a bad chunk size on a webhook path is still a clean 400.
        request = (
            f"POST /webhooks/emby?apikey={KEYS['emby']} HTTP/1.1\r\nHost: m\r\n"
            "Connection: close\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"
        ).encode()
        assert status_of(await exchange(address, request)) == 400

    sink = run(check)
    got = [(e.kind, e.upstream_url) for e in sink.events]
    assert got == [
        ("timeline", "http://jelly.lan:8096"),
        ("unscrobble", "http://emby.lan:8096"),
        ("scrobble", "https://plex.example:32401"),
    ]


def test_without_a_door_the_webhook_paths_say_so() -> None:
    async def main() -> None:
        sink = Sink()
        receiver = Receiver(TOKEN, sink.accept, sink.status)
        host, port = await receiver.start("127.0.0.1", 0)
        try:
            async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as http:
                r = await http.post("/webhooks/plex", params={"apikey": "x"}, content=b"{}")
                assert r.status_code == 404
        finally:
            await receiver.stop()

    asyncio.run(main())
