"""The dashboard's login: the manager's token, posted once, buys a signed session cookie.

- The token is compared in constant time; a wrong one is refused, logged at most once a
  minute, and answered a little late (guessing costs time).
- The cookie holds a random session id and a random CSRF token, signed with a key made
  for this process (itsdangerous, with the time it was issued): it cannot be forged or
  extended, and a restart of the manager logs everybody out. It is HttpOnly (no script
  reads it), SameSite=Strict (no other site's page sends it), scoped to the dashboard's
  path, and Secure when the dashboard is reached over https.
- Every form carries the session's CSRF token, checked in constant time on POST, and a
  POST whose Origin names another host is refused: two fences besides SameSite.
- Logging out forgets the session id for the rest of its life, so a copied cookie stops
  working too.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

from manager.app.credentials import matches

COOKIE = "plex_cluster_session"
MAX_AGE = 12 * 3600  # seconds a login lasts
_REVOKED_KEPT = 10_000  # logged-out sessions remembered until they would expire anyway


@dataclass(frozen=True, slots=True)
class Session:
    sid: str
    csrf: str


class Sessions:
    def __init__(self, token: str, key: bytes | None = None) -> None:
        self._token = token
        self._signer = URLSafeTimedSerializer(
            key or secrets.token_bytes(32), salt="plex-cluster-dashboard-session"
        )
        self._revoked: dict[str, float] = {}  # session id -> when it expires anyway

    def token_ok(self, given: str | None) -> bool:
        return matches(self._token.encode(), given)

    def issue(self) -> tuple[Session, str]:
        """A new session and the cookie value that carries it."""
        session = Session(secrets.token_urlsafe(18), secrets.token_urlsafe(24))
        return session, self._signer.dumps({"sid": session.sid, "csrf": session.csrf})

    def read(self, cookie: str | None) -> Session | None:
        """The session a cookie carries; None when absent, forged, expired or logged out."""
        if not cookie or len(cookie) > 512:
            return None
        try:
            data = self._signer.loads(cookie, max_age=MAX_AGE)
        except BadSignature:  # also SignatureExpired
            return None
        if not isinstance(data, dict):
            return None
        sid, csrf = data.get("sid"), data.get("csrf")
        if not isinstance(sid, str) or not isinstance(csrf, str) or sid in self._revoked:
            return None
        return Session(sid, csrf)

    def revoke(self, session: Session) -> None:
        now = time.time()
        for sid in [s for s, until in self._revoked.items() if until <= now]:
            del self._revoked[sid]
        if len(self._revoked) >= _REVOKED_KEPT:
            self._revoked.pop(next(iter(self._revoked)))
        self._revoked[session.sid] = now + MAX_AGE

    @staticmethod
    def csrf_ok(session: Session, given: str | None) -> bool:
        return matches(session.csrf.encode(), given)
