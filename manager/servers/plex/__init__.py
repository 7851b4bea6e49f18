"""Plex as one kind of media server: everything the cluster knows about Plex lives here.

- `client.py`, `transport.py`, `parse.py`, `models.py`: Plex Media Server's HTTP API;
- `guids.py`: Plex's item guids (legacy agents included) taken apart into identities;
- `server.py`: `PlexMediaServer`, the cluster's `MediaServer` interface over the client;
- `plextv.py`, `roster.py`, `users.py`: plex.tv and `PlexUserDirectory`;
- `requests.py`: what a Plex client's playback request means (used by the proxy addon);
- `legacy.py`: the original Plex Cluster proxy's payload;
- `kind.py`: how the runtime builds the above for configured Plex servers.

Kept free of imports so the proxy addon can load `requests` without the rest.
"""
