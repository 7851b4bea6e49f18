"""Benchmark: real-time sync latency and manager throughput on the emulated demo cluster.

    .venv/bin/python -m tests.bench.bench_manager [--events 200] [--burst 600]

Every part is a real process: the emulator (`python -m tests.fakeplex`), one mitmdump +
addon per server, the manager. This script is only the client and the stopwatch.

Phase 1 (latency): python-plexapi sends `updateTimeline(t, "stopped")` through the proxy in
front of alpha, one event at a time; the clock runs from just before the client's request
until the new resume point is readable over HTTP on beta and on gamma (the user's own
token, `GET /library/metadata/<key>`, polled every 2 ms). Prints p50/p90/p99/max.

Phase 2 (throughput): a burst of distinct events POSTed straight to the manager in batches
of 50; events/second = events / time until every one is processed and every write is
delivered, with the final state checked on both peers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from plexapi.server import PlexServer

from manager.event import PlaybackEvent
from manager.model import RESUME_TOLERANCE_MS
from tests.support.live_cluster import ManagerProcess, manager_and_proxies
from tests.support.polling import wait_for
from tests.support.processes import MitmdumpProcess, emulator_process

USERS = ("admin", "alice", "kid")  # the demo users who can use all three servers
MOVIES = ("The Matrix", "Inception")
EPISODES = tuple(("The Office (US)", 1, n) for n in range(1, 7))


@dataclass
class Server:
    name: str
    url: str
    owner_token: str
    machine_identifier: str
    tokens: dict[str, str]


class Emulator:
    """The demo cluster as described by `python -m tests.fakeplex` in its own process."""

    def __init__(self, info: dict[str, Any]) -> None:
        self.plextv_url: str = info["plextv_url"]
        self.servers = {
            s["name"]: Server(
                s["name"], s["url"], s["owner_token"], s["machineIdentifier"], s["tokens"]
            )
            for s in info["servers"]
        }
        self.kinds = {s["name"]: s.get("kind", "plex") for s in info["servers"]}

    def token_for(self, user: str, server: str) -> str:
        return self.servers[server].tokens[user]

    def kind(self, server: str) -> str:
        """As `Cluster.kind` (the config needs it). This benchmark speaks Plex to each."""
        if self.kinds[server] != "plex":
            raise SystemExit(f"{server} is a {self.kinds[server]} server: Plex only here")
        return "plex"


def catalogue(server: Server) -> dict[Any, tuple[str, int]]:
    """(title) or (show, season, episode) -> (ratingKey, duration) on that server."""
    out: dict[Any, tuple[str, int]] = {}
    headers = {"X-Plex-Token": server.owner_token, "Accept": "application/json"}
    with httpx.Client(base_url=server.url, headers=headers) as http:
        sections = http.get("/library/sections").json()["MediaContainer"]["Directory"]
        for sec in sections:
            kind = 1 if sec["type"] == "movie" else 4
            rows = http.get(f"/library/sections/{sec['key']}/all", params={"type": kind})
            for m in rows.json()["MediaContainer"].get("Metadata", []):
                if kind == 1:
                    out[m["title"]] = (str(m["ratingKey"]), int(m["duration"]))
                else:
                    pos = (m["grandparentTitle"], int(m["parentIndex"]), int(m["index"]))
                    out[pos] = (str(m["ratingKey"]), int(m["duration"]))
    return out


class StateReader:
    """Reads a user's resume point over HTTP, with keep-alive."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.url, headers={"Accept": "application/json"})

    def offset(self, user: str, rating_key: str) -> int:
        r = self.http.get(
            f"/library/metadata/{rating_key}",
            headers={"X-Plex-Token": self.server.tokens[user]},
        )
        return int(r.json()["MediaContainer"]["Metadata"][0].get("viewOffset") or 0)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def cpu_seconds(proc: subprocess.Popen[bytes] | None) -> float:
    assert proc is not None
    fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--burst", type=int, default=600)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-manager-"))
    with emulator_process("demo") as info:
        emu = Emulator(info)
        with manager_and_proxies(emu, workdir) as (manager, proxies):  # type: ignore[arg-type]
            measure(args, emu, manager, proxies)


