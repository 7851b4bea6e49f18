"""One configured server as the running manager knows it: its config, the `MediaServer` that
talks to it, its library index, and what was learned about it (its id, whether it answers).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from manager.config import ServerConfig
from manager.model import UserId
from manager.servers.index import LibraryIndex
from manager.servers.interface import MediaServer
from manager.servers.models import Credential
from manager.servers.peer_clock import PeerClock
from manager.servers.recent import RecentStates


@dataclass(slots=True, eq=False)
class Server:
    config: ServerConfig
    api: MediaServer
    index: LibraryIndex
    server_id: str | None = None  # the server's own id (Plex: machineIdentifier)
    friendly_name: str | None = None
    version: str | None = None  # as the server last told it (the dashboard shows it)
    reachable: bool | None = None
    last_error: str | None = None
    last_ok_at: float | None = None
    # Users whose events skipped this server because its index could not be read (it was
    # down); the service brings them up to date from the ledger once it answers again.
    catch_up_users: set[UserId] = field(default_factory=set)
    # States the full sync just read there, so its writes need not read them again.
    recent: RecentStates = field(default_factory=RecentStates)
    # Its clock against ours, so the stamps our writes leave need not be read back.
    clock: PeerClock = field(default_factory=PeerClock)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def admin(self) -> Credential:
        """The owner's credential from the config: reads the whole library, sees sessions."""
        return Credential(self.config.token)

    def mark(self, ok: bool, error: str | None = None) -> None:
        self.reachable = ok
        if ok:
            self.last_ok_at = time.time()
            self.last_error = None
        else:
            self.last_error = error

    def answered_for(self, target: str) -> bool:
        """Whether an error's target names this server (not the account service)."""
        return target in ("", self.name, self.config.url, self.config.netloc)
