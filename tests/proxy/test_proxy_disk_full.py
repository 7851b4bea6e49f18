"""A disk that is full: requests go through, events are held in memory and kept.

The failure is real: RLIMIT_FSIZE lowered on the running mitmdump makes every write past
the limit fail with EFBIG (Python ignores SIGXFSZ), so SQLite cannot grow its WAL. The
proxy's output goes through pipes (pipes=True) because the limit applies to every file
the process writes, its log files included.
"""

from __future__ import annotations

import resource
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from plexapi.server import PlexServer

from addons.spool import Spool
from tests.fakeplex import Cluster, FakeServer
from tests.proxy.harness import Receiver, wait_for
from tests.support.processes import MitmdumpProcess, mitmdump_proxy

FAILING = "spool write failed"
RECOVERED = "spool writable again"
LOST = "held events could not be kept"


@contextmanager
def full_disk(proxy: MitmdumpProcess) -> Iterator[None]:
    """No file of the proxy can grow past 1 byte while inside (the soft limit only: raising
    a hard limit again needs CAP_SYS_RESOURCE, which a container's root may lack)."""
    proc = proxy.proc
    assert proc is not None
    unlimited = resource.RLIM_INFINITY
    resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (1, unlimited))
    try:
        yield
    finally:
        if proc.poll() is None:  # still running (a test may stop it inside)
            resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (unlimited, unlimited))


def spooled(data: Path) -> int:
    spool = Spool(data)
    try:
        return spool.count()
    finally:
        spool.close()


def played_keys(alpha: FakeServer, titles: list[str]) -> list[str]:
    return [alpha.find_key(None, title=t) for t in titles]


def actions(plex: PlexServer, keys: list[str]) -> list[tuple[Callable[[], Any], str, str]]:
    """Five playback actions by python-plexapi: (call, expected kind, rating key)."""
    a, b, c = (plex.fetchItem(int(k)) for k in keys)
    return [
        (a.markPlayed, "scrobble", keys[0]),
        (lambda: b.updateTimeline(600_000, "stopped", b.duration), "timeline", keys[1]),
        (c.markPlayed, "scrobble", keys[2]),
        (a.markUnplayed, "unscrobble", keys[0]),
        (lambda: c.updateTimeline(900_000, "stopped", c.duration), "timeline", keys[2]),
    ]


@pytest.fixture
def alpha(cluster: Cluster) -> FakeServer:
    return cluster.servers["alpha"]


@pytest.fixture
def session() -> Iterator[requests.Session]:
    """plexapi's connections, closed before the proxy stops (mitmproxy prints a traceback
    for a client connection it has to cancel at shutdown)."""
    with requests.Session() as s:
        yield s


def test_full_disk_holds_events_and_delivers_them_in_order(
    alpha: FakeServer, fresh_receiver: Receiver, session: requests.Session, tmp_path: Path
) -> None:
    fresh_receiver.down()  # events accumulate in the spool
    proxy = mitmdump_proxy(alpha.url, tmp_path, manager=fresh_receiver.url, pipes=True)
    proxy.start()
    try:
        plex = PlexServer(proxy.url, alpha.owner_token, session, timeout=15)
        keys = played_keys(alpha, ["The Matrix", "Inception", "Arrival"])
        for key in keys:
            alpha.set_state("admin", key, view_count=0, view_offset=0)
        steps = actions(plex, keys)
        before = plex.fetchItem(int(keys[1]))
        before.markPlayed()  # spooled normally, before the disk fills
        wait_for(lambda: spooled(tmp_path / "data") == 1)

        with full_disk(proxy):
            for call, _, _ in steps:
                call()  # plexapi raises on any non-2xx answer
            assert spooled(tmp_path / "data") == 1  # the writes really failed
        # Plex got every request although the spool could not take the events
        assert alpha.state("admin", keys[1])["view_offset"] == 600_000
        assert alpha.state("admin", keys[2])["view_count"] == 1

        fresh_receiver.up()
        expected = [("scrobble", keys[1])] + [(kind, key) for _, kind, key in steps]
        events = wait_for(
            lambda: (e := fresh_receiver.events()) and len(e) >= len(expected) and e, timeout=30
        )
        assert [(e["kind"], e["rating_key"]) for e in events] == expected
        assert [e["state"] for e in events if e["kind"] == "timeline"] == ["stopped", "stopped"]
        assert len({e["id"] for e in events}) == len(events)
        # a later event arrives after all of them, and nothing arrives twice
        before.markUnplayed()
        wait_for(lambda: len(fresh_receiver.events()) > len(expected))
        wait_for(lambda: spooled(tmp_path / "data") == 0)
        got = [(e["kind"], e["rating_key"]) for e in fresh_receiver.events()]
        assert got == [*expected, ("unscrobble", keys[1])]
    finally:
        session.close()
        proxy.stop()
    lines = proxy.output().splitlines()
    failing = [line for line in lines if FAILING in line]
    assert len(failing) == 1, failing  # one line for the episode, not one per event
    assert "error=" in failing[0]
    recovered = [line for line in lines if RECOVERED in line]
    assert len(recovered) == 1 and "held=5" in recovered[0], recovered
    assert alpha.owner_token not in proxy.output()
    assert "Traceback" not in proxy.output()


def test_shutdown_while_full_says_what_was_lost_and_the_spool_survives(
    alpha: FakeServer, fresh_receiver: Receiver, session: requests.Session, tmp_path: Path
) -> None:
    fresh_receiver.down()
    first = mitmdump_proxy(alpha.url, tmp_path, manager=fresh_receiver.url, pipes=True)
    first.start()
    plex = PlexServer(first.url, alpha.owner_token, session, timeout=15)
    keys = played_keys(alpha, ["Heat", "Inception"])
    kept, held = (plex.fetchItem(int(k)) for k in keys)
    try:
        kept.markPlayed()
        wait_for(lambda: spooled(tmp_path / "data") == 1)
        with full_disk(first):
            held.markPlayed()
            held.markUnplayed()
            wait_for(lambda: FAILING in first.output())
            session.close()
            assert first.stop() == 0  # done() runs while the disk is still full
    finally:
        first.stop()
    lost = [line for line in first.output().splitlines() if LOST in line]
    assert len(lost) == 1 and "lost=2" in lost[0], lost

    # the refused writes left the spool intact: a restart delivers what it holds
    db = sqlite3.connect(tmp_path / "data" / "spool.sqlite3")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        db.close()
    fresh_receiver.up()
    second = mitmdump_proxy(alpha.url, tmp_path, manager=fresh_receiver.url)
    second.start()
    try:
        wait_for(lambda: spooled(tmp_path / "data") == 0)
        assert [(e["kind"], e["rating_key"]) for e in fresh_receiver.events()] == [
            ("scrobble", keys[0])
        ]
    finally:
        second.stop()
