"""A whole emulated world: several Plex servers plus plex.tv, started in this process."""

from __future__ import annotations

import gc
import threading
from pathlib import Path
from typing import Any

from .fixture import ClusterSpec, load
from .plextv import FakePlexTV
from .pms import FakeServer


class Cluster:
    def __init__(self, spec: ClusterSpec, *, host: str = "127.0.0.1", port_base: int = 0):
        self.spec = spec
        self.servers: dict[str, FakeServer] = {}
        # Building 100k+ small objects: cyclic GC passes would dominate the start-up time.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            for i, (name, sspec) in enumerate(spec.servers.items()):
                port = port_base + 1 + i if port_base else 0
                self.servers[name] = FakeServer(spec, sspec, bind=host, port=port)
        finally:
            if gc_was_enabled:
                gc.enable()
        self.plextv = FakePlexTV(spec, self.servers, bind=host, port=port_base)
        self.users: list[str] = list(spec.accounts)

    def start(self) -> Cluster:
        try:
            self.plextv.start()
            for srv in self.servers.values():
                srv.start()
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def plextv_url(self) -> str:
        return self.plextv.url

    def account_token(self, username: str) -> str:
        return self.spec.accounts[username].token

    def token_for(self, username: str, server_name: str) -> str:
        """The token that user presents to that server (KeyError if no access)."""
        return self.servers[server_name].user_tokens[username]

    def owner_of(self, server_name: str) -> str:
        return self.servers[server_name].owner.name

    def describe(self) -> dict[str, Any]:
        return {
            "fixture": self.spec.name,
            "plextv_url": self.plextv_url,
            "users": {
                name: {
                    "id": a.id,
                    "uuid": a.uuid,
                    "account_token": a.token,
                    "managed": a.managed,
                    "home": a.home,
                    "pin": a.pin,
                }
                for name, a in self.spec.accounts.items()
            },
            "servers": [
                {
                    "name": s.name,
                    "url": s.url,
                    "machineIdentifier": s.machine_identifier,
                    "friendlyName": s.friendly_name,
                    "owner": s.owner.name,
                    "owner_token": s.owner_token,
                    "tokens": dict(s.user_tokens),
                    "sections": [
                        {"id": sec.id, "title": sec.title, "type": sec.type, "agent": sec.agent}
                        for sec in s.library.sections.values()
                    ],
                }
                for s in self.servers.values()
            ],
        }

    def stop(self) -> None:
        # Each listener needs one poll interval to notice; stop them side by side.
        hosts = [srv.stop for srv in self.servers.values()] + [self.plextv.stop]
        threads = [threading.Thread(target=fn, daemon=True) for fn in hosts]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_cluster(
    fixture: str | Path | dict[str, Any] = "demo", *, host: str = "127.0.0.1", port_base: int = 0
) -> Cluster:
    """Start every server of the fixture plus plex.tv on free ports (or port_base, +1, +2…)."""
    return Cluster(load(fixture), host=host, port_base=port_base).start()
