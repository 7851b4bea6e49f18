"""Media servers: the interface the cluster talks to, and each kind that implements it.

- `interface.py`: the `MediaServer` and `UserDirectory` contracts;
- `models.py`, `errors.py`: what every kind answers and raises;
- `identity.py`: who an item is across servers, and the keys the cluster knows it by;
- `index.py`: a server's library, indexed to find "the same item" fast;
- `server.py`: one configured server as the running manager knows it;
- `kinds.py`: the kinds the runtime can build (`plex/`).
"""
