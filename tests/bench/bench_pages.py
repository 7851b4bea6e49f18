"""Benchmark: reading one Plex listing page of 1 000 movies, by each of our readers.

    .venv/bin/python -m tests.bench.bench_pages [--movies 3000 --repeat 100 --rounds 3]

The emulator serves a user's page (the state pass: no <Guid>s) and the owner's page (the
catalogue: with them), JSON as the manager asks for it. Each page is then read, in this
process, the ways the manager can read it, and by the floor (orjson alone: decoded, not
looked at):

- a user's page through `servers/plex/state_page.py` (what a full sync does) and through
  the general path it falls back to (`parse.decode` + `parse.states`);
- the owner's page through `servers/plex/catalogue_page.py` (what a full sync does) and
  through the general path (`parse.decode` + `parse.items`).

CPU time per page, the variants taking turns in each round; then the ratios of the
medians, ours against the general path and against the floor.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson

from manager.servers.plex import parse
from manager.servers.plex.catalogue_page import read_items
from manager.servers.plex.state_page import read_states
from tests.bench.sync_fixture import main as write_fixture
from tests.support.processes import emulator_process


def _page(entry: dict[str, Any], token: str, params: dict[str, str]) -> bytes:
    response = httpx.get(
        f"{entry['url']}/library/sections/1/all",
        params={"type": "1", **params},
        headers={
            "X-Plex-Token": token,
            "Accept": "application/json",
            "X-Plex-Container-Start": "0",
            "X-Plex-Container-Size": "1000",
        },
    )
    response.raise_for_status()
    return response.content


def _per_page(read: Callable[[], object], repeat: int) -> float:
    read()  # warm
    started = time.process_time()
    for _ in range(repeat):
        read()
    return (time.process_time() - started) / repeat


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--movies", type=int, default=3000)
    ap.add_argument("--repeat", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fixture = Path(tmp) / "fixture.yaml"
        write_fixture([str(fixture), "--movies", str(args.movies), "--shows", "2"])
        with emulator_process(fixture) as described:
            entry = described["servers"][0]
            user = sorted(t for u, t in (entry.get("tokens") or {}).items() if u != "admin")[0]
            users_page = _page(entry, user, {})
            owners_page = _page(entry, entry["owner_token"], {"includeGuids": "1"})
    assert read_states(users_page) is not None, "the state pass's page left the fast path"
    assert read_items(owners_page) is not None, "the catalogue's page left the fast path"
    variants: dict[str, Callable[[], object]] = {
        "user's page: state_page (ours)": lambda: read_states(users_page),
        "user's page: general path": lambda: parse.states(parse.decode(users_page)),
        "user's page: floor (orjson)": lambda: orjson.loads(users_page),
        "owner's page: catalogue_page (ours)": lambda: read_items(owners_page),
        "owner's page: general path": lambda: parse.items(parse.decode(owners_page)),
        "owner's page: floor (orjson)": lambda: orjson.loads(owners_page),
    }
    sizes = f"{len(users_page) / 1e6:.2f} and {len(owners_page) / 1e6:.2f} MB"
    print(f"a user's page and the owner's: {sizes}")
    results: dict[str, list[float]] = {name: [] for name in variants}
    for n in range(args.rounds):
        for name, read in variants.items():
            per = _per_page(read, args.repeat)
            results[name].append(per)
            print(f"round {n + 1}: {name:36} {per * 1e3:.2f} ms CPU a page")
    m = [statistics.median(results[name]) for name in variants]
    print(
        f"medians: user's page {m[0] * 1e3:.2f} ms (general path {m[1] * 1e3:.2f}, floor "
        f"{m[2] * 1e3:.2f}): {m[0] / m[1]:.2f}x the general path, {m[0] / m[2]:.2f}x the "
        f"floor; owner's page {m[3] * 1e3:.2f} ms (general path {m[4] * 1e3:.2f}, floor "
        f"{m[5] * 1e3:.2f}): {m[3] / m[4]:.2f}x the general path, {m[3] / m[5]:.2f}x the floor"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
