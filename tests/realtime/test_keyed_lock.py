"""KeyedLock: a write holds its item alone and its season and show shared. Which writes
overlap, by table; and no lock is left behind (a first sync's writes pass through tens of
thousands of keys), whether a holder finishes, fails or a waiter is cancelled."""

from __future__ import annotations

import asyncio

import pytest

from manager.realtime.keyed_lock import Key, KeyedLock

# (alone, shared) per write, as the writer asks: an episode e1 of season s1 of show sh,
# its sibling e2, the season, the show, an unrelated movie m.
E1 = (("e1",), (("s1",), ("sh",)))
E2 = (("e2",), (("s1",), ("sh",)))
S1 = (("s1",), (("sh",),))
SH = (("sh",), ())
M = (("m",), ())


async def _hold(
    locks: KeyedLock, want: tuple[Key, tuple[Key, ...]], log: list[str], gate: asyncio.Event
) -> None:
    async with locks.hold(*want):
        log.append("in")
        await gate.wait()


@pytest.mark.parametrize(
    ("writes", "inside_at_once"),
    [
        ([E1, E1], 1),  # the same item twice: one at a time
        ([E1, SH], 1),  # an episode and its show
        ([SH, E1], 1),
        ([E1, S1], 1),  # an episode and its season
        ([S1, SH], 1),  # a season and its show
        ([E1, E2], 2),  # sibling episodes: side by side
        ([E1, E2, M], 3),
        ([M, SH], 2),  # unrelated items
        ([E1, E2, SH], 2),  # the show waits for both episodes
        ([E1, SH, E2], 1),  # first come, first served: e2 waits behind the show
    ],
)
def test_which_writes_overlap(
    writes: list[tuple[Key, tuple[Key, ...]]], inside_at_once: int
) -> None:
    async def main() -> tuple[int, int, int]:
        locks, log, gate = KeyedLock(), [], asyncio.Event()
        tasks = [asyncio.create_task(_hold(locks, w, log, gate)) for w in writes]
        await asyncio.sleep(0.01)
        inside = len(log)
        gate.set()
        await asyncio.gather(*tasks)
        return inside, len(log), len(locks)

    inside, finished, left = asyncio.run(main())
    assert inside == inside_at_once
    assert finished == len(writes)
    assert left == 0


def test_a_holder_that_fails_or_a_waiter_cancelled_leaves_no_lock() -> None:
    async def main() -> int:
        locks, gate = KeyedLock(), asyncio.Event()
        holder = asyncio.create_task(_hold(locks, SH, [], gate))
        await asyncio.sleep(0)
        waiter = asyncio.create_task(_hold(locks, E1, [], gate))
        await asyncio.sleep(0.01)
        waiter.cancel()
        with pytest.raises(RuntimeError):
            async with locks.hold(("m",)):
                raise RuntimeError("the write failed")
        gate.set()
        await holder
        await asyncio.gather(waiter, return_exceptions=True)
        return len(locks)

    assert asyncio.run(main()) == 0
