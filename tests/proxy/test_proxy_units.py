"""The addon's pure parts: request parsing, streaming decisions, redaction, the spool."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from mitmproxy import http

from addons import streaming
from addons.backlog import Backlog
from addons.config import OPTIONS
from addons.delivery import Outcome, classify
from addons.redacting_output import redact_line
from addons.spool import Spool
from manager.event import PlaybackEvent
from manager.servers.plex import requests as playback

UP = "http://127.0.0.1:32400"
LIB = "com.plexapp.plugins.library"


def _h(**values: str) -> http.Headers:
    return http.Headers(**{k.replace("_", "-"): v for k, v in values.items()})


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/:/scrobble?key=1", "scrobble"),
        ("/:/scrobble/?key=1", "scrobble"),
        ("/:/unscrobble", "unscrobble"),
        ("/:/timeline/?state=playing", "timeline"),
        ("/:/progress", "progress"),
        ("/%3A/timeline?x=1", "timeline"),
        ("/:/websockets/notifications", None),
        ("/library/metadata/1", None),
        ("/:/scrobbles", None),
        ("/", None),
    ],
)
def test_playback_kind(path: str, kind: str | None) -> None:
    assert playback.playback_kind(path) == kind


def test_timeline_from_query_only_like_plex_web() -> None:
    query = {
        "ratingKey": "101",
        "key": "/library/metadata/101",
        "state": "stopped",
        "time": "61000",
        "duration": "7200000.0",
        "X-Plex-Token": "tok-query-123",
        "X-Plex-Client-Identifier": "web-1",
        "X-Plex-Product": "Plex Web",
        "X-Plex-Device-Name": "Firefox",
    }
    c = playback.parse("timeline", _h(), query, UP)
    assert (c.kind, c.rating_key, c.key, c.state) == (
        "timeline",
        "101",
        "/library/metadata/101",
        "stopped",
    )
    assert (c.time_ms, c.duration_ms) == (61000, 7200000)
    assert (c.token, c.client_id, c.product, c.device) == (
        "tok-query-123",
        "web-1",
        "Plex Web",
        "Firefox",
    )
    assert PlaybackEvent.from_json(c.to_json()) == c
    assert c.upstream_url == UP


def test_query_names_are_case_insensitive_and_header_and_query_must_agree() -> None:
    headers = _h(X_Plex_Token="same-token", X_Plex_Client_Identifier="cid-h")
    query = {"key": "7", "identifier": LIB, "x-plex-token": "same-token"}
    c = playback.parse("scrobble", headers, query, UP)
    assert (c.token, c.client_id, c.rating_key, c.state, c.time_ms) == (
        "same-token",
        "cid-h",
        "7",
        None,
        None,
    )
    # Which one Plex would use is not ours to guess: nothing is reported.
    with pytest.raises(playback.Invalid, match="ambiguous"):
        playback.parse("scrobble", headers, {**query, "x-plex-token": "other-token"}, UP)


def test_post_form_body_counts() -> None:
    form = {"ratingKey": "5", "state": "paused", "time": "10", "X-Plex-Token": "t0k3n"}
    c = playback.parse("timeline", _h(), {}, UP, form)
    assert (c.rating_key, c.state, c.token) == ("5", "paused", "t0k3n")


@pytest.mark.parametrize(
    ("kind", "query", "reason"),
    [
        ("scrobble", {"key": "1", "identifier": "com.plexapp.plugins.youtube"}, "library"),
        ("scrobble", {"key": "http://plugin/item?id=3"}, "rating key"),
        ("scrobble", {"identifier": LIB}, "rating key"),
        ("timeline", {"ratingKey": "4", "key": "/system/services/x"}, "library"),
        ("timeline", {"ratingKey": "4", "state": "exploding"}, "state"),
        ("progress", {"key": "4", "state": "stopped"}, "token"),
    ],
)
def test_not_reportable(kind: str, query: dict[str, str], reason: str) -> None:
    headers = _h() if reason == "token" else _h(X_Plex_Token="tok")
    with pytest.raises(playback.Skip, match=reason):
        playback.parse(kind, headers, query, UP)


def test_replay_marks() -> None:
    assert playback.is_replay(_h(X_Plex_Cluster_Replay="1"), {})
    assert playback.is_replay(_h(), {"plex-cluster": "1"})
    assert not playback.is_replay(_h(), {"plex-cluster": "0"})
    assert not playback.is_replay(_h(X_Plex_Token="x"), {"key": "1"})


def _response(headers: dict[str, str], status: int = 200) -> http.Response:
    return http.Response.make(status, b"", headers)


@pytest.mark.parametrize(
    ("headers", "stream"),
    [
        ({"Content-Length": "120"}, False),
        ({"Content-Length": str(512 * 1024)}, False),
        ({"Content-Length": str(512 * 1024 + 1)}, True),
        ({"Transfer-Encoding": "chunked"}, True),
        ({"Content-Type": "text/event-stream", "Content-Length": "10"}, True),
        ({"Content-Type": "video/mp4"}, True),  # no length: read until close
        ({"Content-Length": "nonsense"}, True),
    ],
)
def test_response_streaming(headers: dict[str, str], stream: bool) -> None:
    resp = _response(headers)
    # Response.make adds a Content-Length for its (empty) body: use exactly the test's.
    resp.headers = http.Headers([(k.encode(), v.encode()) for k, v in headers.items()])
    assert streaming.should_stream_response(resp, 512 * 1024) is stream


def test_request_streaming() -> None:
    get = http.Request.make("GET", "http://x/library/sections")
    assert not streaming.should_stream_request(get, 1024)
    upload = http.Request.make("POST", "http://x/photo", b"", {"Content-Length": "9999999"})
    upload.headers["Content-Length"] = "9999999"
    assert streaming.should_stream_request(upload, 1024)
    small = http.Request.make("POST", "http://x/:/timeline", b"a=1")
    assert not streaming.should_stream_request(small, 1024)


@pytest.mark.parametrize(
    "line",
    [
        "127.0.0.1:5: GET http://h/:/scrobble?key=1&X-Plex-Token=SuperSecretToken1",
        "    X-Plex-Token: SuperSecretToken1",
        "    \x1b[34mX-Plex-Token\x1b[0m: SuperSecretToken1",
        "    x-plex-token: SuperSecretToken1",
        "GET http://h/:/websockets/notifications?X-Plex-Token=SuperSecretToken1",
        "    Authorization: Bearer SuperSecretToken1",
        '<User authToken="SuperSecretToken1" />',
    ],
)
def test_flow_line_redaction(line: str) -> None:
    out = redact_line(line)
    assert "SuperSecretToken1" not in out
    assert "Supe…" in out


def test_flow_line_redaction_of_a_cut_token() -> None:
    out = redact_line("GET http://h/:/timeline?X-Plex-Token=SuperSecret…")
    assert "SuperSecret" not in out and "Supe…" in out
    assert redact_line("GET http://h/library/sections 200") == "GET http://h/library/sections 200"


def _event(kind: str, state: str | None = None, rk: str = "1") -> PlaybackEvent:
    return PlaybackEvent(kind=kind, state=state, rating_key=rk, token="tok", upstream_url=UP)


def test_held_events_drop_oldest_heartbeats_first_and_keep_their_order(tmp_path: Path) -> None:
    backlog = Backlog(max_held=4)
    for event in [
        _event("timeline", "paused", rk="p"),
        _event("scrobble", rk="s1"),
        _event("timeline", "playing", rk="h1"),
        _event("timeline", "stopped", rk="x"),
        _event("timeline", "playing", rk="h2"),  # cap passed: h1 goes
        _event("unscrobble", rk="u"),  # h2 goes
        _event("scrobble", rk="s2"),  # no playing/buffering left: the paused one goes
        _event("scrobble", rk="s3"),  # only events that are never dropped: kept anyway
    ]:
        backlog.add(event)
    assert (len(backlog), backlog.dropped) == (5, 3)
    spool = Spool(tmp_path / "data")
    stored: list[str] = []
    assert backlog.flush(spool, lambda event, _: stored.append(event.rating_key))
    assert stored == ["s1", "x", "u", "s2", "s3"] and len(backlog) == 0
    assert [PlaybackEvent.from_json(r.body).rating_key for r in spool.peek()] == stored
    spool.close()


def test_spool_is_private_and_ordered(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "data", max_events=100)
    for i in range(5):
        spool.put(_event("scrobble", rk=str(i)))
    rows = spool.peek()
    assert [PlaybackEvent.from_json(r.body).rating_key for r in rows] == ["0", "1", "2", "3", "4"]
    assert stat.S_IMODE(os.stat(spool.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(spool.path.parent).st_mode) == 0o700
    spool.delete(rows[0].seq)
    assert spool.count() == 4
    # a second handle (a restarted proxy) sees the same rows
    again = Spool(tmp_path / "data", max_events=100)
    assert [r.seq for r in again.peek()] == [r.seq for r in rows[1:]]


def test_spool_same_event_twice_is_stored_once(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_events=10)
    event = _event("scrobble")
    spool.put(event)
    spool.put(event)
    assert spool.count() == 1


def test_spool_cap_drops_oldest_playing_heartbeats_first(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_events=4)
    spool.put(_event("timeline", "playing", "hb1"))
    spool.put(_event("scrobble", None, "s1"))
    spool.put(_event("timeline", "paused", "p1"))
    spool.put(_event("timeline", "playing", "hb2"))
    result = spool.put(_event("timeline", "stopped", "st1"))
    assert (result.dropped, result.over_cap) == (1, False)
    keys = [PlaybackEvent.from_json(r.body).rating_key for r in spool.peek()]
    assert keys == ["s1", "p1", "hb2", "st1"]
    spool.put(_event("unscrobble", None, "u1"))  # drops hb2, then paused p1 next time
    spool.put(_event("scrobble", None, "s2"))
    keys = [PlaybackEvent.from_json(r.body).rating_key for r in spool.peek()]
    assert keys == ["s1", "st1", "u1", "s2"]
    # only must-keep events left: the spool grows past its cap rather than lose a scrobble
    result = spool.put(_event("scrobble", None, "s3"))
    assert result.over_cap and spool.count() == 5


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.ACK),
        (202, Outcome.ACK),
        (204, Outcome.ACK),
        (409, Outcome.ACK),
        (400, Outcome.DROP),
        (422, Outcome.DROP),
        (401, Outcome.RETRY),
        (403, Outcome.RETRY),
        (404, Outcome.RETRY),
        (429, Outcome.RETRY),
        (500, Outcome.RETRY),
        (503, Outcome.RETRY),
        (302, Outcome.RETRY),
    ],
)
def test_manager_answers(status: int, outcome: Outcome) -> None:
    assert classify(status) is outcome


def test_original_env_vars_configure_the_addon() -> None:
    from mitmproxy.optmanager import OptManager

    from addons.config import Settings, register

    env = {
        "CLUSTER_MANAGER": "https://mgr:32402",
        "CLUSTER_MANAGER_TOKEN": "JgUNaJ6DcB7F",
        "HTTPS_HOST": "plex-home.example",
        "PLEX_CLUSTER_SPOOL_MAX": "not-a-number",
        "PLEX_CLUSTER_HTTP2": "yes",
    }
    opts = OptManager()
    register(opts, environ=env)
    settings = Settings.from_options(opts, env)
    assert settings.events_url == "https://mgr:32402/api/v1/events"
    assert settings.manager_token == "JgUNaJ6DcB7F"
    assert settings.server_name == "plex-home.example"
    assert settings.spool_max == 100_000
    assert settings.http2 is True
    # the secret is not an option default (mitmdump --options, mitmweb would show it)
    assert opts.default("cluster_manager_token") == ""
    # --set still wins over the environment
    opts.update(cluster_manager_token="from-set", cluster_server_name="other")
    settings = Settings.from_options(opts, env)
    assert (settings.manager_token, settings.server_name) == ("from-set", "other")
    assert {spec.name for spec in OPTIONS} <= set(opts.keys())


def test_spool_writer_and_delivery_threads_do_not_lock_each_other_out(tmp_path: Path) -> None:
    """The hook's writer thread puts while the delivery thread peeks and deletes."""
    spool = Spool(tmp_path, max_events=1000)
    errors: list[BaseException] = []
    done = threading.Event()

    def writer() -> None:
        try:
            for i in range(400):
                spool.put(_event("timeline", "playing", str(i)))
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    def deliverer() -> None:
        try:
            while not done.is_set() or spool.count():
                for row in spool.peek(10):
                    spool.delete(row.seq)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer), threading.Thread(target=deliverer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert spool.count() == 0


@pytest.mark.parametrize(
    ("mode", "xff"),
    [("replace", "203.0.113.9"), ("append", "198.51.100.1, 203.0.113.9"), ("off", "198.51.100.1")],
)
def test_forwarded_headers(mode: str, xff: str) -> None:
    from mitmproxy.test import tflow

    from addons.forwarded import add_forwarded_headers

    flow = tflow.tflow()
    flow.client_conn.peername = ("::ffff:203.0.113.9", 40000)
    flow.client_conn.timestamp_tls_setup = None  # a plain-HTTP client
    flow.request.headers["x-forwarded-for"] = "198.51.100.1"
    flow.request.headers["X-Real-IP"] = "10.0.0.1"
    flow.request.headers["Accept"] = "*/*"
    add_forwarded_headers(flow, mode)
    headers = flow.request.headers
    assert headers.get_all("X-Forwarded-For") == [xff]
    assert headers["Accept"] == "*/*"
    if mode != "off":
        assert headers.get_all("X-Real-IP") == ["203.0.113.9"]
        assert headers["X-Forwarded-Proto"] == "http"
