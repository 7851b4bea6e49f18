"""Fewer passes of Python's cycle collector while a full sync runs.

A full sync makes millions of small containers (each page's decoded JSON, the items, the
catalogue, the plan) and keeps most of them until the run ends. The collector runs a pass
every 700 new containers and, every few passes, walks all the survivors again: with 10 000
items per server that took 2.3 s of a 54 s run, inside whatever allocated (the JSON
decoder, mostly). None of this data forms reference cycles, so passes that rarer lose
nothing: during a sync the thresholds are raised, and the old ones come back when the last
sync running ends. Cycles made meanwhile are still collected, later.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

SYNC_THRESHOLDS = (50_000, 20, 100)

_running = 0
_saved: tuple[int, int, int] | None = None


@contextmanager
def fewer_passes() -> Iterator[None]:
    """Raise the collector's thresholds for the block (nested and concurrent uses share
    one change; the last one out restores what was set before the first)."""
    global _running, _saved
    if _running == 0:
        _saved = gc.get_threshold()
        gc.set_threshold(*SYNC_THRESHOLDS)
    _running += 1
    try:
        yield
    finally:
        _running -= 1
        if _running == 0 and _saved is not None:
            gc.set_threshold(*_saved)
            _saved = None
