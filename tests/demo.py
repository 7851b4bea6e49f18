"""`make demo`: a live Plex Cluster on emulated servers.

By default the `mixed` world: a Plex, a Jellyfin and an Emby server (plus plex.tv), a real
mitmdump with our addon in front of each, and the real manager; a scenario goes Plex →
Jellyfin → Emby → Plex with each kind's own client through its proxy (tests/demo_mixed.py).
`--world plex` is the Plex-only world instead (three Plex servers, an owner, two invited
friends, a managed user; python-plexapi through alpha's proxy). Either way it prints what
changed on every server and keeps running for you to explore until Ctrl-C.

    python -m tests.demo [--world mixed|plex] [--no-scenario] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from plexapi.server import PlexServer
from prometheus_client.parser import text_string_to_metric_families

from tests import demo_mixed
from tests.fakeplex import Cluster, start_cluster
from tests.support.configs import MANAGER_TOKEN
from tests.support.live_cluster import ManagerProcess, manager_and_proxies
from tests.support.mixed_world import USER_MAP, MixedWorld
from tests.support.polling import wait_for

# (user, catalog entry) pairs the scenario touches; the demo prints their state everywhere.
WATCHED_ROWS = [
    ("admin", "matrix"),
    ("alice", "inception"),
    ("kid", "office/s01e01"),
    ("kid", "office/s01e06"),
    ("bob", "arrival"),
    ("admin", "fast"),
    ("alice", "matrix"),
]


@dataclass(frozen=True)
class Step:
    says: str
    user: str
    act: Callable[[PlexServer], None]


def _scenario() -> list[Step]:
    def movie(plex: PlexServer, title: str):  # type: ignore[no-untyped-def]
        return plex.library.section("Movies").get(title)

    return [
        Step(
            "admin marks The Matrix played",
            "admin",
            lambda p: movie(p, "The Matrix").markPlayed(),
        ),
        Step(
            "alice stops Inception at 20:00",
            "alice",
            lambda p: movie(p, "Inception").updateTimeline(1_200_000, "stopped", 8_880_000),
        ),
        Step(
            "kid (managed user) marks season 1 of The Office played",
            "kid",
            lambda p: p.library.section("TV Shows").get("The Office (US)").season(1).markPlayed(),
        ),
        Step(
            "bob marks Arrival played (bob has no access to gamma)",
            "bob",
            lambda p: movie(p, "Arrival").markPlayed(),
        ),
        Step(
            "admin marks Fast & Furious played (only alpha has it)",
            "admin",
            lambda p: movie(p, "Fast & Furious").markPlayed(),
        ),
    ]


def _cell(cluster: Cluster, server: str, user: str, catalog: str) -> str:
    try:
        state = cluster.state(server, user, catalog)
    except KeyError:
        return "-"  # the server lacks the item, or the user has no account there
    if state["played"]:
        return "played"
    offset = state["position_ms"] or 0
    if offset:
        return f"{offset // 60000}:{offset // 1000 % 60:02d}"
    return "unplayed"


def _table(cluster: Cluster, rows: list[tuple[str, str]]) -> dict[tuple[str, str], list[str]]:
    return {
        (user, catalog): [_cell(cluster, name, user, catalog) for name in cluster.servers]
        for user, catalog in rows
    }


def _print_table(cluster: Cluster, before: dict, after: dict) -> None:
    names = list(cluster.servers)
    print("\nState per user and server (mm:ss = resume point, - = item or user not there):")
    heads = [n if cluster.kind(n) == n else f"{n} ({cluster.kind(n)})" for n in names]
    print(f"{'user':6} {'item':16} " + " ".join(f"{h:>16}" for h in heads))
    for (user, catalog), cells in after.items():
        mark = "" if cells == before[(user, catalog)] else "   <- changed"
        print(f"{user:6} {catalog:16} " + " ".join(f"{c:>16}" for c in cells) + mark)


def _settled(manager: ManagerProcess) -> bool:
    status = manager.status()
    queue = status.get("queue", {})
    return not queue.get("writes") and not queue.get("events_pending")


def _print_explore(cluster: Cluster, manager: ManagerProcess, proxies: dict, workdir: Path) -> None:
    print("\nThe cluster keeps running. Point a client or curl at a proxy, e.g.:")
    plex = next(n for n in cluster.servers if cluster.kind(n) == "plex")
    print(
        '  python -c "from plexapi.server import PlexServer; '
        f"p=PlexServer('{proxies[plex].url}', '{cluster.token_for('alice', plex)}'); "
        "p.library.section('Movies').get('The Matrix').markPlayed()\""
    )
    print("\nThese are the emulator's made-up demo credentials, not real ones.")
    for name, server in cluster.servers.items():
        kind = cluster.kind(name)
        print(f"  {name:6} proxy {proxies[name].url}  {kind} {server.url}")
        if kind != "plex":
            print(f"           admin API key {cluster.api_key(name)}")
        for user in cluster.users:
            try:
                print(f"           {user:6} token {cluster.token_for(user, name)}")
            except KeyError:
                print(f"           {user:6} (no access)")
    print(f"  manager {manager.url}  (status: GET /api/v1/status, bearer {MANAGER_TOKEN})")
    print(f"  dashboard {manager.url}/dashboard  (log in with the manager token above)")
    print(f"  plex.tv {cluster.plextv_url}")
    print(f"  logs and databases under {workdir}")
    print("\nCtrl-C stops everything.")


def _settle_and_print(cluster: Cluster, manager: ManagerProcess, rows: list, before: dict) -> None:
    time.sleep(1.0)
    wait_for(lambda: _settled(manager), 60, "manager settled")
    _print_table(cluster, before, _table(cluster, rows))
    _print_metrics(manager)


def _print_metrics(manager: ManagerProcess) -> None:
    """What GET /metrics counted, read with prometheus-client's own parser."""
    text = httpx.get(
        f"{manager.url}/metrics", headers={"Authorization": f"Bearer {MANAGER_TOKEN}"}, timeout=5
    ).text
    events: dict[str, float] = {}
    writes: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "plex_cluster_events_received_total":
                source = sample.labels["source"]
                events[source] = events.get(source, 0) + sample.value
            elif sample.name == "plex_cluster_writes_total":
                outcome = sample.labels["outcome"]
                writes[outcome] = writes.get(outcome, 0) + sample.value
    print(
        "\nGET /metrics: events received "
        + ", ".join(f"{k} {v:.0f}" for k, v in sorted(events.items()))
        + "; writes "
        + ", ".join(f"{k} {v:.0f}" for k, v in sorted(writes.items()))
    )


