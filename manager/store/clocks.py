"""Each server's clock against ours, as last learned (servers/peer_clock.py), kept across
restarts: a sync of changes only asks each server for what changed after a time on that
server's own clock, and a process that has not written there yet has not learned it."""

from __future__ import annotations

import json

from manager.store.db import MetaRow

KEY = "server_clocks"


def save(offsets: dict[str, float]) -> None:
    """Merge these servers' offsets (server time = ours + offset) into the kept ones."""
    if not offsets:
        return
    kept = load()
    kept.update(offsets)
    value = json.dumps(kept, sort_keys=True)
    MetaRow.insert(key=KEY, value=value).on_conflict(
        conflict_target=[MetaRow.key], update={MetaRow.value: value}
    ).execute()


def load() -> dict[str, float]:
    row = MetaRow.get_or_none(MetaRow.key == KEY)
    if row is None:
        return {}
    try:
        found = json.loads(row.value)
    except ValueError:
        return {}  # a damaged row costs a wider margin, nothing else
    if not isinstance(found, dict):
        return {}
    return {str(k): float(v) for k, v in found.items() if isinstance(v, int | float)}
