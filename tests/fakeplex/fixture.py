"""Fixture loading: YAML file, fixture name or dict -> normalised, validated spec.

The spec keeps the catalogue (what exists in the world, with its external ids) apart from the
servers (which catalogue entries each server holds, in which section, under which agent), so
the same title shares external ids everywhere while every server allocates its own ratingKeys.
"""

from __future__ import annotations

import gc
import hashlib
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

FIXTURE_DIR = Path(__file__).parent / "fixtures"

NEW_MOVIE_AGENT = "tv.plex.agents.movie"
NEW_SHOW_AGENT = "tv.plex.agents.series"
LEGACY_MOVIE_AGENTS = {"com.plexapp.agents.imdb", "com.plexapp.agents.themoviedb"}
LEGACY_SHOW_AGENTS = {"com.plexapp.agents.thetvdb", "com.plexapp.agents.themoviedb"}

_ALNUM = string.ascii_letters + string.digits
KINDS = ("plex", "jellyfin", "emby")


class FixtureError(ValueError):
    """The fixture is malformed."""


def digest(*parts: object) -> bytes:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()


def hex_id(n: int, *parts: object) -> str:
    return digest(*parts).hex()[:n]


def int_id(lo: int, hi: int, *parts: object) -> int:
    return lo + int.from_bytes(digest(*parts)[:8], "big") % (hi - lo)


def token_id(*parts: object) -> str:
    """A 20-character alphanumeric string, the shape of a real Plex token."""
    raw = digest("token", *parts)
    return "".join(_ALNUM[b % len(_ALNUM)] for b in raw[:20])


@dataclass
class AccountSpec:
    name: str
    id: int
    uuid: str
    email: str
    token: str
    managed: bool = False
    home: str | None = None  # owner whose Plex Home a managed user belongs to
    pin: str | None = None


@dataclass
class EpisodeSpec:
    key: str  # catalogue key, "<show>/s01e02"
    season: int
    index: int
    title: str
    duration: int
    plex: str
    imdb: str | None
    tmdb: int | None
    tvdb: int | None


@dataclass
class ShowSpec:
    key: str
    title: str
    year: int | None
    plex: str
    season_plex: dict[int, str]
    imdb: str | None
    tmdb: int | None
    tvdb: int
    episodes: list[EpisodeSpec]


@dataclass
class MovieSpec:
    key: str
    title: str
    year: int | None
    duration: int
    plex: str
    imdb: str | None
    tmdb: int | None


@dataclass
class SectionItemRef:
    key: str
    seasons: list[int] | None = None  # restrict a show to some seasons on this server
    match: str | None = None  # None: the section's agent; "new", "legacy", or "none" (local://)


@dataclass
class SectionSpec:
    id: int
    title: str
    type: str  # movie | show
    agent: str
    items: list[SectionItemRef]


@dataclass
class ServerSpec:
    name: str
    friendly_name: str
    machine_identifier: str
    owner: str
    users: dict[str, list[int] | None]  # account -> section ids (None = all)
    sections: list[SectionSpec]
    first_rating_key: int
    user_tokens: dict[str, str]  # per-server token: Plex every non-owner, Jellyfin/Emby all
    state: dict[str, dict[str, dict[str, int]]]  # user -> catalogue key -> state fields
    version: str = "1.41.3.9314-a0bfb8370"
    # Jellyfin/Emby servers (tests/fakejelly) read the fields below; Plex servers ignore them.
    kind: str = "plex"  # plex | jellyfin | emby
    api_key: str = ""  # the admin API key (acts as no user, with admin rights)
    display_names: dict[str, str] = field(default_factory=dict)  # account -> local user name
    passwords: dict[str, str] = field(default_factory=dict)  # account -> password
    # Webhooks: {url, and per kind: body, content_type, template}; None = none sent.
    webhook: dict[str, Any] | None = None


@dataclass
class ClusterSpec:
    name: str
    seed: str
    accounts: dict[str, AccountSpec]
    movies: dict[str, MovieSpec]
    shows: dict[str, ShowSpec]
    servers: dict[str, ServerSpec]
    played_threshold: float = 0.9
    extra: dict[str, Any] = field(default_factory=dict)


def load(source: str | Path | dict[str, Any]) -> ClusterSpec:
    """Accept a fixture name ("demo"), a path to a YAML file, or an already-parsed dict."""
    if isinstance(source, dict):
        return parse(source, name=str(source.get("name", "custom")))
    path = Path(source)
    if not path.suffix:
        path = FIXTURE_DIR / f"{source}.yaml"
    if not path.is_file():
        raise FixtureError(f"no fixture {source!r} (looked for {path})")
    with path.open() as fh:
        data = yaml.safe_load(fh)
    return parse(data, name=str(data.get("name", path.stem)))


