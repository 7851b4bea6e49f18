"""Benchmark: Plex → Jellyfin/Emby beside Plex → Plex, in one run (issue 11).

    .venv/bin/python -m tests.bench.bench_mixed [--events 200] [--movies N --shows S ...]
                                                [--no-latency] [--no-sync]

1. Real-time latency. Three worlds, one after the other, each with a real mitmdump + addon
   in front of every server and the real manager: the Plex-only `demo` world (alpha →
   beta, gamma), the `mixed` world (Plex → Jellyfin, Emby), and the mixed world again with
   the client talking straight to Plex, whose own webhook (issue 12) tells the manager.
   python-plexapi sends `updateTimeline(t, "stopped")`, one event at a time; the clock
   runs from just before the request until the new resume point is what both peers hold.
   The emulators run in this process (threads), in both worlds alike, so the two figures
   compare; bench_manager runs its emulator apart for the absolute Plex figure.
2. Full sync of 3 servers × ~20 000 items × 5 users (+ admin), first and second run,
   Plex ×3 then Plex + Jellyfin + Emby, on the same fixture (bench_sync's machinery).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from manager.logs import configure_logging

configure_logging("text", "WARNING")  # before the manager's modules bind their loggers

from plexapi.server import PlexServer  # noqa: E402

from manager.config import load_config  # noqa: E402
from tests.bench.bench_sync import run_syncs  # noqa: E402
from tests.bench.sync_fixture import write_fixture_in_child  # noqa: E402
from tests.fakeplex import Cluster, start_cluster  # noqa: E402
from tests.fakeplex.generate import add_size_arguments  # noqa: E402
from tests.support.live_cluster import manager_and_proxies  # noqa: E402
from tests.support.mixed_world import USER_MAP  # noqa: E402
from tests.support.polling import wait_for  # noqa: E402

USERS = ("admin", "alice")  # on every server of both worlds
THINGS = ("matrix", *(f"office/s01e0{n}" for n in range(1, 7)))
MIXED = {"users": USER_MAP}
WORLDS = {  # name: (fixture, source, peers, extra config, by webhook)
    "Plex -> Plex": ("demo", "alpha", ("beta", "gamma"), {}, False),
    "Plex -> Jellyfin, Emby": ("mixed", "plex", ("jelly", "emby"), MIXED, False),
    "Plex webhook -> Jf, Emby": ("mixed", "plex", ("jelly", "emby"), MIXED, True),
}


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def latencies(name: str, events: int) -> list[float]:
    fixture, source, peers, config, by_webhook = WORLDS[name]
    with (
        tempfile.TemporaryDirectory() as tmp,
        start_cluster(fixture) as cluster,
        manager_and_proxies(cluster, Path(tmp), **config) as (manager, proxies),
    ):
        url = proxies[source].url
        if by_webhook:  # straight to the server; only its webhook tells the manager
            url = cluster.servers[source].url
            key = load_config(manager.config, env={}).server(source).webhook_key
            cluster.webhook_to(source, f"{manager.url}/webhooks/plex?apikey={key}")
        clients = {u: PlexServer(url, cluster.token_for(u, source)) for u in USERS}
        pairs = [(u, t) for u in USERS for t in THINGS]
        items = {(u, t): clients[u].fetchItem(int(cluster.item_id(source, t))) for u, t in pairs}

        def arrived(cluster: Cluster, user: str, thing: str, offset: int) -> bool:
            return all(cluster.state(p, user, thing)["position_ms"] == offset for p in peers)

        for u in USERS:  # warm-up: each user's credential on each peer, once
            item = items[(u, THINGS[0])]
            item.updateTimeline(70_000, "stopped", item.duration)
            wait_for(lambda u=u: arrived(cluster, u, THINGS[0], 70_000), what="warm-up")
        out: list[float] = []
        for i in range(events):
            user, thing = pairs[i % len(pairs)]
            offset, item = 120_000 + i * 1000, items[(user, thing)]
            started = time.perf_counter()
            item.updateTimeline(offset, "stopped", item.duration)
            while not arrived(cluster, user, thing, offset):
                if time.perf_counter() - started > 30:
                    raise SystemExit(f"{name}: event {i} never arrived on {', '.join(peers)}")
                time.sleep(0.002)
            out.append((time.perf_counter() - started) * 1000)
        return out


def print_latencies(results: dict[str, list[float]]) -> None:
    print(
        "latency, a client's stop on Plex (through its proxy, or straight to it and carried by"
        " Plex's webhook) -> the resume point held by both peers:"
    )
    for name, values in results.items():
        print(
            f"  {name:24} {len(values)} events: p50 {pct(values, 50):.1f} ms  "
            f"p90 {pct(values, 90):.1f} ms  p99 {pct(values, 99):.1f} ms  "
            f"max {max(values):.1f} ms  mean {statistics.fmean(values):.1f} ms"
        )
    plex, mixed, hook = (pct(v, 50) for v in results.values())
    print(f"  p50 ratios: mixed/Plex-only {mixed / plex:.2f}x, webhook/proxy {hook / mixed:.2f}x")


def full_syncs(args: argparse.Namespace) -> None:
    summary = []
    for kinds in ("plex,plex,plex", "plex,jellyfin,emby"):
        args.kinds = kinds
        print(f"\n-- full sync, servers {kinds} --", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "big.yaml"
            write_fixture_in_child(path, args)
            runs = run_syncs(args, path, tmp)
        summary.append((kinds, runs[0].wall, runs[1].wall, runs[0].requests()))
    print("\nfull sync, same fixture (first run / second run, requests of the first):")
    for kinds, first, second, counts in summary:
        print(f"  {kinds:20} {first:6.1f} s / {second:5.1f} s  {counts}")
    (_, plex_first, plex_second, _), (_, mix_first, mix_second, _) = summary
    print(
        f"  mixed/Plex-only: first {mix_first / plex_first:.2f}x, second "
        f"{mix_second / plex_second:.2f}x"
    )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=200)
    ap.add_argument("--no-latency", action="store_true")
    ap.add_argument("--no-sync", action="store_true")
    add_size_arguments(ap)
    ap.add_argument("--users", type=int, default=5)
    ap.add_argument("--diverge", type=float, default=0.1)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--per-peer", type=int, default=8)
    args = ap.parse_args()
    # bench_sync's run_syncs reads these: one first and one second run, nothing more.
    args.memory, args.no_second, args.changes = False, False, 0.0
    if not args.no_latency:
        print_latencies({name: latencies(name, args.events) for name in WORLDS})
    if not args.no_sync:
        full_syncs(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
