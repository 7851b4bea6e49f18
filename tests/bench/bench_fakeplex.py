"""Benchmark: the emulator with a big library (start-up time, page latency, full paging).

    .venv/bin/python -m tests.bench.bench_fakeplex [--movies 50000] [--shows 500]

Prints numbers only; nothing is asserted (timings on a shared machine are not test material).
"""

from __future__ import annotations

import argparse
import statistics
import time

import httpx

from tests.fakeplex import start_cluster
from tests.fakeplex.generate import big_fixture


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--movies", type=int, default=50_000)
    ap.add_argument("--shows", type=int, default=500)
    ap.add_argument("--servers", type=int, default=3)
    ap.add_argument("--page", type=int, default=1000)
    args = ap.parse_args()

    t0 = time.perf_counter()
    fixture = big_fixture(
        servers=args.servers,
        movies=args.movies,
        shows=args.shows,
        seasons=2,
        episodes=10,
        users=5,
        diverge=0.1,
        seed=1,
    )
    t1 = time.perf_counter()
    cluster = start_cluster(fixture)
    t2 = time.perf_counter()
    items = sum(len(s.library.items) for s in cluster.servers.values())
    print(f"generate fixture            {_ms(t1 - t0)}")
    print(f"start cluster ({items} items) {_ms(t2 - t1)}")
    try:
        srv = cluster.servers["s1"]
        with httpx.Client(base_url=srv.url, headers={"X-Plex-Token": srv.owner_token}) as c:
            for label, accept in (("XML ", "application/xml"), ("JSON", "application/json")):
                for guids in (0, 1):
                    times = []
                    for start in range(0, 20 * args.page, args.page):
                        q = time.perf_counter()
                        r = c.get(
                            "/library/sections/1/all",
                            params={"includeGuids": guids},
                            headers={
                                "Accept": accept,
                                "X-Plex-Container-Start": str(start),
                                "X-Plex-Container-Size": str(args.page),
                            },
                        )
                        r.raise_for_status()
                        times.append(time.perf_counter() - q)
                    print(
                        f"page of {args.page} {label} includeGuids={guids}  "
                        f"median {_ms(statistics.median(times))}  max {_ms(max(times))}"
                    )
            q = time.perf_counter()
            start = 0
            while True:
                r = c.get(
                    "/library/sections/1/all",
                    params={
                        "includeGuids": 1,
                        "X-Plex-Container-Start": start,
                        "X-Plex-Container-Size": args.page,
                    },
                    headers={"Accept": "application/json"},
                )
                mc = r.json()["MediaContainer"]
                start += args.page
                if start >= mc["totalSize"]:
                    break
            print(f"all {mc['totalSize']} movies, JSON pages  {_ms(time.perf_counter() - q)}")
            q = time.perf_counter()
            c.get(
                "/library/sections/2/all",
                params={"type": 4, "unwatched": 1},
                headers={"X-Plex-Container-Start": "0", "X-Plex-Container-Size": "1000"},
            )
            print(f"episodes unwatched=1 page   {_ms(time.perf_counter() - q)}")
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
