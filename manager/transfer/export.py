"""Export: every user's watched state and resume points per item, from servers and ledger.

Read as the full sync reads (fullsync/read.py: each server's catalogue from its owner's
listing, then each user's listing, a page at a time through the `MediaServer` seam), the
same items grouped across servers (group.py), and per user and item the state the sync's
rule decides from every server's state and the ledger's row (reconcile.py). Nothing is
written anywhere.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from manager.fullsync.catalog import Catalog, CatalogItem
from manager.fullsync.group import Group, Groups, build_groups
from manager.fullsync.plan import best_ledger, ledger_evidence
from manager.fullsync.read import RunReader, UserRead
from manager.fullsync.reconcile import LEDGER, ServerState, decide_target
from manager.fullsync.report import Progress, SyncReport
from manager.runtime import Runtime
from manager.servers.identity import identity_of
from manager.servers.interface import DEFAULT_PAGE_SIZE
from manager.servers.models import EPISODE, MediaItem
from manager.store import ledger
from manager.store.ledger import LedgerEntry
from manager.transfer.document import Document, ItemState, UserStates


@dataclass(slots=True)
class _Seen:
    """What the catalogue drops once keys are made, kept for the file."""

    ids: frozenset[str]
    show_ids: frozenset[str]
    show_title: str | None
    title: str
    season: int | None
    episode: int | None


class IdentityCatalog(Catalog):
    """A catalogue that also keeps each item's ids and titles as the server named them."""

    def __init__(self, name: str, level_marks: bool = True) -> None:
        super().__init__(name, level_marks=level_marks)
        self.seen: dict[str, _Seen] = {}

    def add(self, item: MediaItem) -> CatalogItem:
        entry = super().add(item)
        show = self.shows.get(item.show_id or "") if item.kind == EPISODE else None
        identity = identity_of(item, show.item if show else None)
        own = set(identity.external_ids) | ({identity.guid} if identity.guid else set())
        self.seen[item.id] = _Seen(
            frozenset(own),
            identity.show_ids,
            item.show_title or (show.title if show else None),
            item.title,
            identity.season,
            identity.episode,
        )
        return entry


@dataclass
class ExportResult:
    document: Document
    report: SyncReport  # per server: (user, item) pairs read, failures
    counts: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # watched, resume, ⊘


def _describe(group: Group, catalogs: Sequence[IdentityCatalog]) -> dict[str, object]:
    """The item's ids (every server's, together) and names, from its first member."""
    ids: set[str] = set()
    show_ids: set[str] = set()
    first: _Seen | None = None
    duration = None
    for si, rk in group.members:
        seen = catalogs[si].seen.get(rk)
        if seen is None:
            continue
        first = first or seen
        ids |= seen.ids
        show_ids |= seen.show_ids
        duration = duration or catalogs[si].items[rk].duration_ms
    assert first is not None
    return {
        "ids": tuple(sorted(ids)),
        "show_ids": tuple(sorted(show_ids)) if group.kind == EPISODE else (),
        "show_title": first.show_title if group.kind == EPISODE else None,
        "title": first.title,
        "season": first.season if group.kind == EPISODE else None,
        "episode": first.episode if group.kind == EPISODE else None,
        "duration_ms": duration,
    }


def _user_items(
    read: UserRead,
    rows: list[LedgerEntry],
    groups: Groups,
    catalogs: Sequence[IdentityCatalog],
) -> list[ItemState]:
    best = best_ledger(rows, groups)
    candidates: set[int] = set(best)
    for si, states in enumerate(read.states):
        for rk in states:
            item = catalogs[si].items.get(rk)
            if item is not None and item.group >= 0:
                candidates.add(item.group)
    out: list[ItemState] = []
    for gi in sorted(candidates):
        group = groups.groups[gi]
        states: list[ServerState] = []
        names: list[str] = []
        for si, rk in group.members:
            if not read.bits[si] or not catalogs[si].items[rk].mask & read.bits[si]:
                continue  # not the user's to see there
            st = read.states[si].get(rk)
            states.append(
                ServerState(
                    len(states),
                    st.watched if st else False,
                    st.view_offset_ms if st else None,
                    st.last_viewed_at if st else None,
                )
            )
            names.append(catalogs[si].name)
        row = best.get(gi)
        evidence = ledger_evidence(row) if row is not None else None
        target = decide_target(states, evidence)
        if target is None:
            continue
        proven = evidence is not None and evidence.unwatched and target.source == LEDGER
        if not (target.watched or target.view_offset_ms or proven):
            continue
        out.append(
            ItemState(
                kind=group.kind,
                watched=target.watched,
                resume_ms=target.view_offset_ms,
                as_of=target.as_of,
                source="ledger" if target.source == LEDGER else names[target.source],
                unwatched_proven=proven,
                **_describe(group, catalogs),  # type: ignore[arg-type]
            )
        )
    return out


async def export_state(
    runtime: Runtime,
    *,
    users: Sequence[str] = (),
    servers: Sequence[str] = (),
    progress: Progress | None = None,
) -> ExportResult:
    """Read the chosen servers (all by default) and the ledger; decide, per user and
    item, the state the cluster holds. `users`: names or ids (all allowed by default)."""
    progress = progress or Progress()
    await asyncio.gather(*(runtime.probe(s) for s in runtime.servers))
    await runtime.directory.refresh()
    concurrency = runtime.config.sync.concurrency
    chosen = [(s, r) for s, r in zip(runtime.servers, runtime.readers(concurrency), strict=True)
              if not servers or s.name in servers]  # fmt: skip
    report = SyncReport(dry_run=True, started_at=time.time(), kind="export")
    reads = RunReader(
        [s for s, _ in chosen],
        [r for _, r in chosen],
        runtime.directory,
        report,
        progress,
        DEFAULT_PAGE_SIZE,
    )
    catalogs = [IdentityCatalog(s.name, level_marks=r.level_marks) for s, r in chosen]
    reads.catalogs = list(catalogs)
    progress.start("catalogue", len(chosen))
    await asyncio.gather(*(reads.read_catalog(i) for i in range(len(chosen))))
    progress.finish()
    reads.catalogued()
    groups = build_groups(reads.catalogs_read())
    report.groups = len(groups.groups)
    cfg = runtime.config.sync
    people = reads.select_users(cfg.allow_users, cfg.deny_users, users)
    report.users = [u.name for u in people]
    document = Document(servers=[s.name for s, _ in chosen if s.reachable], users=[])
    result = ExportResult(document, report)
    progress.start("users", len(people))
    for n, user in enumerate(people):
        read = await reads.read_user(user, n)
        rows = await runtime.runner.run(lambda uid=user.id: list(ledger.for_user(uid)))
        items = _user_items(read, rows, groups, catalogs)
        document.users.append(UserStates(user.id, user.name, items))
        result.counts[user.name] = (
            sum(1 for i in items if i.watched),
            sum(1 for i in items if i.resume_ms),
            sum(1 for i in items if i.unwatched_proven),
        )
        progress.advance(1, detail=user.name)
    progress.finish()
    report.finished_at = time.time()
    return result
