"""Script hot reload and the addon's own failures: traffic must keep flowing."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx

from tests.proxy.harness import MediaUpstream, Receiver, wait_for
from tests.support.processes import ADDON, mitmdump_proxy

LIB = "com.plexapp.plugins.library"


def _scrobble(url: str, rk: str) -> httpx.Response:
    return httpx.get(
        f"{url}/:/scrobble",
        params={"key": rk, "identifier": LIB},
        headers={"X-Plex-Token": "lifecycle-token-1", "X-Plex-Client-Identifier": f"c-{rk}"},
        timeout=15,
    )


def test_hot_reload_keeps_one_delivery_loop(
    media: MediaUpstream, receiver: Receiver, tmp_path: Path
) -> None:
    script = tmp_path / "plex_cluster.py"
    shutil.copy(ADDON, script)
    proxy = mitmdump_proxy(media.url, tmp_path, manager=receiver.url)
    proxy.argv[proxy.argv.index(str(ADDON))] = str(script)
    proxy.start()
    try:
        receiver.clear()
        assert _scrobble(proxy.url, "1").status_code == 200
        wait_for(lambda: len(receiver.events()) == 1)
        script.write_text(script.read_text() + "\n# edited\n")
        proxy.wait_ready()  # done() of the old instance, then load/configure/running again
        assert _scrobble(proxy.url, "2").status_code == 200
        assert _scrobble(proxy.url, "3").status_code == 200
        wait_for(lambda: any(e["rating_key"] == "3" for e in receiver.events()))
        # a second, orphaned delivery loop would have sent something twice by now
        assert [e["rating_key"] for e in receiver.events()] == ["1", "2", "3"]
    finally:
        proxy.stop()
    output = proxy.output()
    assert "Traceback" not in output and "level='error'" not in output


def test_a_broken_spool_does_not_break_traffic(
    media: MediaUpstream, receiver: Receiver, tmp_path: Path
) -> None:
    proxy = mitmdump_proxy(media.url, tmp_path, manager=receiver.url)
    proxy.start()
    try:
        spool = tmp_path / "data" / "spool.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            target = Path(str(spool) + suffix)
            if target.exists():
                target.write_bytes(b"this is not a database" * 100)
        resp = _scrobble(proxy.url, "3")
        assert resp.status_code == 200
        assert resp.content == b'<MediaContainer size="0"/>'
        wait_for(lambda: "spool write failed" in proxy.output())  # held, retried
        assert httpx.get(f"{proxy.url}/identity", timeout=15).status_code == 200
    finally:
        proxy.stop()
    assert "lifecycle-token-1" not in proxy.output()


def test_options_from_mitmproxy_config_yaml(
    media: MediaUpstream, receiver: Receiver, tmp_path: Path
) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "config.yaml").write_text("cluster_server_name: from-config-yaml\n")
    proxy = mitmdump_proxy(media.url, tmp_path, manager=receiver.url)
    proxy.start()
    try:
        receiver.clear()
        assert _scrobble(proxy.url, "4").status_code == 200
        events = wait_for(receiver.events)
        assert events[0]["proxy_name"] == "from-config-yaml"
    finally:
        proxy.stop()
