"""What `plex-cluster-manager webhook-url SERVER` prints: the URL to paste into that
server's webhook settings, and where those settings are."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from manager.config import Config

# Where each kind keeps its webhook settings, and whether it can send a header.
_WHERE = {
    "plex": (
        "Plex Web: Settings > (your account) Webhooks > Add Webhook (Plex Pass).",
        "Plex cannot add headers: use the URL with ?apikey=.",
    ),
    "jellyfin": (
        "Jellyfin: Dashboard > Plugins > Webhook > Add Generic Destination; paste the URL,\n"
        "the template config/jellyfin-webhook-template.json, tick the notification types\n"
        "(Playback Start, Playback Progress, Playback Stop, User Data Saved) and 'Send All\n"
        "Properties' off.",
        "The plugin can add headers: the URL without ?apikey= and a header\n"
        "  X-Apikey: {key}\nwork too.",
    ),
    "emby": (
        "Emby: Settings > Notifications > Add Notification > Webhooks (older versions:\n"
        "Server > Webhooks); content type application/json where offered; events: Playback\n"
        "(start, pause, unpause, stop) and Mark played / unplayed.",
        "Emby cannot add headers: use the URL with ?apikey=.",
    ),
}


def default_base(config: Config) -> str:
    """This host at the configured listen port: a guess; --base says what the server sees."""
    host = config.listen_host
    if host in ("0.0.0.0", "::", ""):
        host = socket.gethostname()
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{config.listen_port}"


def webhook_help(config: Config, name: str, base: str | None = None) -> str:
    """The text for one server; LookupError when the config has no server of that name."""
    server = next((s for s in config.servers if s.name == name), None)
    if server is None:
        names = ", ".join(s.name for s in config.servers)
        raise LookupError(f"no server named {name!r} in {config.path} (servers: {names})")
    root = (base or default_base(config)).rstrip("/")
    if urlsplit(root).scheme not in ("http", "https"):
        raise LookupError(f"--base must be an http(s) URL, not {root!r}")
    where, header = _WHERE[server.kind]
    origin = (
        "derived from the manager's token and the server's name; it changes when the token\n"
        "does. Set webhook_key on the server in the config to choose one"
        if server.webhook_key_derived
        else "the webhook_key set in the config"
    )
    return "\n".join(
        [
            f"{server.name} ({server.kind}): paste this URL into its webhook settings:",
            f"  {root}/webhooks/{server.kind}?apikey={server.webhook_key}",
            "",
            where,
            header.format(key=server.webhook_key),
            f"WatchState's shape works too: {root}/?apikey={server.webhook_key}",
            f"The key is {origin}.",
        ]
    )
