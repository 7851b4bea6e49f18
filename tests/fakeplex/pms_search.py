"""PMS search vocabulary: the filter parameters plexapi sends and the <Meta> block that
advertises them (includeMeta=1)."""

from __future__ import annotations

from typing import Any

from .items import TYPE_NUM, Section
from .render import element


def search_filters(q: dict[str, str]) -> dict[str, str]:
    """Filter parameters plexapi's search() sends, with their libtype prefix stripped
    ("episode.unwatched" -> "unwatched"). A date field's operator stays in the name: Plex
    writes "after" as `lastViewedAt>>=T`, which a query string parses as the name
    `lastViewedAt>>` and the value T (epoch seconds)."""
    known = {"unwatched", "unwatchedLeaves", "inProgress", "title", "year", "guid", "id"}
    known |= {"lastViewedAt>>", "lastViewedAt<<"}
    out = {}
    for k, v in q.items():
        field = k.rsplit(".", 1)[-1]
        if field in known:
            out[field] = v
    return out


_FIELD_TYPES = {
    "boolean": [("=", "is true")],
    "string": [("=", "contains"), ("!=", "does not contain"), ("==", "is"), ("!==", "is not")],
    "integer": [("=", "is"), ("!=", "is not"), (">>=", "is greater than"), ("<<=", "is less than")],
    "tag": [("=", "is"), ("!=", "is not")],
    "date": [(">>=", "is after"), ("<<=", "is before")],
}


def search_meta(sec: Section) -> tuple[str, dict[str, Any]]:
    """The <Meta> block plexapi reads (includeMeta=1) to validate search filters."""
    types: list[tuple[str, str, list[tuple[str, str, str]]]] = []
    base_fields = [
        ("title", "Title", "string"),
        ("unwatched", "Unplayed", "boolean"),
        ("inProgress", "In Progress", "boolean"),
        ("year", "Year", "integer"),
        ("lastViewedAt", "Last Played", "date"),
    ]
    if sec.type == "movie":
        types.append(("movie", "Movies", base_fields))
    else:
        types.append(
            (
                "show",
                "TV Shows",
                [
                    ("show.title", "Show Title", "string"),
                    ("show.unwatchedLeaves", "Unplayed", "boolean"),
                    ("show.inProgress", "In Progress", "boolean"),
                    ("show.year", "Year", "integer"),
                ],
            )
        )
        types.append(
            (
                "season",
                "Seasons",
                [
                    ("season.title", "Season Title", "string"),
                    ("season.unwatched", "Unplayed", "boolean"),
                ],
            )
        )
        types.append(("episode", "Episodes", [(f"episode.{k}", t, ft) for k, t, ft in base_fields]))
    xml_types = []
    js_types = []
    for tname, title, fields in types:
        key = f"/library/sections/{sec.id}/all?type={TYPE_NUM[tname]}"
        fattrs = [{"key": k, "title": t, "type": ft} for k, t, ft in fields]
        tattrs = {"key": key, "type": tname, "title": title, "active": 0}
        xml_types.append(element("Type", tattrs, "".join(element("Field", f) for f in fattrs)))
        js_types.append({**tattrs, "Field": fattrs})
    xml_ft = []
    js_ft = []
    for ftype, ops in _FIELD_TYPES.items():
        oattrs = [{"key": k, "title": t} for k, t in ops]
        xml_ft.append(
            element("FieldType", {"type": ftype}, "".join(element("Operator", o) for o in oattrs))
        )
        js_ft.append({"type": ftype, "Operator": oattrs})
    xml = element("Meta", {}, "".join(xml_types) + "".join(xml_ft))
    return xml, {"Type": js_types, "FieldType": js_ft}
