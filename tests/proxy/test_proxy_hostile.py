"""Hostile clients through a real mitmdump: requests pass, nothing is guessed, logs stay calm.

Runs against MediaUpstream, which answers 200 to any /:/ request, so every event that is
not reported was refused by the addon, not by the server.
"""

from __future__ import annotations

import stat
from pathlib import Path

import httpx

from tests.proxy.harness import MediaUpstream, Receiver, wait_for
from tests.support.processes import mitmdump_proxy

LIB = "com.plexapp.plugins.library"
TIMELINE = "/:/timeline?ratingKey=101&key=%2Flibrary%2Fmetadata%2F101&state=stopped"


def test_ambiguous_and_infinite_requests_pass_unreported_with_few_short_lines(
    media: MediaUpstream, fresh_receiver: Receiver, tmp_path: Path
) -> None:
    proxy = mitmdump_proxy(media.url, tmp_path, manager=fresh_receiver.url)
    proxy.start()
    hostile = [
        (f"{TIMELINE}&time={t}&duration=5400000", [("X-Plex-Token", "tokA")])
        for t in ("inf", "1e999", "-inf", "nan")
    ] * 5
    hostile += [
        (f"/:/unscrobble?key=1000&identifier={LIB}&KEY=1e3", [("X-Plex-Token", "tokA")]),
        (f"{TIMELINE}&time=60000&Time=playing", [("X-Plex-Token", "tokA")]),
        (f"{TIMELINE}&state=stopped&State=", [("X-Plex-Token", "tokA")]),
        (f"/:/scrobble?key=7&identifier={LIB}", [("X-Plex-Token", "tokA"), ("X-Plex-Token", "B")]),
    ]
    try:
        with httpx.Client(base_url=proxy.url, timeout=15) as client:
            for url, headers in hostile:
                assert client.get(url, headers=headers).status_code == 200  # passed through
            good = client.get(
                f"/:/scrobble?key=42&identifier={LIB}",
                headers={"X-Plex-Token": "tokA", "X-Plex-Client-Identifier": "the-good-one"},
            )
            assert good.status_code == 200
        # Events are delivered in order: had any hostile one been reported, it came first.
        events = wait_for(lambda: fresh_receiver.events())
        assert [(e["kind"], e["rating_key"], e["client_id"]) for e in events] == [
            ("scrobble", "42", "the-good-one")
        ]
    finally:
        proxy.stop()
    output = proxy.output()
    assert "Traceback" not in output and "OverflowError" not in output
    warnings = [line for line in output.splitlines() if "not reported" in line]
    # One line, rate-limited: 24 hostile requests within seconds give one (two if the
    # machine is so slow that the window passed in between), never one per request.
    assert 1 <= len(warnings) <= 2, warnings
    assert all(len(line) < 400 for line in warnings)


def test_the_documented_start_line_leaves_the_data_directory_private(
    media: MediaUpstream, tmp_path: Path
) -> None:
    """`--set confdir=DATA/mitmproxy --set cluster_data_dir=DATA` with no DATA yet:
    mitmproxy creates DATA (0755 by umask) for its confdir before the addon loads."""
    data = tmp_path / "data"
    proxy = mitmdump_proxy(media.url, tmp_path)
    at = proxy.argv.index(f"confdir={tmp_path / 'conf'}")
    proxy.argv[at] = f"confdir={data / 'mitmproxy'}"
    assert f"cluster_data_dir={data}" in proxy.argv and not data.exists()
    proxy.start()
    try:
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        assert stat.S_IMODE((data / "mitmproxy").stat().st_mode) == 0o700
        assert stat.S_IMODE((data / "spool.sqlite3").stat().st_mode) == 0o600
    finally:
        proxy.stop()
