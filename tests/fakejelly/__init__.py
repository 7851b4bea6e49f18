"""Jellyfin + Emby server emulator (one code base, two dialects); docs/emulator-jellyfin.md."""

from .server import DIALECTS, FakeJellyfin

__all__ = ["DIALECTS", "FakeJellyfin"]