def _req(d: dict[str, Any], key: str, where: str) -> Any:
    if key not in d:
        raise FixtureError(f"{where}: missing {key!r}")
    return d[key]


def parse(data: dict[str, Any], *, name: str) -> ClusterSpec:
    gc_was_enabled = gc.isenabled()
    gc.disable()  # big fixtures: cyclic GC passes would dominate
    try:
        return _parse(data, name=name)
    finally:
        if gc_was_enabled:
            gc.enable()


def _parse(data: dict[str, Any], *, name: str) -> ClusterSpec:
    seed = str(data.get("seed", name))
    accounts = _parse_accounts(data.get("accounts") or {}, seed)
    movies = {k: _parse_movie(k, v or {}, seed) for k, v in (data.get("movies") or {}).items()}
    shows = {k: _parse_show(k, v or {}, seed) for k, v in (data.get("shows") or {}).items()}
    servers: dict[str, ServerSpec] = {}
    for idx, (sname, sdata) in enumerate((data.get("servers") or {}).items()):
        servers[sname] = _parse_server(sname, sdata or {}, idx, seed, accounts, movies, shows)
    if not servers:
        raise FixtureError("fixture defines no servers")
    return ClusterSpec(
        name=name,
        seed=seed,
        accounts=accounts,
        movies=movies,
        shows=shows,
        servers=servers,
        played_threshold=float(data.get("played_threshold", 0.9)),
    )


def _parse_accounts(raw: dict[str, Any], seed: str) -> dict[str, AccountSpec]:
    out: dict[str, AccountSpec] = {}
    for idx, (name, a) in enumerate(raw.items()):
        a = a or {}
        managed = bool(a.get("managed", False))
        out[name] = AccountSpec(
            name=name,
            id=int(a.get("id", 1_000_000 + int_id(0, 9_000_000, seed, "acct", name) + idx)),
            uuid=str(a.get("uuid", hex_id(16, seed, "uuid", name))),
            email="" if managed else str(a.get("email", f"{name}@example.com")),
            token=str(a.get("token", token_id(seed, "account", name))),
            managed=managed,
            home=a.get("home"),
            pin=None if a.get("pin") is None else str(a.get("pin")),
        )
    for acc in out.values():
        if acc.managed and (acc.home is None or acc.home not in out):
            raise FixtureError(f"managed account {acc.name!r} needs home: <owner account>")
    return out


def _opt_int(v: Any) -> int | None:
    return None if v is None else int(v)


def _parse_movie(key: str, m: dict[str, Any], seed: str) -> MovieSpec:
    return MovieSpec(
        key=key,
        title=str(m.get("title", key)),
        year=_opt_int(m.get("year")),
        duration=int(m.get("duration", 6_000_000)),
        plex=str(m.get("plex", hex_id(24, "movie", key))),
        imdb=m.get("imdb", f"tt{int_id(1_000_000, 9_999_999, 'imdb', key)}"),
        tmdb=_opt_int(m.get("tmdb", int_id(1000, 999_999, "tmdb", key))),
    )


def _parse_show(key: str, s: dict[str, Any], seed: str) -> ShowSpec:
    tvdb = int(s.get("tvdb", int_id(70_000, 450_000, "tvdb", key)))
    ep_duration = int(s.get("episode_duration", 1_800_000))
    overrides: dict[str, dict[str, Any]] = s.get("episodes") or {}
    seasons = s.get("seasons") or {1: 3}
    episodes: list[EpisodeSpec] = []
    season_plex: dict[int, str] = {}
    for snum, count in sorted((int(k), int(v)) for k, v in seasons.items()):
        season_plex[snum] = hex_id(24, "season", key, snum)
        for e in range(1, count + 1):
            code = f"s{snum:02d}e{e:02d}"
            o = overrides.get(code) or {}
            ekey = f"{key}/{code}"
            episodes.append(
                EpisodeSpec(
                    key=ekey,
                    season=snum,
                    index=e,
                    title=str(o.get("title", f"Episode {e}")),
                    duration=int(o.get("duration", ep_duration)),
                    plex=str(o.get("plex", hex_id(24, "episode", ekey))),
                    imdb=o.get("imdb", f"tt{int_id(1_000_000, 9_999_999, 'imdb', ekey)}"),
                    tmdb=_opt_int(o.get("tmdb", int_id(100_000, 4_000_000, "tmdb", ekey))),
                    tvdb=_opt_int(o.get("tvdb", int_id(100_000, 9_000_000, "tvdb", ekey))),
                )
            )
    return ShowSpec(
        key=key,
        title=str(s.get("title", key)),
        year=_opt_int(s.get("year")),
        plex=str(s.get("plex", hex_id(24, "show", key))),
        season_plex=season_plex,
        imdb=s.get("imdb"),
        tmdb=_opt_int(s.get("tmdb")),
        tvdb=tvdb,
        episodes=episodes,
    )


