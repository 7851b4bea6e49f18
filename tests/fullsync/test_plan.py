"""Grouping across servers and the ledger-to-evidence mapping, on hand-made catalogues."""

from __future__ import annotations

from manager.fullsync.catalog import ADMIN_BIT, Catalog, CatalogItem, UserState
from manager.fullsync.group import build_groups
from manager.fullsync.plan import UserView, best_ledger, ledger_evidence, plan_user
from manager.fullsync.reconcile import LedgerEvidence
from manager.model import Change, ItemKey, UserId
from manager.store import ledger

T1, T2 = 1_700_000_100.0, 1_700_000_200.0


def catalog(name: str, *items: tuple[str, tuple[str, ...]]) -> Catalog:
    c = Catalog(name)
    for rk, keys in items:
        item_keys = tuple(ItemKey(k) for k in keys)
        c.items[rk] = CatalogItem(rk, "movie", f"m{rk}", 6_000_000, item_keys, mask=ADMIN_BIT)
    return c


def test_items_sharing_any_key_are_one_item_transitively() -> None:
    a = catalog(
        "a", ("1", ("movie:plex://movie/x", "movie:imdb://tt1")), ("2", ("movie:imdb://tt9",))
    )
    b = catalog("b", ("10", ("movie:imdb://tt1", "movie:tmdb://2")))
    c = catalog("c", ("20", ("movie:tmdb://2",)), ("21", ()))  # 21: no identity at all
    groups = build_groups([a, b, c])
    assert len(groups.groups) == 2
    g = groups.groups[a.items["1"].group]
    assert sorted(g.members) == [(0, "1"), (1, "10"), (2, "20")]
    assert g.key == "movie:imdb://tt1"  # the most common best key
    assert groups.by_key["movie:tmdb://2"] == a.items["1"].group
    assert c.items["21"].group == -1


def _row(
    key: str, played: bool | None, offset: int | None, at: float, change: str
) -> ledger.LedgerEntry:
    return ledger.LedgerEntry(
        UserId("u"), ItemKey(key), played, offset, None, at, "alpha", Change(change), "movie", "t"
    )


def test_ledger_rows_as_evidence() -> None:
    assert ledger_evidence(_row("k", True, None, T1, "played")) == LedgerEvidence(True, None, T1)
    assert ledger_evidence(_row("k", True, 900_000, T1, "resume")) == LedgerEvidence(True, None, T1)
    assert ledger_evidence(_row("k", False, None, T1, "unplayed")) == LedgerEvidence(
        False, None, T1, unwatched=True
    )
    assert ledger_evidence(_row("k", None, 900_000, T1, "resume")) == LedgerEvidence(
        False, 900_000, T1
    )
    # A resume point recorded after an unwatch: the unwatch, with its position (issue 9).
    assert ledger_evidence(_row("k", False, 900_000, T1, "resume")) == LedgerEvidence(
        False, 900_000, T1, unwatched=True
    )
    # A minute or less is no resume point (Plex ignores it); without "unplayed" no proof.
    assert ledger_evidence(_row("k", None, 30_000, T1, "resume")) is None
    assert ledger_evidence(_row("k", False, 30_000, T1, "resume")) == LedgerEvidence(
        False, None, T1, unwatched=True
    )


def test_newest_ledger_row_by_any_key_and_our_own_write_dated_by_the_ledger() -> None:
    a = catalog("a", ("1", ("movie:imdb://tt1", "movie:tmdb://1")))
    b = catalog("b", ("10", ("movie:tmdb://1",)))
    groups = build_groups([a, b])
    rows = [
        _row("movie:imdb://tt1", None, 1_200_000, T1, "resume"),
        _row("movie:tmdb://1", None, 600_000, T2, "resume"),
    ]
    best = best_ledger(rows, groups)
    assert best[0].view_offset_ms == 600_000
    # b holds the ledger's 10 min, stamped "now" (T2 + 999) by an earlier sync write; a's
    # 20 min is a real change made after the ledger's T2 but before that stamp. The ledger's
    # time dates b, so a's 20 min wins instead of being overwritten.
    view = UserView(
        UserId("u"),
        "u",
        [ADMIN_BIT, ADMIN_BIT],
        [{"1": UserState(False, 1_200_000, T2 + 500)}, {"10": UserState(False, 600_000, T2 + 999)}],
    )
    plan = plan_user(view, [a, b], groups, best)
    assert [(c.server, c.change, c.time_ms) for c in plan.writes] == [("b", "resume", 1_200_000)]
    assert [r.observation.change for r in plan.records] == ["unplayed", "resume"]
    assert plan.records[-1].observation.observed_at == T2 + 500
    assert plan.records[-1].observation.identity_key == "movie:tmdb://1"  # the row it updates
    plan = plan_user(view, [a, b], groups, best, played_keys=frozenset())
    assert [r.observation.change for r in plan.records] == ["resume"]


def test_a_stamp_our_own_write_left_dates_the_state_by_the_change_it_replayed() -> None:
    a = catalog("a", ("1", ("movie:imdb://tt1",)))
    b = catalog("b", ("10", ("movie:imdb://tt1",)))
    groups = build_groups([a, b])
    # a's 10 min carries the stamp (T2 + 999) of our write replaying a change made at T1;
    # b's 20 min is a real change at T2, after that change. No ledger row says either.
    view = UserView(
        UserId("u"),
        "u",
        [ADMIN_BIT, ADMIN_BIT],
        [{"1": UserState(False, 600_000, T2 + 999)}, {"10": UserState(False, 1_200_000, T2)}],
    )
    ours = {"a": {"1": (int(T2 + 999), T1)}, "b": {"99": (int(T2 + 999), T1)}}
    plan = plan_user(view, [a, b], groups, {}, stamps=ours)
    assert [(c.server, c.change, c.time_ms) for c in plan.writes] == [("a", "resume", 1_200_000)]
    # The same stamp on another server's item says nothing of a's: a's 10 min is newest.
    plan = plan_user(view, [a, b], groups, {}, stamps={"b": ours["a"]})
    assert [(c.server, c.change, c.time_ms) for c in plan.writes] == [("b", "resume", 600_000)]
