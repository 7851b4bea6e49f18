"""The writer asks a peer what it is playing at most once per SESSIONS_TTL: writes that
find the answer too old while it is being asked wait for that one answer (a first sync
sent a burst of checks at every expiry, one per write in flight)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from manager.servers.models import Credential, Session
from manager.store.outbox import Verdict
from tests.realtime.test_handler import Parts, run
from tests.realtime.test_writer_recent import deliver, sync_write


def test_writes_in_flight_share_one_sessions_answer(tmp_path: Path) -> None:
    async def body(p: Parts) -> None:
        beta = p.cluster.api("beta")
        asked: list[float] = []
        answer = beta.sessions

        async def slow_sessions(credential: Credential) -> list[Session]:
            asked.append(time.monotonic())
            await asyncio.sleep(0.05)  # a real server's answer takes a while
            return await answer(credential)

        beta.sessions = slow_sessions  # type: ignore[method-assign]
        writes = [
            sync_write(p, "alice", title, "beta", time.time() - 30)
            for title in ("Heat", "Jaws", "Casablanca")
        ]
        verdicts = await asyncio.gather(*(deliver(p, w) for w in writes))
        assert verdicts == [Verdict.DELIVERED] * 3
        assert len(asked) == 1
        assert {w[2] for w in beta.writes} == {w.item_id for w in writes}

    run(tmp_path, body)
