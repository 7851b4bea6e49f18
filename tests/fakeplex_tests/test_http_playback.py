"""Plain HTTP playback-state writes to the emulated PMS: scrobble, timeline and progress,
resume points, the played threshold and the status codes of bad requests."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import httpx
import pytest

from tests.fakeplex import FakeServer

from .http_helpers import CID, owner, xml


def test_view_offset_only_while_in_progress(alpha: FakeServer) -> None:
    rk = alpha.find_key(title="Arrival")
    with owner(alpha) as c:

        def item() -> ET.Element:
            return xml(c.get(f"/library/metadata/{rk}"))[0]

        assert item().get("viewOffset") is None and item().get("viewCount") is None
        c.get(
            "/:/timeline",
            params={
                "ratingKey": rk,
                "key": f"/library/metadata/{rk}",
                "state": "stopped",
                "time": 61_000,
                "duration": 6960000,
            },
        )
        assert item().get("viewOffset") == "61000" and item().get("viewCount") is None
        c.get("/:/scrobble", params={"key": rk, "identifier": "com.plexapp.plugins.library"})
        assert item().get("viewOffset") is None and item().get("viewCount") == "1"


def test_status_codes(alpha: FakeServer) -> None:
    lib = "com.plexapp.plugins.library"
    with owner(alpha) as c:
        assert c.get("/library/metadata/424242").status_code == 404
        assert c.get("/library/sections/99/all").status_code == 404
        assert c.get("/no/such/endpoint").status_code == 404
        assert c.get("/library/sections/1/all", params={"type": "x"}).status_code == 400
        assert c.get("/:/scrobble", params={"key": "424242", "identifier": lib}).status_code == 404
        assert c.get("/:/scrobble", params={"identifier": lib}).status_code == 400
        rk = alpha.find_key(title="Heat")
        assert c.get("/:/scrobble", params={"key": rk}).status_code == 400
        assert c.get("/:/scrobble", params={"key": rk, "identifier": lib}).status_code == 200
        assert c.get("/:/unscrobble", params={"key": "abc", "identifier": lib}).status_code == 400
        bad = {"ratingKey": rk, "state": "playing", "time": 11_000_000, "duration": 10_200_000}
        assert c.get("/:/timeline", params=bad).status_code == 400
        assert (
            c.get("/:/timeline", params={**bad, "state": "dancing", "time": 1}).status_code == 400
        )
        assert (
            c.get("/:/timeline", params={"state": "playing", "time": 1, "duration": 5}).status_code
            == 400
        )
        assert (
            c.get("/:/timeline", params={**bad, "ratingKey": "424242", "time": 1}).status_code
            == 404
        )
        assert c.get("/:/progress", params={"key": rk}).status_code == 400
        assert c.get("/:/progress", params={"key": "424242", "time": 5}).status_code == 404
    r = httpx.get(
        alpha.url + "/library/metadata/424242", headers={"X-Plex-Token": alpha.owner_token}
    )
    assert r.status_code == 404 and "404 Not Found" in r.text


def test_scrobble_and_unscrobble_with_put(alpha: FakeServer) -> None:
    rk = alpha.find_key(title="Heat")
    params = {"key": rk, "identifier": "com.plexapp.plugins.library"}
    with owner(alpha) as c:
        r = c.put("/:/scrobble", params=params)
        assert r.status_code == 200 and r.content == b""
        assert alpha.state("admin", rk)["view_count"] == 1
        assert c.put("/:/unscrobble", params=params).status_code == 200
        assert alpha.state("admin", rk) == {
            "view_count": 0,
            "view_offset": 0,
            "last_viewed_at": None,
        }


@pytest.mark.parametrize("method", ["GET", "POST", "PUT"])
@pytest.mark.parametrize("path", ["/:/timeline", "/:/timeline/"])
def test_timeline_methods_and_trailing_slash(alpha: FakeServer, method: str, path: str) -> None:
    rk = alpha.find_key(title="Heat")
    params = {
        "ratingKey": rk,
        "key": f"/library/metadata/{rk}",
        "state": "stopped",
        "time": 777_000,
        "duration": 10_200_000,
        "identifier": "com.plexapp.plugins.library",
    }
    with owner(alpha) as c:
        r = c.request(method, path, params=params)
    root = xml(r)
    assert root.get("size") == "0" and len(root) == 0
    assert root.get("viewOffset") == "777000"
    assert alpha.state("admin", rk)["view_offset"] == 777_000
    assert alpha.requests[-1].method == method and alpha.requests[-1].path == path


def test_timeline_needs_duration_and_client_id(alpha: FakeServer) -> None:
    rk = alpha.find_key(title="Heat")
    base = {"ratingKey": rk, "key": f"/library/metadata/{rk}", "state": "stopped", "time": 65_000}
    tok = {"X-Plex-Token": alpha.owner_token}
    r = httpx.get(alpha.url + "/:/timeline", params={**base, "duration": 10_200_000}, headers=tok)
    assert r.status_code == 200
    r = httpx.get(alpha.url + "/:/timeline", params=base, headers={**tok, **CID})
    assert r.status_code == 200
    assert alpha.state("admin", rk)["view_offset"] == 0  # both ignored
    r = httpx.get(
        alpha.url + "/:/timeline",
        params={**base, "duration": 10_200_000, "X-Plex-Client-Identifier": "q"},
        headers=tok,
    )
    assert alpha.state("admin", rk)["view_offset"] == 65_000  # client id in the query is enough


def test_offline_timeline_needs_no_duration(alpha: FakeServer) -> None:
    """A sync client's offline=1 report is stored without duration and without a threshold
    check (plex-api.rs against a real PMS: 260 s on an 81 s movie stayed a resume point)."""
    rk = alpha.find_key(title="Heat")
    with owner(alpha) as c:
        r = c.get(
            "/:/timeline",
            params={
                "ratingKey": rk,
                "key": f"/library/metadata/{rk}",
                "state": "playing",
                "time": 10_199_000,
                "offline": 1,
            },
            headers={"Accept": "application/json"},
        )
    mc = r.json()["MediaContainer"]
    assert mc["viewOffset"] == 10_199_000 and mc["viewCount"] == 0
    assert mc["playbackState"] == "progress" and mc["size"] == 0
    assert alpha.state("admin", rk)["view_offset"] == 10_199_000


def test_resume_points_of_a_minute_or_less_are_ignored(alpha: FakeServer) -> None:
    rk = alpha.find_key(title="Heat")
    beat = {"ratingKey": rk, "state": "stopped", "duration": 10_200_000}
    with owner(alpha) as c:
        c.get("/:/timeline", params={**beat, "time": 60_000})
        assert alpha.state("admin", rk) == {
            "view_count": 0,
            "view_offset": 0,
            "last_viewed_at": None,
        }
        c.get("/:/timeline", params={**beat, "time": 60_001})
        assert alpha.state("admin", rk)["view_offset"] == 60_001
        c.get("/:/timeline", params={**beat, "time": 30_000})  # ignored, not cleared
        assert alpha.state("admin", rk)["view_offset"] == 60_001
        alpha.min_resume_offset = 0
        c.get("/:/timeline", params={**beat, "time": 30_000})
        assert alpha.state("admin", rk)["view_offset"] == 30_000


def test_resume_point_on_a_watched_item_keeps_view_count(alpha: FakeServer) -> None:
    rk = alpha.find_key(title="Heat")
    lib = "com.plexapp.plugins.library"
    with owner(alpha) as c:
        c.get("/:/scrobble", params={"key": rk, "identifier": lib})
        r = c.get(
            "/:/timeline",
            params={"ratingKey": rk, "state": "stopped", "time": 120_000, "duration": 10_200_000},
        )
        root = xml(r)
        assert root.get("viewCount") == "1" and root.get("viewOffset") == "120000"
    assert alpha.state("admin", rk)["view_count"] == 1


def test_threshold_crossing_marks_played_once_and_clears_offset(alpha: FakeServer) -> None:
    rk = alpha.find_key(title="The Matrix")
    dur = 8_160_000
    beat = {"ratingKey": rk, "key": f"/library/metadata/{rk}", "duration": dur}
    with owner(alpha) as c:
        c.get("/:/timeline", params={**beat, "state": "playing", "time": 7_000_000})
        assert alpha.state("admin", rk)["view_offset"] == 7_000_000
        assert alpha.state("admin", rk)["view_count"] == 0
        c.get("/:/timeline", params={**beat, "state": "playing", "time": int(dur * 0.9)})
        st = alpha.state("admin", rk)
        assert st["view_count"] == 1 and st["view_offset"] == 0 and st["last_viewed_at"]
        c.get("/:/timeline", params={**beat, "state": "playing", "time": int(dur * 0.95)})
        c.get("/:/timeline", params={**beat, "state": "stopped", "time": int(dur * 0.97)})
        assert alpha.state("admin", rk)["view_count"] == 1  # one play, not three
        # a later separate play counts again
        c.get("/:/timeline", params={**beat, "state": "stopped", "time": dur})
        assert alpha.state("admin", rk)["view_count"] == 2


def test_threshold_is_a_setting(alpha: FakeServer) -> None:
    rk = alpha.find_key(title="The Matrix")
    alpha.played_threshold = 0.5
    with owner(alpha) as c:
        c.get(
            "/:/timeline",
            params={"ratingKey": rk, "state": "stopped", "time": 4_100_000, "duration": 8_160_000},
        )
    assert alpha.state("admin", rk)["view_count"] == 1
