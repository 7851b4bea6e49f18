"""Which configured server an event comes from."""

from __future__ import annotations

from pathlib import Path

from manager.config import parse_config
from manager.db import DbRunner
from manager.event import PlaybackEvent
from manager.pipeline import Pipeline, ServerRuntime


def test_source_by_machine_id_then_url_then_alias(tmp_path: Path) -> None:
    cfg = parse_config(
        {
            "token": "t",
            "servers": [
                {"name": "home", "url": "http://192.0.2.10:32400", "token": "a",
                 "aliases": ["plex-home.example:32401", "plex-home.example"]},
                {"name": "remote", "url": "https://192.0.2.20:32400", "token": "b"},
            ],
        },
        "cfg.yml",
        {},
    )  # fmt: skip
    servers = [ServerRuntime(config=s, client=None) for s in cfg.servers]
    servers[1].machine_identifier = "remote-machine-id"
    runner = DbRunner(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        pipeline = Pipeline(cfg, servers, users=None, runner=runner)

        def source(url: str, machine: str | None = None) -> str | None:
            event = PlaybackEvent(
                kind="scrobble", rating_key="1", token="t", upstream_url=url,
                machine_identifier=machine,
            )  # fmt: skip
            found = pipeline.source_for(event)
            return found.name if found else None

        assert source("http://10.9.9.9:1", "remote-machine-id") == "remote"
        assert source("http://192.0.2.10:32400") == "home"
        assert source("https://192.0.2.20:32400/") == "remote"
        assert source("https://plex-home.example:32401") == "home"  # legacy payload's Host
        assert source("https://plex-home.example:443") == "home"  # alias without a port
        assert source("https://elsewhere.example:32401") is None
    finally:
        runner.close()
