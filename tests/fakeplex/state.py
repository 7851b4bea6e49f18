"""Per-user watch state of one server: viewCount, viewOffset, lastViewedAt per (user, item)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .items import Item


@dataclass(slots=True)
class ViewState:
    view_count: int = 0
    view_offset: int = 0
    last_viewed_at: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "view_count": self.view_count,
            "view_offset": self.view_offset,
            "last_viewed_at": self.last_viewed_at,
        }


class StateStore:
    """Not thread-safe on its own: the server holds its lock around every use."""

    def __init__(self) -> None:
        self._by_user: dict[int, dict[str, ViewState]] = {}

    def of(self, account_id: int) -> dict[str, ViewState]:
        return self._by_user.get(account_id, {})

    def get(self, account_id: int, rating_key: str) -> ViewState:
        return self._by_user.get(account_id, {}).get(rating_key) or ViewState()

    def mutable(self, account_id: int, rating_key: str) -> ViewState:
        user = self._by_user.setdefault(account_id, {})
        st = user.get(rating_key)
        if st is None:
            st = user[rating_key] = ViewState()
        return st

    def drop(self, account_id: int, rating_key: str) -> None:
        self._by_user.get(account_id, {}).pop(rating_key, None)

    def dyn_attrs(self, account_id: int, item: Item) -> dict[str, Any]:
        """The per-user attributes exactly as PMS shows them (absent when zero/unset)."""
        states = self._by_user.get(account_id, {})
        if item.is_leaf:
            st = states.get(item.rating_key)
            if st is None:
                return {}
            d: dict[str, Any] = {}
            if st.view_offset:
                d["viewOffset"] = st.view_offset
            if st.view_count:
                d["viewCount"] = st.view_count
            if st.last_viewed_at:
                d["lastViewedAt"] = st.last_viewed_at
            return d
        viewed = 0
        plays = 0
        last = 0
        for leaf in item.leaves:
            st = states.get(leaf.rating_key)
            if st is None:
                continue
            if st.view_count:
                viewed += 1
                plays += st.view_count
            if st.last_viewed_at and st.last_viewed_at > last:
                last = st.last_viewed_at
        d = {"viewedLeafCount": viewed}
        if plays:
            d["viewCount"] = plays
        if last:
            d["lastViewedAt"] = last
        return d

    def summary(self, account_id: int, item: Item) -> dict[str, Any]:
        if item.is_leaf:
            return self.get(account_id, item.rating_key).as_dict()
        dyn = self.dyn_attrs(account_id, item)
        return {
            "view_count": dyn.get("viewCount", 0),
            "view_offset": 0,
            "last_viewed_at": dyn.get("lastViewedAt"),
            "viewed_leaf_count": dyn["viewedLeafCount"],
            "leaf_count": len(item.leaves),
        }

    def unwatched(self, account_id: int, item: Item) -> bool:
        states = self._by_user.get(account_id, {})
        if item.is_leaf:
            st = states.get(item.rating_key)
            return st is None or st.view_count == 0
        return any(
            (st := states.get(leaf.rating_key)) is None or st.view_count == 0
            for leaf in item.leaves
        )

    def in_progress(self, account_id: int, item: Item) -> bool:
        states = self._by_user.get(account_id, {})
        if item.is_leaf:
            st = states.get(item.rating_key)
            return st is not None and st.view_offset > 0
        watched = 0
        for leaf in item.leaves:
            st = states.get(leaf.rating_key)
            if st is None:
                continue
            if st.view_offset > 0:
                return True
            if st.view_count:
                watched += 1
        return 0 < watched < len(item.leaves)
