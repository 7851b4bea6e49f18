"""Config loading: the original shape, env overrides, and one clear line per mistake."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from manager.config import ConfigError, load_config

ORIGINAL = """\
hosts:
  - host: plex.mydomain.com
    port: 11111
    token: xxxxxxxxxxxxxxxxxxxx
    #log: ./plex.log
  - host: plex2.mydomain.com
    port: 32400
    token: yyyyyyyyyyyyyyyyyyyy
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plex-cluster.yml"
    path.write_text(text)
    return path


def test_original_hosts_shape_loads_with_env(tmp_path: Path) -> None:
    path = write(tmp_path, ORIGINAL)
    env = {
        "CLUSTER_MANAGER_TOKEN": "JgUNaJ6DcB7FhhYGcUpaa9DwPy",
        "UPDATE_ON_START": "true",
        "DEBUG": "false",
        "FULL_SYNC_SCHEDULE": "0 2 * * *",
    }
    cfg = load_config(path, env)
    assert [s.url for s in cfg.servers] == [
        "https://plex.mydomain.com:11111",
        "https://plex2.mydomain.com:32400",
    ]
    assert [s.name for s in cfg.servers] == ["plex.mydomain.com", "plex2.mydomain.com"]
    assert cfg.token == "JgUNaJ6DcB7FhhYGcUpaa9DwPy"
    assert cfg.sync.on_start is True
    assert cfg.sync.schedule == "0 2 * * *"
    assert cfg.debug is False
    assert cfg.listen_port == 3400
    assert cfg.database.startswith("sqlite:///")
    assert cfg.warnings == ()
    logged = load_config(write(tmp_path, ORIGINAL.replace("#log", "log")), env)
    assert len(logged.warnings) == 1 and "hosts[0].log: ignored" in logged.warnings[0]