def _parse_server(
    name: str,
    s: dict[str, Any],
    idx: int,
    seed: str,
    accounts: dict[str, AccountSpec],
    movies: dict[str, MovieSpec],
    shows: dict[str, ShowSpec],
) -> ServerSpec:
    where = f"server {name!r}"
    owner = str(_req(s, "owner", where))
    if owner not in accounts or accounts[owner].managed:
        raise FixtureError(f"{where}: owner {owner!r} is not a (non-managed) account")
    raw_users = s.get("users") or {}
    if isinstance(raw_users, list):
        raw_users = {u: "all" for u in raw_users}
    users: dict[str, list[int] | None] = {}
    for uname, access in raw_users.items():
        if uname not in accounts:
            raise FixtureError(f"{where}: unknown user {uname!r}")
        acc = accounts[uname]
        if acc.managed and acc.home != owner:
            raise FixtureError(f"{where}: managed user {uname!r} is not in {owner!r}'s home")
        users[uname] = None if access in (None, "all") else [int(x) for x in access]
    sections: list[SectionSpec] = []
    for sec in _req(s, "sections", where):
        stype = str(_req(sec, "type", where))
        if stype not in ("movie", "show"):
            raise FixtureError(f"{where}: section type must be movie or show, not {stype!r}")
        default_agent = NEW_MOVIE_AGENT if stype == "movie" else NEW_SHOW_AGENT
        refs: list[SectionItemRef] = []
        for ref in sec.get("items") or []:
            r = (
                SectionItemRef(key=ref)
                if isinstance(ref, str)
                else SectionItemRef(
                    key=str(ref["key"]), seasons=ref.get("seasons"), match=ref.get("match")
                )
            )
            if r.match not in (None, "new", "legacy", "none"):
                raise FixtureError(f"{where}: {r.key}: match must be new, legacy or none")
            pool = movies if stype == "movie" else shows
            if r.key not in pool:
                raise FixtureError(f"{where}: section {sec.get('title')!r}: unknown {r.key!r}")
            refs.append(r)
        sections.append(
            SectionSpec(
                id=int(_req(sec, "id", where)),
                title=str(_req(sec, "title", where)),
                type=stype,
                agent=str(sec.get("agent", default_agent)),
                items=refs,
            )
        )
    kind = str(s.get("kind", "plex"))
    if kind not in KINDS:
        raise FixtureError(f"{where}: kind must be one of {', '.join(KINDS)}, not {kind!r}")
    members = [owner, *users]
    fixed = s.get("tokens") or {}
    if kind == "plex":
        user_tokens = {u: str(fixed.get(u, token_id(seed, "server", name, u))) for u in users}
    else:
        # Jellyfin/Emby: every local user, the admin too, logs in for a 32-hex access token.
        user_tokens = {u: str(fixed.get(u, hex_id(32, seed, "token", name, u))) for u in members}
    names = {str(k): str(v) for k, v in (s.get("names") or {}).items()}
    passwords = {str(k): str(v) for k, v in (s.get("passwords") or {}).items()}
    for key in (*names, *passwords):
        if key not in members:
            raise FixtureError(f"{where}: names/passwords: {key!r} has no access to this server")
    return ServerSpec(
        name=name,
        friendly_name=str(s.get("friendly_name", name.capitalize())),
        machine_identifier=str(s.get("machine_identifier", hex_id(40, seed, "machine", name))),
        owner=owner,
        users=users,
        sections=sections,
        first_rating_key=int(s.get("first_rating_key", 100 + 1000 * idx)),
        user_tokens=user_tokens,
        state=s.get("state") or {},
        kind=kind,
        # 32 hex, the shape of the keys Jellyfin's and Emby's dashboards hand out.
        api_key=str(s.get("api_key", hex_id(32, seed, "api_key", name))),
        display_names={u: names.get(u, u) for u in members},
        passwords={u: passwords.get(u, f"{u}-password") for u in members},
        webhook=_webhook(s.get("webhook"), where),
    )


def _webhook(raw: Any, where: str) -> dict[str, Any] | None:
    """`webhook: URL` or `webhook: {url: URL, body: ..., content_type: ...}`."""
    if raw is None:
        return None
    hook = {"url": raw} if isinstance(raw, str) else dict(raw)
    if not isinstance(hook.get("url"), str):
        raise FixtureError(f"{where}: webhook needs a url")
    return hook
