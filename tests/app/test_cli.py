"""The console entry point as a user meets it: exit codes and one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.processes import ROOT, clean_env


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "manager", *args],
        capture_output=True,
        text=True,
        env=clean_env(env),
        cwd=str(ROOT),
        timeout=60,
    )


def test_bad_config_stops_start_up_with_one_line(tmp_path: Path) -> None:
    config = tmp_path / "plex-cluster.yml"
    config.write_text("hosts:\n  - host: plex.example\n    port: 32400\n")
    result = run("serve", "--config", str(config), env={"CLUSTER_MANAGER_TOKEN": "t"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"plex-cluster-manager: config error: {config}: hosts[0].token: missing: "
        "the server owner's Plex token is required"
    ]


def test_missing_file_and_bad_cron_from_env(tmp_path: Path) -> None:
    result = run("serve", "--config", str(tmp_path / "nope.yml"))
    assert result.returncode == 2 and "nope.yml: (file): cannot read: no such file" in result.stderr
    config = tmp_path / "ok.yml"
    config.write_text(
        "hosts:\n  - {host: a, port: 1, token: t}\n  - {host: b, port: 1, token: t}\n"
    )
    result = run(
        "serve",
        "--config",
        str(config),
        env={"CLUSTER_MANAGER_TOKEN": "t", "FULL_SYNC_SCHEDULE": "0 2 1 * *"},
    )
    assert result.returncode == 2
    assert ": FULL_SYNC_SCHEDULE: " in result.stderr and "day-of-month" in result.stderr


def test_help_lists_serve_and_sync() -> None:
    result = run("--help")
    assert result.returncode == 0
    assert "serve" in result.stdout and "sync" in result.stdout


def test_webhook_url_for_a_server(tmp_path: Path) -> None:
    config = tmp_path / "plex-cluster.yml"
    config.write_text(
        "token: manager-secret\nservers:\n"
        "  - {name: home, url: 'http://plex:32400', token: owner}\n"
        "  - {name: den, kind: jellyfin, url: 'http://jf:8096', api_key: k,"
        " webhook_key: den-webhook-key-0001}\n"
    )
    result = run("webhook-url", "den", "--config", str(config), "--base", "http://mgr:3400/")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "  http://mgr:3400/webhooks/jellyfin?apikey=den-webhook-key-0001\n" in out
    assert "X-Apikey: den-webhook-key-0001" in out and "jellyfin-webhook-template.json" in out
    home = run("webhook-url", "home", "--config", str(config), "--base", "http://mgr:3400")
    assert home.returncode == 0 and "http://mgr:3400/webhooks/plex?apikey=" in home.stdout
    assert "derived from the manager's token" in home.stdout
    again = run("webhook-url", "home", "--config", str(config), "--base", "http://mgr:3400")
    assert again.stdout == home.stdout  # the derived key is the same on every run
    missing = run("webhook-url", "nope", "--config", str(config))
    assert missing.returncode == 2 and "no server named 'nope'" in missing.stderr
