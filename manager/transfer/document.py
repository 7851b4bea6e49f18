"""The export file: `"format": "plex-cluster-state"`, `"version": 1` (docs/export-format.md).

Built and read here only, so the format has one definition. Reading is strict about what
it relies on (the header, each item's kind, ids and state) and ignores keys it does not
know, so a later minor addition does not break an older reader.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from manager.servers.identity import is_external
from manager.servers.models import EPISODE, MOVIE

FORMAT = "plex-cluster-state"
VERSION = 1


class DocumentError(ValueError):
    """Not an export file this version reads; the message says where."""


@dataclass(frozen=True, slots=True)
class ItemState:
    """One user's state of one item, with everything needed to find the item elsewhere."""

    kind: str  # movie | episode
    title: str
    ids: tuple[str, ...]  # the item's own: a kind's guid (plex://…) and imdb/tmdb/tvdb ids
    watched: bool
    resume_ms: int | None = None
    as_of: float | None = None  # when that state came about (epoch s), if anyone knows
    source: str | None = None  # the server whose state it is, or "ledger"
    duration_ms: int | None = None
    show_title: str | None = None
    show_ids: tuple[str, ...] = ()
    season: int | None = None
    episode: int | None = None
    unwatched_proven: bool = False  # the ledger saw it made unwatched (and nothing since)

    @property
    def guid(self) -> str | None:
        return next((i for i in self.ids if not is_external(i)), None)

    @property
    def external_ids(self) -> tuple[str, ...]:
        return tuple(i for i in self.ids if is_external(i))

    @property
    def identity(self) -> tuple[Any, ...]:
        """The same item for every user of a file."""
        return (self.kind, self.ids, self.show_ids, self.season, self.episode)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "title": self.title, "ids": list(self.ids)}
        if self.kind == EPISODE:
            out["show"] = {"title": self.show_title, "ids": list(self.show_ids)}
            out["season"], out["episode"] = self.season, self.episode
        out["duration_ms"] = self.duration_ms
        out["watched"] = self.watched
        out["resume_ms"] = self.resume_ms
        if self.unwatched_proven:
            out["unwatched_proven"] = True
        out["as_of"] = self.as_of
        out["source"] = self.source
        return out


@dataclass(slots=True)
class UserStates:
    id: str  # the cluster's id of the person (Plex: the plex.tv account id)
    name: str
    items: list[ItemState] = field(default_factory=list)


@dataclass(slots=True)
class Document:
    servers: list[str]  # the servers read
    users: list[UserStates]
    exported_at: float = field(default_factory=time.time)

    def to_json(self) -> str:
        stamp = datetime.fromtimestamp(self.exported_at, UTC).isoformat(timespec="seconds")
        body = {
            "format": FORMAT,
            "version": VERSION,
            "exported_at": stamp.replace("+00:00", "Z"),
            "servers": self.servers,
            "users": [
                {"id": u.id, "name": u.name, "items": [i.to_dict() for i in u.items]}
                for u in self.users
            ],
        }
        return json.dumps(body, indent=1, ensure_ascii=False)


def _need(cond: bool, where: str, what: str) -> None:
    if not cond:
        raise DocumentError(f"{where}: {what}")


def _opt_int(value: Any, where: str) -> int | None:
    _need(value is None or (isinstance(value, int) and not isinstance(value, bool)), where,
          "must be a whole number or null")  # fmt: skip
    return value if value is None else int(value)


def _ids(value: Any, where: str) -> tuple[str, ...]:
    _need(isinstance(value, list) and all(isinstance(v, str) and "://" in v for v in value),
          where, "must be a list of ids like imdb://tt0133093")  # fmt: skip
    return tuple(sorted(set(value)))


def _item(raw: Any, where: str) -> ItemState:
    _need(isinstance(raw, dict), where, "must be an object")
    kind = raw.get("kind")
    _need(kind in (MOVIE, EPISODE), f"{where}.kind", "must be movie or episode")
    show = raw.get("show") or {}
    _need(isinstance(show, dict), f"{where}.show", "must be an object")
    _need(isinstance(raw.get("watched"), bool), f"{where}.watched", "must be true or false")
    as_of = raw.get("as_of")
    _need(as_of is None or (isinstance(as_of, int | float) and not isinstance(as_of, bool)),
          f"{where}.as_of", "must be epoch seconds or null")  # fmt: skip
    return ItemState(
        kind=kind,
        title=str(raw.get("title") or "?"),
        ids=_ids(raw.get("ids", []), f"{where}.ids"),
        watched=raw["watched"],
        resume_ms=_opt_int(raw.get("resume_ms"), f"{where}.resume_ms"),
        as_of=float(as_of) if as_of is not None else None,
        source=str(raw["source"]) if raw.get("source") is not None else None,
        duration_ms=_opt_int(raw.get("duration_ms"), f"{where}.duration_ms"),
        show_title=str(show["title"]) if show.get("title") is not None else None,
        show_ids=_ids(show.get("ids", []), f"{where}.show.ids"),
        season=_opt_int(raw.get("season"), f"{where}.season"),
        episode=_opt_int(raw.get("episode"), f"{where}.episode"),
        unwatched_proven=raw.get("unwatched_proven") is True,
    )


def parse(text: str) -> Document:
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise DocumentError(f"not JSON: {exc}") from None
    _need(isinstance(raw, dict), "file", "must be a JSON object")
    _need(raw.get("format") == FORMAT, "format", f"must be {FORMAT!r}")
    _need(raw.get("version") == VERSION, "version", f"this manager reads version {VERSION}")
    users = raw.get("users")
    _need(isinstance(users, list), "users", "must be a list")
    out: list[UserStates] = []
    for n, u in enumerate(users):
        where = f"users[{n}]"
        _need(isinstance(u, dict) and isinstance(u.get("id"), str) and
              isinstance(u.get("name"), str), where, "needs an id and a name")  # fmt: skip
        items = u.get("items")
        _need(isinstance(items, list), f"{where}.items", "must be a list")
        out.append(
            UserStates(u["id"], u["name"], [_item(i, f"{where}.items[{k}]")
                                            for k, i in enumerate(items)])
        )  # fmt: skip
    servers = raw.get("servers")
    return Document(
        servers=[str(s) for s in servers] if isinstance(servers, list) else [], users=out
    )
