"""Big synthetic fixtures for benchmarks: tens of thousands of items in a few seconds."""

from __future__ import annotations

import argparse
import random
from typing import Any


def big_fixture(
    servers: int = 3,
    movies: int = 50_000,
    shows: int = 0,
    seasons: int = 2,
    episodes: int = 10,
    users: int = 5,
    diverge: float = 0.1,
    seed: int = 1,
    kinds: tuple[str, ...] = (),
) -> dict[str, Any]:
    """A fixture dict for start_cluster().

    Owner "admin" owns servers s1..sN, each with a "Movies" (id 1) and "TV Shows" (id 2)
    section; shared users user1..userK may use every server. `diverge` is both the share of
    the catalogue each server lacks and the share of items each user has some watch state
    for on each server (chosen independently per server, so the servers disagree).
    """
    rng = random.Random(seed)
    accounts: dict[str, Any] = {"admin": {"id": 1001, "email": "admin@example.com"}}
    user_names = [f"user{i}" for i in range(1, users + 1)]
    for i, u in enumerate(user_names):
        accounts[u] = {"id": 5000 + i, "email": f"{u}@example.com"}
    movie_keys = [f"m{i:06d}" for i in range(movies)]
    show_keys = [f"s{i:05d}" for i in range(shows)]
    cat_movies = {
        k: {
            "title": f"Movie {i:06d}",
            "year": 1950 + i % 75,
            "duration": 5_400_000 + (i % 60) * 60_000,
        }
        for i, k in enumerate(movie_keys)
    }
    cat_shows = {
        k: {
            "title": f"Show {i:05d}",
            "year": 1990 + i % 35,
            "seasons": {s: episodes for s in range(1, seasons + 1)},
        }
        for i, k in enumerate(show_keys)
    }
    srv: dict[str, Any] = {}
    for n in range(1, servers + 1):
        keep_m = [k for k in movie_keys if rng.random() >= diverge]
        keep_s = [k for k in show_keys if rng.random() >= diverge]
        state: dict[str, dict[str, dict[str, int]]] = {}
        leaf_keys = keep_m + [
            f"{k}/s{s:02d}e{e:02d}"
            for k in keep_s
            for s in range(1, seasons + 1)
            for e in range(1, episodes + 1)
        ]
        for u in ["admin", *user_names]:
            picks = rng.sample(leaf_keys, int(len(leaf_keys) * diverge)) if leaf_keys else []
            entries: dict[str, dict[str, int]] = {}
            for key in picks:
                when = 1_700_000_000 + rng.randrange(10**7)
                if rng.random() < 0.7:
                    entries[key] = {"view_count": 1, "last_viewed_at": when}
                else:
                    offset = rng.randrange(60_000, 1_200_000)
                    entries[key] = {"view_offset": offset, "last_viewed_at": when}
            state[u] = entries
        srv[f"s{n}"] = {
            "kind": kinds[n - 1] if n <= len(kinds) else "plex",
            "friendly_name": f"Server {n}",
            "owner": "admin",
            "users": list(user_names),
            "first_rating_key": 1 + n * 1_000_000,
            "sections": [
                {"id": 1, "title": "Movies", "type": "movie", "items": keep_m},
                {"id": 2, "title": "TV Shows", "type": "show", "items": keep_s},
            ],
            "state": state,
        }
    return {
        "name": f"big-{movies}-{shows}",
        "seed": f"big{seed}",
        "accounts": accounts,
        "movies": cat_movies,
        "shows": cat_shows,
        "servers": srv,
    }


def add_size_arguments(parser: argparse.ArgumentParser) -> None:
    """The library-size flags the benchmarks share (defaults: ~20 000 items per server)."""
    parser.add_argument("--movies", type=int, default=10_000)
    parser.add_argument("--shows", type=int, default=100)
    parser.add_argument("--seasons", type=int, default=2)
    parser.add_argument("--episodes", type=int, default=50)


def sizes_from(args: argparse.Namespace) -> dict[str, int]:
    """`big_fixture` keyword arguments from flags made by `add_size_arguments`."""
    return {
        "movies": args.movies,
        "shows": args.shows,
        "seasons": args.seasons,
        "episodes": args.episodes,
    }
