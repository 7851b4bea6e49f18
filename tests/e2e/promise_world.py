"""A world for the issue-9 tests: the demo cluster plus a user per story, the manager as a
subprocess and a mitmdump + addon in front of every server, all real processes.

The demo fixture is extended, never changed: one invited friend per test (so a test's
full sync, limited to its user, touches nothing another test looks at), Casablanca and
Jaws on all three servers, and Fargo (a show) on all three.
"""

from __future__ import annotations

import math
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from plexapi.server import PlexServer

from manager.event import REPLAY_HEADER
from manager.store.outbox import DEFER_S
from tests.fakeplex import Cluster, start_cluster
from tests.fakeplex.fixture import FIXTURE_DIR
from tests.support.live_cluster import PROXY_READY_TIMEOUT, ManagerProcess, manager_and_proxies
from tests.support.polling import wait_for
from tests.support.processes import ROOT, MitmdumpProcess, clean_env
from tests.support.state import raw_state

FRIENDS = {"carol": 5005, "dave": 6006, "erin": 7007, "frank": 8008, "grace": 9009}
FRIENDS |= {"heidi": 10010, "ivan": 11011}
T_OLD = 1_600_000_000  # a lastViewedAt from long ago (September 2020)
WRITE_PATHS = {"/:/scrobble": "scrobble", "/:/unscrobble": "unscrobble", "/:/timeline": "resume"}


def promise_fixture() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((FIXTURE_DIR / "demo.yaml").read_text())
    data["name"] = "promise"
    for name, account_id in FRIENDS.items():
        data["accounts"][name] = {"id": account_id, "email": f"{name}@example.com"}
    data["movies"]["casablanca"] = {
        "title": "Casablanca",
        "year": 1942,
        "duration": 6_120_000,
        "imdb": "tt0034583",
        "tmdb": 289,
    }
    data["movies"]["jaws"] = {
        "title": "Jaws",
        "year": 1975,
        "duration": 7_440_000,
        "imdb": "tt0073195",
        "tmdb": 578,
    }
    data["shows"]["fargo"] = {
        "title": "Fargo",
        "year": 2014,
        "imdb": "tt2802850",
        "tmdb": 60622,
        "tvdb": 269613,
        "episode_duration": 3_180_000,
        "seasons": {1: 3},
    }
    for server in data["servers"].values():
        server["users"] = [*server["users"], *FRIENDS]
        movies, shows = server["sections"]
        movies["items"] += ["casablanca", "jaws"]
        shows["items"] += ["fargo"]
    return data


def title_of(item: Any) -> str:
    """The title the manager logs for a plexapi item."""
    if item.type == "episode":
        return f"{item.grandparentTitle} S{item.parentIndex:02d}E{item.index:02d}"
    return str(item.title)


def is_replay(request: Any) -> bool:
    """A request the manager sent (every one of its requests carries the replay marker)."""
    return request.param(REPLAY_HEADER) == "1"


def next_second(after: float) -> None:
    """Wait until the wall clock is in a later whole second than `after`: Plex stamps
    lastViewedAt in whole seconds, so a stamp made from now on is strictly later."""
    wait_for(lambda: time.time() >= math.floor(after) + 1, 5, "the next second")


