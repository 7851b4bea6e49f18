"""servers/pacing.py: requests in flight rise while a server's answers keep their pace,
halve when it slows down or says it has too much, and stay between 1 and the ceiling."""

from __future__ import annotations

import asyncio

import pytest

from manager.servers.pacing import Pacer


def paced(ceiling: int, start: int, answers: list[float | str]) -> Pacer:
    """A pacer after these answers: seconds taken, or "overload" (429, 5xx, timeout);
    its clock moves one second per answer, so each cut is its own."""
    now = [0.0]
    pacer = Pacer(ceiling, start, clock=lambda: now[0])
    for answer in answers:
        now[0] += 1.0
        if answer == "overload":
            pacer.overloaded()
        else:
            assert isinstance(answer, float)
            pacer.answered(answer)
    return pacer


@pytest.mark.parametrize(
    ("ceiling", "start", "answers", "limit"),
    [
        (8, 2, [], 2),
        (8, 2, [0.01, 0.01], 3),  # two answers at pace with two slots: one more
        (8, 2, [0.01] * 2 + [0.01] * 3, 4),  # then three at three slots
        (8, 2, [0.01] * 200, 8),  # never above the ceiling
        (1, 4, [0.01] * 50, 1),  # a ceiling of one is one
        (8, 8, [0.01, 0.05], 8),  # one slow answer is no trend
        (8, 8, [0.01, 0.1, 0.1], 4),  # the pace passes 2.5x the usual: half
        (8, 8, [0.01, 0.1, 0.1, 0.1], 2),  # and stays there: half again
        (8, 8, [0.01, 0.02], 8),  # slower, not slow: held, not raised or cut
        (8, 8, ["overload"], 4),
        (8, 8, ["overload", "overload", "overload", "overload"], 1),  # never below one
        (8, 2, [0.01, 0.01, "overload", 0.01], 2),  # 3, cut to 1, one answer at pace: 2
    ],
)
def test_limit(ceiling: int, start: int, answers: list[float | str], limit: int) -> None:
    assert paced(ceiling, start, answers).limit == limit


def test_a_burst_of_slow_answers_counts_once() -> None:
    pacer = Pacer(8, 8, clock=lambda: 0.0)  # all at the same moment
    pacer.answered(0.01)
    for _ in range(5):
        pacer.answered(1.0)
    assert pacer.limit == 4 and pacer.lowered == 1


def test_a_server_that_slowed_for_good_is_followed() -> None:
    """After a thousand answers at 30 ms where 10 ms was usual, 30 ms is usual: answers at
    that pace raise the limit again."""
    pacer = paced(8, 1, [0.01] + [0.03] * 1_000)
    assert pacer.usual is not None and pacer.usual == pytest.approx(0.03)
    assert pacer.limit == 8


def test_slots_hold_the_limit_and_free_on_exit() -> None:
    async def body() -> list[int]:
        pacer = Pacer(3, 3)
        seen: list[int] = []

        async def one() -> None:
            async with pacer.slot():
                seen.append(pacer.in_flight)
                await asyncio.sleep(0.01)

        await asyncio.gather(*(one() for _ in range(10)))
        assert pacer.in_flight == 0
        return seen

    assert max(asyncio.run(body())) == 3


def test_a_cancelled_waiter_passes_its_slot_on() -> None:
    async def body() -> None:
        pacer = Pacer(1, 1)
        release = asyncio.Event()

        async def hold() -> None:
            async with pacer.slot():
                await release.wait()

        holder = asyncio.create_task(hold())
        await asyncio.sleep(0)
        first = asyncio.create_task(pacer.slot().__aenter__())
        second_done = asyncio.Event()

        async def second() -> None:
            async with pacer.slot():
                second_done.set()

        task = asyncio.create_task(second())
        await asyncio.sleep(0)
        release.set()
        await asyncio.sleep(0)  # the holder leaves: `first` is given the slot…
        first.cancel()  # …and cancelled before it runs
        await asyncio.wait_for(second_done.wait(), 1)
        await asyncio.gather(holder, task)

    asyncio.run(body())
