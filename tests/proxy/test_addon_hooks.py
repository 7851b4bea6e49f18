"""Each small addon's hooks in process, with mitmproxy's own test context and flows: no
mitmdump process needed (tests/proxy/test_proxy_*.py run the real one)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from mitmproxy import http
from mitmproxy.addons import block, proxyserver
from mitmproxy.test import taddons, tflow, tutils

from addons.capture import META, Capture
from addons.data_dir import DataDir
from addons.front import FrontEnd
from addons.spooling import EventSpool
from addons.streaming import Streaming
from addons.websocket import WebsocketTrim
from manager.event import REPLAY_HEADER, PlaybackEvent

LIB = "com.plexapp.plugins.library"


def playback_flow(path: str, status: int = 200, **headers: str) -> http.HTTPFlow:
    flow = tflow.tflow(resp=tutils.tresp(status_code=status))
    flow.request.path = path
    for name, value in {"X-Plex-Token": "tok-hooks-123", **headers}.items():
        flow.request.headers[name] = value
    return flow


def spooled(spool: EventSpool) -> list[PlaybackEvent]:
    assert spool.spool is not None
    return [PlaybackEvent.from_json(row.body) for row in spool.spool.peek(100)]


def test_an_accepted_scrobble_is_spooled_with_its_answer(tmp_path: Path) -> None:
    spool = EventSpool()
    capture = Capture(spool)
    data = DataDir(on_change=spool.use_dir)
    with taddons.context(data, capture, spool) as tctx:
        tctx.configure(data, cluster_data_dir=str(tmp_path), confdir=str(tmp_path / "m"))
        tctx.configure(capture, cluster_server_name="home")
        tctx.configure(spool, cluster_spool_max=10)
        flow = playback_flow(f"/:/scrobble?key=101&identifier={LIB}")
        capture.request(flow)
        assert isinstance(flow.metadata[META], PlaybackEvent)
        pending = capture.responseheaders(flow)
        assert pending is not None
        asyncio.run(pending)  # type: ignore[arg-type]
        (event,) = spooled(spool)
        assert (event.kind, event.rating_key, event.proxy_name) == ("scrobble", "101", "home")
        assert (event.upstream_status, event.token) == (200, "tok-hooks-123")
        spool.done()


def test_refused_replayed_and_other_requests_make_no_event(tmp_path: Path) -> None:
    spool = EventSpool()
    capture = Capture(spool)
    data = DataDir(on_change=spool.use_dir)
    with taddons.context(data, capture, spool) as tctx:
        tctx.configure(data, cluster_data_dir=str(tmp_path), confdir=str(tmp_path / "m"))
        refused = playback_flow(f"/:/scrobble?key=1&identifier={LIB}", status=401)
        replay = playback_flow(f"/:/scrobble?key=1&identifier={LIB}", **{REPLAY_HEADER: "1"})
        other = playback_flow("/library/metadata/1")
        for flow in (refused, replay, other):
            capture.request(flow)
            assert capture.responseheaders(flow) is None
        assert replay.metadata[META] == "replay" and META not in other.metadata
        assert spooled(spool) == []
        spool.done()


def test_streaming_follows_its_own_threshold_only() -> None:
    streaming = Streaming()
    with taddons.context(streaming) as tctx:
        tctx.configure(streaming, cluster_stream_threshold=1000)
        big, small = tflow.tflow(resp=True), tflow.tflow(resp=True)
        assert big.response is not None and small.response is not None
        big.response.headers["content-length"] = "5000"
        small.response.headers["content-length"] = "10"
        streaming.responseheaders(big)
        streaming.responseheaders(small)
        assert big.response.stream and not small.response.stream
        streaming.configure({"cluster_log_level"})  # not its option: nothing changes
        assert streaming.threshold == 1000


def test_front_end_defaults_http2_and_forwarded_headers() -> None:
    front = FrontEnd()
    # mitmproxy's own addons that define keep_host_header and block_global load first.
    with taddons.context(proxyserver.Proxyserver(), block.Block(), front) as tctx:
        assert tctx.options.keep_host_header is True and tctx.options.block_global is False
        tctx.configure(front, cluster_http2=True, cluster_forwarded_for="replace")
        assert tctx.options.http2 is True
        flow = tflow.tflow()
        flow.request.headers["X-Forwarded-For"] = "6.6.6.6"
        front.request(flow)
        assert flow.request.headers["X-Forwarded-For"] == flow.client_conn.peername[0]


def test_data_dir_takes_mitmproxys_default_confdir_in(tmp_path: Path) -> None:
    seen: list[Path] = []
    data = DataDir(on_change=seen.append)
    with taddons.context(data) as tctx:
        tctx.configure(data, cluster_data_dir=str(tmp_path / "state"), confdir="~/.mitmproxy")
        assert tctx.options.confdir == str(tmp_path / "state" / "mitmproxy")
        assert seen == [tmp_path / "state"]


def test_websocket_history_is_trimmed() -> None:
    trim = WebsocketTrim()
    with taddons.context(trim):
        flow = tflow.twebsocketflow(messages=True)
        assert flow.websocket is not None and len(flow.websocket.messages) > 1
        trim.websocket_message(flow)
        assert len(flow.websocket.messages) == 1
