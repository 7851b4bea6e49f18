"""The real-time path: from one proxy event to writes on every peer.

`interpret` (pure: which server, what change), `handler` (user, item, ledger, fan-out to
the outbox), `throttle` (heartbeats and repeated positions), `writer` (the outbox's
deliverer: one write on one peer).
"""
