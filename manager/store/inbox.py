"""The inbox: every accepted event id, with its payload until processed.

Idempotency table and durable queue at once: an event is stored before the proxy gets its
202, processed by the event worker, then kept as a bare id (payload cleared: it holds a
user's token) for a week so that a proxy's retry is recognised as a duplicate.
Run on the database thread (`DbRunner.run`).
"""

from __future__ import annotations

from manager.store.db import EventRow, database_proxy, scrub_log, scrub_wanted


def store_events(items: list[tuple[str, str]], at: float) -> list[bool]:
    """Insert (id, payload) rows; per item True if new, False if the id was seen before."""
    fresh: list[bool] = []
    with database_proxy.atomic():
        for event_id, payload in items:
            if EventRow.select().where(EventRow.id == event_id).exists():
                fresh.append(False)
                continue
            EventRow.insert(
                id=event_id, payload=payload, status="pending", received_at=at
            ).on_conflict_ignore().execute()
            fresh.append(True)
    return fresh


def pending_events(limit: int, exclude: list[str]) -> list[tuple[str, str]]:
    query = EventRow.select(EventRow.id, EventRow.payload).where(EventRow.status == "pending")
    if exclude:
        query = query.where(EventRow.id.not_in(exclude))
    rows = [
        (str(r.id), str(r.payload or "")) for r in query.order_by(EventRow.received_at).limit(limit)
    ]
    if not rows:  # the worker is idle: a good moment to empty the write-ahead log
        scrub_log(busy=bool(exclude))
    return rows


def finish_event(event_id: str, outcome: str, at: float) -> None:
    EventRow.update(status="done", payload=None, outcome=outcome[:32], processed_at=at).where(
        EventRow.id == event_id
    ).execute()
    scrub_wanted()  # the payload held the client's token


def count_pending_events() -> int:
    return int(EventRow.select().where(EventRow.status == "pending").count())


def prune_events(older_than: float) -> int:
    """Forget processed event ids after a while (proxies do not retry for days)."""
    return int(
        EventRow.delete()
        .where((EventRow.status == "done") & (EventRow.received_at < older_than))
        .execute()
    )