def test_new_keys_and_dsn_env(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
token: from-file
listen: 127.0.0.1:0
servers:
  - {name: home, url: "http://127.0.0.1:32400/", token: a}
  - {name: remote, host: 10.0.0.2, scheme: http, port: 32400, token: b,
     aliases: [Plex.Example:32401]}
same_library_name_only: true
delivery: {concurrency: 2, max_backoff: 5}
sync: {users: {deny: [kid]}}
""",
    )
    cfg = load_config(path, {"PLEX_CLUSTER_DSN": "postgresql://u:p@db/plex"})
    assert cfg.servers[0].url == "http://127.0.0.1:32400"
    assert cfg.servers[1].url == "http://10.0.0.2:32400"
    assert cfg.servers[1].aliases == ("plex.example:32401",)
    assert (cfg.listen_host, cfg.listen_port) == ("127.0.0.1", 0)
    assert cfg.database == "postgresql://u:p@db/plex"
    assert cfg.token == "from-file"
    assert cfg.same_library_name_only is True
    assert cfg.delivery.concurrency == 2 and cfg.delivery.max_backoff == 5
    assert cfg.sync.deny_users == ("kid",)


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        (
            "hosts:\n  - {host: a, port: 1}\n  - {host: b, port: 2, token: t}\n",
            "hosts[0].token",
            "missing",
        ),
        ("servers:\n  - {url: 'ftp://a', token: t}\n", "servers[0].url", "scheme must be http"),
        ("servers:\n  - {url: 'http://a:99999', token: t}\n", "servers[0].url", "port"),
        ("servers:\n  - {url: 'http://', token: t}\n", "servers[0].url", "no host"),
        (
            "hosts:\n  - {host: a, port: 1, token: t, colour: red}\n",
            "hosts[0].colour",
            "unknown key",
        ),
        ("hosts:\n  - {host: a, port: 1, token: t}\nwibble: 1\n", "wibble", "unknown key"),
        (
            "hosts:\n  - {host: a, port: 1, token: t}\n  - {host: a, port: 2, token: t}\n",
            "hosts[1].name",
            "duplicate",
        ),
        ("hosts: []\n", "hosts", "missing"),
        ("hosts:\n  - {host: a, port: x, token: t}\n", "hosts[0].port", "number"),
        (
            "hosts:\n  - {host: a, port: 1, token: t}\ndelivery: {concurrency: 0}\n",
            "delivery.concurrency",
            "at least",
        ),
        ("hosts: [\n", "line", "not valid YAML"),
    ],
)
def test_bad_config_is_one_clear_line(tmp_path: Path, text: str, key: str, problem: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, {"CLUSTER_MANAGER_TOKEN": "t0ken"})
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: {key}")
    assert problem in message


def test_missing_manager_token(tmp_path: Path) -> None:
    path = write(tmp_path, ORIGINAL)
    with pytest.raises(ConfigError, match=r": token: missing: set token or CLUSTER_MANAGER_TOKEN"):
        load_config(path, {})


def test_bad_env_values_name_the_variable(tmp_path: Path) -> None:
    path = write(tmp_path, ORIGINAL)
    with pytest.raises(ConfigError, match=r": UPDATE_ON_START: must be true or false"):
        load_config(path, {"CLUSTER_MANAGER_TOKEN": "t", "UPDATE_ON_START": "maybe"})
    with pytest.raises(ConfigError, match=r": FULL_SYNC_SCHEDULE: must be a 5-field cron"):
        load_config(path, {"CLUSTER_MANAGER_TOKEN": "t", "FULL_SYNC_SCHEDULE": "daily"})
    with pytest.raises(ConfigError, match=r": CHANGED_SYNC_SCHEDULE: must be a 5-field cron"):
        load_config(path, {"CLUSTER_MANAGER_TOKEN": "t", "CHANGED_SYNC_SCHEDULE": "hourly"})


def test_changed_schedule_and_the_defaults_of_what_is_not_said(tmp_path: Path) -> None:
    path = write(tmp_path, ORIGINAL)
    cfg = load_config(path, {"CLUSTER_MANAGER_TOKEN": "t", "CHANGED_SYNC_SCHEDULE": "*/15 * * * *"})
    assert cfg.sync.changed_schedule == "*/15 * * * *"
    # Ceilings: below them each server's pace decides (servers/pacing.py).
    assert (cfg.sync.concurrency, cfg.delivery.per_peer, cfg.delivery.concurrency) == (8, 8, 16)
    text = ORIGINAL + "sync:\n  changed_schedule: '0 * * * *'\n"
    assert load_config(write(tmp_path, text), {"CLUSTER_MANAGER_TOKEN": "t"}).sync.changed_schedule
    with pytest.raises(ConfigError, match=r": sync.changed_schedule: must be a 5-field cron"):
        load_config(
            write(tmp_path, ORIGINAL + "sync:\n  changed_schedule: often\n"),
            {"CLUSTER_MANAGER_TOKEN": "t"},
        )
    with pytest.raises(ConfigError, match=r": PLEX_CLUSTER_DSN: bad database DSN"):
        load_config(path, {"CLUSTER_MANAGER_TOKEN": "t", "PLEX_CLUSTER_DSN": "mysql://x"})


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope.yml: \(file\): cannot read: no such file"):
        load_config(tmp_path / "nope.yml", {})
    with pytest.raises(ConfigError, match=r"is a directory"):
        load_config(tmp_path, {})
    if os.geteuid() != 0:
        path = write(tmp_path, ORIGINAL)
        path.chmod(0)
        with pytest.raises(ConfigError, match=r"permission denied"):
            load_config(path, {})


def test_example_config_loads() -> None:
    example = Path(__file__).resolve().parents[2] / "config" / "plex-cluster.example.yml"
    cfg = load_config(example, {})
    assert len(cfg.servers) >= 2


MIXED = """\
token: manager-secret
servers:
  - {name: home, url: "http://plex:32400", token: plex-owner-token}
  - {name: travel, kind: jellyfin, url: "http://jellyfin:8096", api_key: 0123abcd}
  - {name: family, kind: Emby, url: "http://emby:8096", token: 4567efab}
users:
  alice: {plex: alice_p, travel: Alice}
  bob: {emby: Robert}
"""


def test_mixed_kinds_and_the_user_map(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, MIXED), {})
    assert [(s.name, s.kind, s.token) for s in cfg.servers] == [
        ("home", "plex", "plex-owner-token"),
        ("travel", "jellyfin", "0123abcd"),
        ("family", "emby", "4567efab"),
    ]
    alice, bob = cfg.user_map
    assert alice.name_on("travel", "jellyfin") == "Alice"
    assert alice.name_on("home", "plex") == "alice_p"
    assert alice.name_on("family", "emby") is None
    assert bob.name_on("family", "emby") == "Robert"


@pytest.mark.parametrize(
    ("tail", "key", "problem"),
    [
        ("users: {alice: {nowhere: a}}", "users.alice.nowhere", "neither a configured server"),
        ("users: {alice: {plex: a}, bob: {plex: A}}", "users.bob.plex", "already alice's"),
        ("users: {alice: {}}", "users.alice", "give the person's user name"),
        ("users: [alice]", "users", "must be a mapping"),
    ],
)
def test_bad_user_map_is_one_clear_line(tmp_path: Path, tail: str, key: str, problem: str) -> None:
    text = MIXED.split("users:")[0] + tail + "\n"
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text), {})
    assert f"{key}:" in str(err.value) and problem in str(err.value)


def test_user_info_in_a_server_url(tmp_path: Path) -> None:
    # Plex and Emby take their credential in their own headers, so a reverse proxy's basic
    # auth can ride in the URL; Jellyfin's takes the Authorization header itself.
    plex = MIXED.replace("http://plex:32400", "http://bob:hunter2pass@plex:32400")
    home = load_config(write(tmp_path, plex), {}).servers[0]
    assert home.url == "http://bob:hunter2pass@plex:32400"  # sent as basic auth
    assert home.shown_url == "http://bob:hunt…@plex:32400"  # in the status and dashboard
    jelly = MIXED.replace("http://jellyfin:8096", "http://bob:hunter2pass@jellyfin:8096")
    with pytest.raises(ConfigError, match=r"servers\[1\]\.url: a Jellyfin server's URL"):
        load_config(write(tmp_path, jelly), {})
    bad = MIXED.replace("http://plex:32400", "http://bob:hunter2pass@plex:32400?x=1")
    with pytest.raises(ConfigError, match="no query") as err:
        load_config(write(tmp_path, bad), {})
    assert "hunter2pass" not in str(err.value) and "bob:hunt…@plex" in str(err.value)


def test_token_and_api_key_together_or_missing(tmp_path: Path) -> None:
    both = MIXED.replace("api_key: 0123abcd", "api_key: 0123abcd, token: x")
    with pytest.raises(ConfigError, match="either token or api_key"):
        load_config(write(tmp_path, both), {})
    missing = MIXED.replace(", api_key: 0123abcd", "")
    with pytest.raises(ConfigError, match=r"servers\[1\]\.token: missing: an admin API key"):
        load_config(write(tmp_path, missing), {})


def test_example_configs_commented_jellyfin_emby_and_users_blocks_load(tmp_path: Path) -> None:
    """The commented examples are valid config once a user uncomments them."""
    example = Path(__file__).resolve().parents[2] / "config" / "plex-cluster.example.yml"
    lines, out, live = example.read_text().splitlines(), [], False
    for line in lines:
        if line.strip() in ("# - name: travel", "# users:"):
            live = True
        elif live and not line.strip().startswith("#"):
            live = False
        if live:
            line = line.replace("# ", "", 1)
        out.append(line)
    cfg = load_config(write(tmp_path, "\n".join(out)), {})
    assert [s.kind for s in cfg.servers] == ["plex", "plex", "jellyfin", "emby"]
    assert [(m.name, m.name_on("travel", "jellyfin")) for m in cfg.user_map] == [
        ("alice", "Alice"),
        ("robert", None),
    ]


def test_webhook_keys_given_or_derived(tmp_path: Path) -> None:
    given = MIXED.replace(
        "api_key: 0123abcd", "api_key: 0123abcd, webhook_key: my-jellyfin-key-0001"
    )
    config = load_config(write(tmp_path, given), {})
    keys = {s.name: (s.webhook_key, s.webhook_key_derived) for s in config.servers}
    derived = [k for k, d in keys.values() if d]
    assert ("my-jellyfin-key-0001", False) in keys.values()
    # Derived: 32 hex digits, stable across loads, different per server and per token.
    assert derived and all(len(k) == 32 and int(k, 16) >= 0 for k in derived)
    again = load_config(write(tmp_path, given), {})
    assert [s.webhook_key for s in again.servers] == [s.webhook_key for s in config.servers]
    assert len({s.webhook_key for s in config.servers}) == len(config.servers)
    other = load_config(write(tmp_path, given), {"CLUSTER_MANAGER_TOKEN": "another-token"})
    assert [s.webhook_key for s in other.servers if s.webhook_key_derived] != derived


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("short", "must be 16-128 characters"),
        ("has spaces in it, sadly", "must be 16-128 characters"),
        ("with&an=ampersand0000", "must be 16-128 characters"),
    ],
)
def test_bad_webhook_keys(tmp_path: Path, key: str, problem: str) -> None:
    text = MIXED.replace("api_key: 0123abcd", f"api_key: 0123abcd, webhook_key: '{key}'")
    with pytest.raises(ConfigError, match=rf"servers\[1\]\.webhook_key: {problem}"):
        load_config(write(tmp_path, text), {})


def test_two_servers_with_one_webhook_key(tmp_path: Path) -> None:
    text = MIXED.replace("api_key: 0123abcd", "api_key: 0123abcd, webhook_key: same-key-0123456789")
    text = text.replace("token: 4567efab}", "token: 4567efab, webhook_key: same-key-0123456789}")
    with pytest.raises(ConfigError, match="webhook_key: the same as"):
        load_config(write(tmp_path, text), {})