def measure(
    args: argparse.Namespace,
    emu: Emulator,
    manager: ManagerProcess,
    proxies: dict[str, MitmdumpProcess],
) -> None:
    cats = {name: catalogue(s) for name, s in emu.servers.items()}
    things = [*MOVIES, *EPISODES]
    pairs = [(u, t) for u in USERS for t in things]
    beta, gamma = StateReader(emu.servers["beta"]), StateReader(emu.servers["gamma"])
    clients = {u: PlexServer(proxies["alpha"].url, emu.token_for(u, "alpha")) for u in USERS}
    items = {(u, t): clients[u].fetchItem(int(cats["alpha"][t][0])) for u, t in pairs}

    def arrived(user: str, thing: Any, offset: int) -> bool:
        return (
            beta.offset(user, cats["beta"][thing][0]) == offset
            and gamma.offset(user, cats["gamma"][thing][0]) == offset
        )

    def near(user: str, thing: Any, offset: int) -> bool:
        return all(
            abs(reader.offset(user, cats[name][thing][0]) - offset) <= RESUME_TOLERANCE_MS
            for name, reader in (("beta", beta), ("gamma", gamma))
        )

    # warm-up: each user's token on each peer is fetched once
    for u in USERS:
        items[(u, things[0])].updateTimeline(70_000, "stopped", items[(u, things[0])].duration)
        wait_for(lambda u=u: arrived(u, things[0], 70_000), what="warm-up")

    latencies: list[float] = []
    for i in range(args.events):
        user, thing = pairs[i % len(pairs)]
        offset = 120_000 + i * 1000
        item = items[(user, thing)]
        started = time.perf_counter()
        item.updateTimeline(offset, "stopped", item.duration)
        while not arrived(user, thing, offset):
            if time.perf_counter() - started > 30:
                raise SystemExit(f"event {i} never arrived on beta and gamma")
            time.sleep(0.002)
        latencies.append((time.perf_counter() - started) * 1000)

    print(
        f"latency, client request at proxy alpha -> readable on beta and gamma "
        f"({len(latencies)} events):"
    )
    print(
        f"  p50 {pct(latencies, 50):.1f} ms  p90 {pct(latencies, 90):.1f} ms  "
        f"p99 {pct(latencies, 99):.1f} ms  max {max(latencies):.1f} ms  "
        f"mean {statistics.fmean(latencies):.1f} ms"
    )

    alpha = emu.servers["alpha"]
    before = manager.status()["events_handled"]
    events = []
    final: dict[tuple[str, Any], int] = {}
    for i in range(args.burst):
        user, thing = pairs[i % len(pairs)]
        key, duration = cats["alpha"][thing]
        final[(user, thing)] = 500_000 + i
        events.append(
            PlaybackEvent(
                kind="timeline",
                state="stopped",
                rating_key=key,
                token=emu.token_for(user, "alpha"),
                upstream_url=alpha.url,
                machine_identifier=alpha.machine_identifier,
                time_ms=500_000 + i,
                duration_ms=duration,
            ).to_dict()
        )
    cpu_before = cpu_seconds(manager.proc)
    started = time.perf_counter()
    for n in range(0, len(events), 50):
        manager.post(events[n : n + 50]).raise_for_status()
    posted = time.perf_counter() - started

    def done() -> bool:
        status = manager.status()
        return (
            status["events_handled"] - before >= len(events)
            and status["queue"]["writes"] == 0
            and status["queue"]["events_pending"] == 0
        )

    wait_for(done, timeout=300, what="burst processed")
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(manager.proc) - cpu_before
    # Positions within the tolerance are the same resume point: a peer holding one within
    # it is left alone (no write to a peer that already holds the state).
    wrong = [pair for pair, off in final.items() if not near(*pair, off)]
    status = manager.status()
    print(f"throughput: {len(events)} events accepted in {posted:.2f} s;")
    print(
        f"  processed and delivered in {elapsed:.2f} s = {len(events) / elapsed:.0f} events/s,"
        f" manager CPU {cpu:.2f} s ({cpu / len(events) * 1000:.1f} ms/event);"
        f" final state wrong for {len(wrong)} of {len(final)} (user, item) pairs"
    )
    print(
        f"  writes delivered {status['writes_delivered']}, dropped {status['writes_dropped']}"
        " (coalescing: several events per pair collapse into fewer writes)"
    )


if __name__ == "__main__":
    main()
