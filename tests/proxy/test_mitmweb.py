"""mitmweb with our addon (addons/plex_cluster_web.py) as docs/proxy.md launches it, in
front of emulated Plex and Jellyfin servers: the playback requests are in its flow API,
the events still reach the manager, no client token is anywhere mitmweb serves a flow,
and the flows kept stay bounded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from addons.plex_cluster_web import PLAYBACK_FILTER
from tests.fakeplex import Cluster, start_cluster
from tests.support.configs import MANAGER_TOKEN, write_config
from tests.support.live_cluster import ManagerProcess
from tests.support.mixed_world import USER_MAP
from tests.support.polling import wait_for
from tests.support.processes import (
    BIN,
    LOCALHOST,
    ROOT,
    MitmdumpProcess,
    connectable,
    free_port,
    mitmdump_env,
)

WEB_PASSWORD = "web-secret-for-the-test"
LIBRARY = "com.plexapp.plugins.library"


@contextmanager
def mitmweb(upstream: str, workdir: Path, manager: str, max_flows: int) -> Iterator[Any]:
    port, web_port = free_port(), free_port()
    argv = [
        str(BIN / "mitmweb"),
        "--mode", f"reverse:{upstream}",
        "--listen-host", LOCALHOST, "-p", str(port),
        "--web-host", LOCALHOST, "--web-port", str(web_port),
        "--set", "web_open_browser=false",
        "--set", f"web_password={WEB_PASSWORD}",
        "--set", f"view_filter={PLAYBACK_FILTER}",
        "--set", f"cluster_web_max_flows={max_flows}",
        "--set", f"confdir={workdir / 'conf'}",
        "-s", str(ROOT / "addons" / "plex_cluster_web.py"),
        "--set", f"cluster_data_dir={workdir / 'data'}",
        "--set", f"cluster_manager={manager}",
        "--set", f"cluster_manager_token={MANAGER_TOKEN}",
    ]  # fmt: skip
    proc = MitmdumpProcess(argv=argv, workdir=workdir, env=mitmdump_env(), port=port)
    proc.start()
    try:
        wait_for(lambda: connectable(web_port), 20, "mitmweb's web port")
        api = httpx.Client(
            base_url=f"http://{LOCALHOST}:{web_port}",
            headers={"Authorization": f"Bearer {WEB_PASSWORD}"},
            timeout=10,
        )
        yield proc, api
        api.close()
    finally:
        proc.stop()


def everything_served(api: httpx.Client) -> tuple[list[dict[str, Any]], str]:
    """The flow list, and all text mitmweb serves about those flows: the list, its dump
    (every flow whole, metadata included) and each request's and response's body."""
    listed = api.get("/flows")
    assert listed.status_code == 200, listed.text
    flows = listed.json()
    parts = [listed.text, api.get("/flows/dump").content.decode("latin-1")]
    for f in flows:
        for message in ("request", "response"):
            r = api.get(f"/flows/{f['id']}/{message}/content.data")
            parts.append(r.content.decode("latin-1"))
    return flows, "\n".join(parts)


def plex_requests(cluster: Cluster, url: str) -> None:
    token = cluster.token_for("alice", "plex")
    rk = cluster.item_id("plex", "matrix")
    other = cluster.item_id("plex", "arrival")
    with httpx.Client(base_url=url, timeout=10) as c:
        assert c.get("/library/sections", params={"X-Plex-Token": token}).status_code == 200
        header = {"X-Plex-Token": token, "X-Plex-Client-Identifier": "web-test"}
        r = c.get("/:/scrobble", params={"key": rk, "identifier": LIBRARY, "X-Plex-Token": token})
        assert r.status_code == 200, r.text
        r = c.get(
            "/:/timeline",
            params={"ratingKey": other, "key": f"/library/metadata/{other}",
                    "state": "stopped", "time": 600_000, "duration": 6_960_000},
            headers=header,
        )  # fmt: skip
        assert r.status_code == 200, r.text


def jelly_requests(cluster: Cluster, url: str) -> None:
    token = cluster.token_for("alice", "jelly")
    uid = cluster.user_id("alice", "jelly")
    item = cluster.item_id("jelly", "heat")
    auth = f'MediaBrowser Client="web-test", Device="box", DeviceId="wt1", Token="{token}"'
    with httpx.Client(base_url=url, timeout=10) as c:
        r = c.post(f"/Users/{uid}/PlayedItems/{item}", headers={"X-Emby-Authorization": auth})
        assert r.status_code < 300, r.text
        r = c.post(
            "/Sessions/Playing/Stopped",
            params={"api_key": token},
            json={"ItemId": cluster.item_id("jelly", "inception"), "PositionTicks": 6_000_000_000},
        )
        assert r.status_code < 300, r.text


def test_mitmweb_shows_playback_flows_without_tokens(tmp_path: Path) -> None:
    with start_cluster("mixed") as cluster:
        port = free_port()
        config = write_config(cluster, tmp_path, port, users=USER_MAP)
        manager = ManagerProcess(config, tmp_path, port).start()
        try:
            plex = cluster.servers["plex"]
            jelly = cluster.servers["jelly"]
            with (
                mitmweb(plex.url, tmp_path / "web-plex", manager.url, 4) as (plex_proxy, plex_api),
                mitmweb(jelly.url, tmp_path / "web-jelly", manager.url, 50) as (jf_proxy, jf_api),
            ):
                plex_requests(cluster, plex_proxy.url)
                jelly_requests(cluster, jf_proxy.url)
                # The proxies reported them: the manager wrote them on the other servers.
                wait_for(lambda: cluster.state("jelly", "alice", "matrix")["played"], 20, "jelly")
                wait_for(lambda: cluster.state("emby", "alice", "heat")["played"], 20, "emby")

                secrets = [
                    cluster.token_for("alice", "plex"),
                    cluster.token_for("alice", "jelly"),
                ]
                flows, text = everything_served(plex_api)
                paths = [f["request"]["path"].split("?")[0] for f in flows]
                assert paths == ["/:/scrobble", "/:/timeline"], paths  # the view filter
                jf_flows, jf_text = everything_served(jf_api)
                jf_paths = [f["request"]["path"].split("?")[0] for f in jf_flows]
                assert len(jf_paths) == 2 and "/Sessions/Playing/Stopped" in jf_paths, jf_paths
                for secret in secrets:
                    assert secret not in text and secret not in jf_text
                assert "x-plex-token" in text.lower() and "token=" in jf_text.lower()

                # A long session: at most 4 flows kept, the newest.
                token = cluster.token_for("alice", "plex")
                rk = cluster.item_id("plex", "inception")
                for n in range(6):
                    httpx.get(
                        f"{plex_proxy.url}/:/timeline",
                        params={"ratingKey": rk, "key": f"/library/metadata/{rk}",
                                "state": "playing", "time": 70_000 + n * 1000,
                                "duration": 8_880_000, "X-Plex-Token": token},
                        headers={"X-Plex-Client-Identifier": "web-test"},
                        timeout=10,
                    )  # fmt: skip
                flows, text = everything_served(plex_api)
                assert len(flows) == 4, [f["request"]["path"] for f in flows]
                assert token not in text
                newest = json.loads(plex_api.get("/flows").text)[-1]["request"]["path"]
                assert "time=75000" in newest, newest
        finally:
            manager.stop()
