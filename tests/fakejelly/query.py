"""The item query both servers answer on /Items and /Users/{id}/Items: filter, sort, page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .base import Ctx, JError, csv, parse_bool, parse_int
from .library import JItem
from .render import DATE_CREATED_EPOCH
from .userdata import UserData, parse_date

ITEM_TYPES = {"movie": "Movie", "series": "Series", "season": "Season", "episode": "Episode"}


def _sort_key(
    name: str, data_of: Callable[[JItem], UserData] | None
) -> Callable[[JItem], Any] | None:
    n = name.lower()
    if n in ("sortname", "name"):
        return lambda i: i.sort_name
    if n == "dateplayed":
        return lambda i: (data_of(i).last_played or 0.0) if data_of else 0.0
    if n in ("productionyear", "premieredate"):
        return lambda i: i.year or 0
    if n == "runtime":
        return lambda i: i.runtime_ticks or 0
    if n in ("datecreated", "random"):  # fixed world: every item was added at once
        return lambda i: i.id
    if n == "indexnumber":
        return lambda i: i.index or 0
    if n == "parentindexnumber":
        return lambda i: i.parent_index or 0
    if n == "playcount":
        return lambda i: data_of(i).play_count if data_of else 0
    return None  # unknown sort names are ignored by both servers


def select(
    ctx: Ctx,
    pool: list[JItem],
    data_of: Callable[[JItem], UserData] | None,
    *,
    leaves_in_order: bool = False,
) -> tuple[list[JItem], int, int]:
    """Apply the query to pool -> (page, total, start_index)."""
    types = {t.lower() for t in csv(ctx.q("IncludeItemTypes"))}
    excluded = {t.lower() for t in csv(ctx.q("ExcludeItemTypes"))}
    ids = set(csv(ctx.q("Ids")))
    filters = {f.lower() for f in csv(ctx.q("Filters"))}
    is_played = parse_bool(ctx.q("IsPlayed"), "IsPlayed")
    is_fav = parse_bool(ctx.q("IsFavorite"), "IsFavorite")
    search = (ctx.q("SearchTerm") or "").lower()
    min_saved = _date(ctx.q("MinDateLastSavedForUser"), "MinDateLastSavedForUser")
    min_item_saved = _date(ctx.q("MinDateLastSaved"), "MinDateLastSaved")
    provider = ctx.q("AnyProviderIdEquals")
    out: list[JItem] = []
    for item in pool:
        if types and item.type.lower() not in types:
            continue
        if item.type.lower() in excluded:
            continue
        if ids and item.id not in ids:
            continue
        if search and search not in item.name.lower():
            continue
        if provider and not _has_provider(item, provider):
            continue
        # Both compare the item's own last save (its metadata), not the user's data: so says
        # Jellyfin's source for MinDateLastSavedForUser too, whatever its name suggests. The
        # fixed world's items were all saved once, when "added".
        if min_item_saved is not None and min_item_saved > DATE_CREATED_EPOCH:
            continue
        if min_saved is not None and min_saved > DATE_CREATED_EPOCH:
            continue
        if data_of is not None:
            d = data_of(item)
            played = d.played if item.is_leaf else _all_played(item, data_of)
            if is_played is not None and played != is_played:
                continue
            if "isplayed" in filters and not played:
                continue
            if "isunplayed" in filters and played:
                continue
            if "isresumable" in filters and not d.position_ticks:
                continue
            if (is_fav or "isfavorite" in filters) and not d.is_favorite:
                continue
        out.append(item)
    sort_by = csv(ctx.q("SortBy"))
    if sort_by:
        orders = [o.lower() for o in csv(ctx.q("SortOrder"))]
        # Stable sorts from the last key to the first; a missing order repeats the first one.
        out.sort(key=lambda i: i.id)
        for pos in range(len(sort_by) - 1, -1, -1):
            key = _sort_key(sort_by[pos], data_of)
            if key is None:
                continue
            order = orders[pos] if pos < len(orders) else (orders[0] if orders else "ascending")
            out.sort(key=key, reverse=order == "descending")
    elif not leaves_in_order:
        out.sort(key=lambda i: (i.sort_name, i.id))
    start = parse_int(ctx.q("StartIndex"), "StartIndex") or 0
    limit = parse_int(ctx.q("Limit"), "Limit")
    total = len(out)
    page = out[start:] if limit is None else out[start : start + limit]
    return page, total, start


def _date(raw: str | None, name: str) -> float | None:
    if raw is None:
        return None
    try:
        return parse_date(raw)
    except ValueError as exc:
        raise JError(400, f"The value '{raw}' is not valid for {name}.") from exc


def _has_provider(item: JItem, wanted: str) -> bool:
    """AnyProviderIdEquals=imdb.tt0133093,tmdb.603 (name.value pairs)."""
    for pair in csv(wanted):
        name, _, value = pair.partition(".")
        for k, v in item.provider_ids.items():
            if k.lower() == name.lower() and v == value:
                return True
    return False


def _all_played(item: JItem, data_of: Callable[[JItem], UserData]) -> bool:
    leaves = item.leaves
    return bool(leaves) and all(data_of(leaf).played for leaf in leaves)


def fields_of(ctx: Ctx) -> frozenset[str]:
    return frozenset(f.lower() for f in csv(ctx.q("Fields")))


def wants_user_data(ctx: Ctx) -> bool:
    return parse_bool(ctx.q("EnableUserData"), "EnableUserData") is not False


def page_result(items: list[dict[str, Any]], total: int, start: int) -> dict[str, Any]:
    return {"Items": items, "TotalRecordCount": total, "StartIndex": start}