@dataclass
class PromiseWorld:
    cluster: Cluster
    manager: ManagerProcess
    proxies: dict[str, MitmdumpProcess]

    # -- clients ------------------------------------------------------------------------
    def plex(self, user: str, server: str) -> PlexServer:
        """python-plexapi talking to `server` through its proxy, as `user`."""
        return PlexServer(self.proxies[server].url, self.cluster.token_for(user, server))

    def direct(self, user: str, server: str) -> PlexServer:
        """A client that bypasses the proxy (a TV app on the LAN): the manager never hears."""
        return PlexServer(self.cluster.servers[server].url, self.cluster.token_for(user, server))

    def item(self, user: str, server: str, catalog: str, *, via_proxy: bool = True) -> Any:
        plex = self.plex(user, server) if via_proxy else self.direct(user, server)
        return plex.fetchItem(int(self.key(server, catalog)))

    def stop_at(
        self,
        user: str,
        server: str,
        catalog: str,
        time_ms: int | float,
        *,
        state: str = "stopped",
        handled: bool = True,
    ) -> dict[str, Any] | None:
        """The user's player reports `state` at `time_ms` through the server's proxy;
        handled: wait until the manager has handled the event (its log line)."""
        item = self.item(user, server, catalog)
        return self._do(
            lambda: item.updateTimeline(int(time_ms), state, item.duration), user, item, handled
        )

    def mark(
        self, user: str, server: str, catalog: str, played: bool, *, handled: bool = True
    ) -> dict[str, Any] | None:
        """Mark played / unplayed through the server's proxy (a show: every episode)."""
        item = self.item(user, server, catalog)
        return self._do(item.markPlayed if played else item.markUnplayed, user, item, handled)

    def _do(
        self, action: Callable[[], object], user: str, item: Any, handled: bool
    ) -> dict[str, Any] | None:
        if not handled:
            action()
            return None
        return self.act(action, user, title_of(item))

    # -- server state -------------------------------------------------------------------
    def key(self, server: str, catalog: str) -> str:
        return self.cluster.servers[server].find_key(catalog=catalog)

    def state(self, server: str, user: str, catalog: str) -> dict[str, Any]:
        return raw_state(self.cluster, server, user, catalog=catalog)

    def set_state(self, server: str, user: str, catalog: str, **values: int) -> None:
        srv = self.cluster.servers[server]
        srv.set_state(user, srv.find_key(catalog=catalog), **values)

    def seen(self, user: str, catalog: str) -> dict[str, tuple[bool, int]]:
        """(watched, resume point ms) of a movie or episode on every server."""
        out = {}
        for name in self.cluster.servers:
            st = self.state(name, user, catalog)
            out[name] = (st["view_count"] > 0, st["view_offset"])
        return out

    def watched_episodes(self, user: str, show: str) -> dict[str, str]:
        """'viewed/leaves' of a show on every server."""
        out = {}
        for name in self.cluster.servers:
            st = self.state(name, user, show)
            out[name] = f"{st['viewed_leaf_count']}/{st['leaf_count']}"
        return out

    def writes(self, server: str, user: str | None = None) -> list[tuple[str, str, str]]:
        """(user, action, ratingKey) of every write request the manager sent to `server`
        (refused ones too), optionally only those made with `user`'s token."""
        srv = self.cluster.servers[server]
        names = {token: name for name, token in srv.user_tokens.items()}
        out = []
        for r in srv.requests:
            action = WRITE_PATHS.get(r.path.rstrip("/"))
            if action is None or not is_replay(r):
                continue
            who = names.get(r.token or "", "?")
            if user is None or who == user:
                key = r.query.get("ratingKey") or r.query.get("key") or ""
                out.append((who, action, key))
        return out

    def foreign_writes(self, user: str, catalog: str) -> list[tuple[str, str, str]]:
        """Writes the manager sent, with any other user's token, to `catalog`, to what it
        is part of or to what it holds (show, seasons, episodes), on any server:
        (server, user, action)."""
        out = []
        for name, srv in self.cluster.servers.items():
            item = srv.item(self.key(name, catalog))
            keys = {item.rating_key} | {leaf.rating_key for leaf in item.leaves}
            keys |= {season.rating_key for season in item.children}
            parent = item.parent
            while parent is not None:
                keys.add(parent.rating_key)
                parent = parent.parent
            for who, action, key in self.writes(name):
                if who != user and key in keys:
                    out.append((name, who, action))
        return out

    # -- the manager ----------------------------------------------------------------------
    def events(self, user: str, title: str, **match: Any) -> list[dict[str, Any]]:
        return self.manager.log_lines("event", user=user, title=title, **match)

    def wait_events(self, user: str, title: str, count: int, **match: Any) -> dict[str, Any]:
        """Wait until the manager has handled `count` events of `user` on `title`; the last."""
        lines = wait_for(
            lambda: len(found := self.events(user, title, **match)) >= count and found,
            what=f"{count} event(s) of {user} on {title!r} handled",
        )
        return dict(lines[-1])

    def act(self, action: Callable[[], object], user: str, title: str) -> dict[str, Any]:
        """Do something through a proxy, then wait until the manager has handled it."""
        before = len(self.events(user, title))
        action()
        return self.wait_events(user, title, before + 1)

    def settle(self) -> None:
        """Wait until the manager has no event pending and nothing left in its outbox."""

        def idle() -> bool:
            queue = self.manager.status()["queue"]
            return queue["events_pending"] == 0 and queue["writes"] == 0

        # A write deferred while the user played the item there waits DEFER_S before it is
        # tried again: the wait must outlast it with room for a loaded machine.
        wait_for(idle, timeout=DEFER_S + 30, what="manager idle (no pending event, empty outbox)")

    def write_lines(self, peer: str, user: str, title: str) -> list[dict[str, Any]]:
        return self.manager.log_lines("write", peer=peer, user=user, title=title)

    def full_sync(self, user: str) -> str:
        """`python -m manager sync --user USER` against the running cluster; its output."""
        argv = [sys.executable, "-m", "manager", "sync", "--config", str(self.manager.config)]
        done = subprocess.run(
            [*argv, "--user", user, "--log-format", "json"],
            capture_output=True,
            text=True,
            env=clean_env(),
            cwd=str(ROOT),
            timeout=120,
        )
        assert done.returncode in (0, 1), f"sync failed to run:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    # -- set-up and restoring -------------------------------------------------------------
    def restore(self) -> None:
        """Everything up again after a test, whatever it stopped."""
        for server in self.cluster.servers.values():
            server.refuse_when(None)
            server.come_up()
        stopped = [p for p in self.proxies.values() if p.proc is None]
        for proxy in stopped:
            proxy.start(wait=False)
        if self.manager.proc is None:
            self.manager.start()
        for proxy in stopped:
            proxy.wait_ready(PROXY_READY_TIMEOUT)

    def clear_requests(self) -> None:
        for server in self.cluster.servers.values():
            server.clear_requests()


@contextmanager
def promise_world(workdir: Path) -> Iterator[PromiseWorld]:
    with (
        start_cluster(promise_fixture()) as cluster,
        manager_and_proxies(cluster, workdir) as (manager, proxies),
    ):
        yield PromiseWorld(cluster, manager, proxies)
