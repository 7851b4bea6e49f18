"""The product's promise as a model: the newest action wins, per user and item.

Plex's rules, as our emulator and the fake servers follow them: played counts a play and
clears the resume point; unplayed clears both; a stop past 90 % is played; a stop after the
first minute is a resume point that never undoes played; a show or season mark applies
to each of its episodes. Two states are the same when both are played, or both are not
played with resume points within the tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass

from manager.model import MIN_RESUME_MS, RESUME_TOLERANCE_MS

PLAYED_AT = 0.9


@dataclass(frozen=True, slots=True)
class Seen:
    watched: bool = False
    position_ms: int = 0

    def same_as(self, other: Seen) -> bool:
        if self.watched or other.watched:
            return self.watched == other.watched
        return abs(self.position_ms - other.position_ms) <= RESUME_TOLERANCE_MS


class Model:
    def __init__(self) -> None:
        self.state: dict[tuple[str, str], Seen] = {}  # (user, leaf title) → state
        self.touched: set[tuple[str, str]] = set()

    def seen(self, user: str, leaf: str) -> Seen:
        return self.state.get((user, leaf), Seen())

    def mark(self, user: str, leaves: list[str], played: bool) -> None:
        for leaf in leaves:
            self.touched.add((user, leaf))
            self.state[(user, leaf)] = Seen(played, 0)

    def stop(self, user: str, leaf: str, position_ms: int, duration_ms: int) -> None:
        self.touched.add((user, leaf))
        before = self.seen(user, leaf)
        if position_ms >= PLAYED_AT * duration_ms:
            self.state[(user, leaf)] = Seen(True, 0)
        elif position_ms > MIN_RESUME_MS:
            self.state[(user, leaf)] = Seen(before.watched, position_ms)