def _play_plex(cluster: Cluster, manager: ManagerProcess, proxies: dict) -> None:
    before = _table(cluster, WATCHED_ROWS)
    print("\nScenario, played with python-plexapi through alpha's proxy:")
    for step in _scenario():
        print(f"  - {step.says}")
        step.act(PlexServer(proxies["alpha"].url, cluster.token_for(step.user, "alpha")))
    _settle_and_print(cluster, manager, WATCHED_ROWS, before)


def _play_mixed(cluster: Cluster, manager: ManagerProcess, proxies: dict) -> None:
    world = MixedWorld(cluster, manager, proxies)
    before = _table(cluster, demo_mixed.ROWS)
    print("\nScenario, each step with that server's own client through its proxy:")
    try:
        for step in demo_mixed.scenario():
            print(f"  - {step.says}")
            step.act(world)
            # Let each change settle so the next step builds on it, as a person would.
            wait_for(lambda: _settled(manager), 60, "manager settled")
    finally:
        world.close()
    _settle_and_print(cluster, manager, demo_mixed.ROWS, before)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.demo", description=__doc__)
    parser.add_argument(
        "--world",
        choices=("mixed", "plex"),
        default="mixed",
        help="mixed: Plex + Jellyfin + Emby (default); plex: three Plex servers",
    )
    parser.add_argument("--no-scenario", action="store_true", help="start and wait, play nothing")
    parser.add_argument(
        "--workdir", type=Path, help="where logs and databases go (default: a temp dir)"
    )
    parser.add_argument(
        "--exit-after-scenario", action="store_true", help="stop after printing (for scripts)"
    )
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="plex-cluster-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)

    mixed = args.world == "mixed"
    print(f"Starting the emulated {'Plex, Jellyfin and Emby' if mixed else 'Plex'} servers …")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    config = {"users": USER_MAP} if mixed else {}
    fixture = "mixed" if mixed else "demo"
    with start_cluster(fixture) as cluster, contextlib.suppress(KeyboardInterrupt):
        print("Starting a mitmdump proxy per server and the manager …", flush=True)
        with manager_and_proxies(cluster, workdir, **config) as (manager, proxies):
            try:
                print("Ready.")
                if not args.no_scenario:
                    (_play_mixed if mixed else _play_plex)(cluster, manager, proxies)
                _print_explore(cluster, manager, proxies, workdir)
                if not args.exit_after_scenario:
                    while not stop.wait(0.5):
                        pass
            finally:
                print("\nStopping …", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
