"""What a library holds: the Item and Section records, with their pre-rendered fragments.

Static parts of every item (attributes, <Guid> and <Media> children) are rendered once, on
first use, so a 1000-item page of a 50 000-item library only concatenates strings; the
per-user attributes (viewCount, viewOffset, lastViewedAt, viewedLeafCount) are added per
request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .xmltext import esc, xml_attrs

BASE_TIME = 1_700_000_000  # addedAt of the first item; deterministic fixtures
TYPE_NUM = {"movie": 1, "show": 2, "season": 3, "episode": 4}
NUM_TYPE = {v: k for k, v in TYPE_NUM.items()}
LEAF_TYPES = ("movie", "episode")


@dataclass(eq=False)
class Item:
    rating_key: str
    type: str
    title: str
    sort_key: tuple[Any, ...]
    section: Section
    guid: str
    guids: list[str]
    catalog_key: str
    duration: int | None
    parent: Item | None = None
    children: list[Item] = field(default_factory=list)
    leaves: list[Item] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)
    media_json: list[dict[str, Any]] = field(default_factory=list)
    _xml: tuple[str, str, str] | None = None

    @property
    def tag(self) -> str:
        return "Video" if self.type in LEAF_TYPES else "Directory"

    @property
    def is_leaf(self) -> bool:
        return self.type in LEAF_TYPES

    def finalize(self) -> None:
        """Forget the rendered XML after attrs changed; it is rebuilt on next use."""
        self._xml = None

    def xml_parts(self) -> tuple[str, str, str]:
        """(opening tag without ">", <Media> children, <Guid> children), rendered once, lazily
        (a 50 000-item library starts fast; a benign race at worst renders twice)."""
        parts = self._xml
        if parts is None:
            media = "".join(
                f"<Media{xml_attrs({k: v for k, v in m.items() if k != 'Part'})}>"
                + "".join(f"<Part{xml_attrs(p)}/>" for p in m.get("Part", []))
                + "</Media>"
                for m in self.media_json
            )
            guids = "".join(f'<Guid id="{esc(g)}"/>' for g in self.guids)
            parts = self._xml = (f"<{self.tag}{xml_attrs(self.attrs)}", media, guids)
        return parts


@dataclass(eq=False)
class Section:
    id: int
    title: str
    type: str  # movie | show
    agent: str
    uuid: str
    legacy: bool
    by_type: dict[str, list[Item]] = field(default_factory=dict)

    @property
    def scanner(self) -> str:
        if self.type == "movie":
            return "Plex Movie Scanner" if self.legacy else "Plex Movie"
        return "Plex Series Scanner" if self.legacy else "Plex TV Series"

    def attrs(self) -> dict[str, Any]:
        return {
            "allowSync": 1,
            "art": f"/:/resources/{self.type}-fanart.jpg",
            "composite": f"/library/sections/{self.id}/composite/{BASE_TIME}",
            "filters": 1,
            "refreshing": 0,
            "thumb": f"/:/resources/{self.type}.png",
            "key": str(self.id),
            "type": self.type,
            "title": self.title,
            "agent": self.agent,
            "scanner": self.scanner,
            "language": "en-US",
            "uuid": self.uuid,
            "updatedAt": BASE_TIME,
            "createdAt": BASE_TIME,
            "scannedAt": BASE_TIME,
            "content": 1,
            "directory": 1,
            "contentChangedAt": 1,
            "hidden": 0,
        }

    def location(self) -> dict[str, Any]:
        return {"id": self.id, "path": f"/data/{self.title.lower().replace(' ', '-')}"}

    def default_type(self) -> str:
        return "movie" if self.type == "movie" else "show"
