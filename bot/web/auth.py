"""Who may do what on the dashboard.

- The access token (``REBALANCE_BOT_WEB_TOKEN`` or ``<state_dir>/web-token``) opens everything: as a bearer
  token for the JSON API, or once on the login page, which then sets a signed session cookie (HttpOnly,
  SameSite=Strict) that expires. The cookie only names a server-side session
  (:mod:`bot.state.web_sessions`): signing out ends it for good, and "sign out everywhere" ends them all.
- Every form post is checked twice against cross-site request forgery: a CSRF token derived from the session
  (or, on a signed link's confirmation page, the signed link itself) must be in the form, and the ``Origin``
  (else ``Referer``) header, when the browser sends one, must be the dashboard's own.
- Comparisons of secrets are constant-time.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from urllib.parse import urlparse

from fastapi import Request

from bot.approval.links import LinkError, Signer
from bot.state.web_sessions import WebSessions

SESSION_COOKIE = "rb_session"
SESSION_PURPOSE = "dashboard-session"
CSRF_PURPOSE = "dashboard-csrf"


@dataclass(frozen=True)
class Session:
    sid: str
    who: str


class WebAuth:
    def __init__(
        self,
        token: str,
        signer: Signer,
        session_hours: float,
        public_url: str | None = None,
        sessions: WebSessions | None = None,
    ) -> None:
        if len(token) < 16:
            raise ValueError("the dashboard access token must be at least 16 characters")
        if sessions is None:
            raise ValueError("the dashboard needs a session table (bot.state.web_sessions.WebSessions)")
        self._token = token
        self.signer = signer
        self.sessions = sessions
        self.session_seconds = session_hours * 3600
        self.public_netloc = urlparse(public_url).netloc if public_url else None
        self.secure_cookie = bool(public_url and public_url.startswith("https://"))

    # -- the access token ------------------------------------------------------------------------------------
    def token_ok(self, candidate: str | None) -> bool:
        return bool(candidate) and hmac.compare_digest(str(candidate).encode(), self._token.encode())

    def bearer_ok(self, request: Request) -> bool:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and self.token_ok(value.strip())

    # -- sessions --------------------------------------------------------------------------------------------
    def new_session(self, who: str) -> str:
        """Open a server-side session and return its cookie value (the signed session id)."""
        sid = self.sessions.create(who, self.session_seconds)
        return self.signer.dumps(SESSION_PURPOSE, {"s": sid, "w": who[:60]}, self.session_seconds)

    def session(self, request: Request) -> Session | None:
        """The request's session, if its cookie is genuine, unexpired AND the session is still open on the
        server (not signed out, not revoked by "sign out everywhere")."""
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        try:
            payload = self.signer.loads(SESSION_PURPOSE, cookie)
        except LinkError:
            return None
        sid = str(payload.get("s", ""))
        if not self.sessions.active(sid):
            return None
        return Session(sid, str(payload.get("w", "")))

    def csrf_token(self, session: Session) -> str:
        return self.signer.mac(CSRF_PURPOSE, session.sid)

    def csrf_ok(self, session: Session, candidate: str | None) -> bool:
        return bool(candidate) and hmac.compare_digest(str(candidate), self.csrf_token(session))

    # -- origin ----------------------------------------------------------------------------------------------
    def same_origin(self, request: Request) -> bool:
        """False when the browser says the request comes from another site. Browsers send ``Origin`` on every
        POST; a request with neither header is not a browser's cross-site post (the form token still
        applies)."""
        allowed = {request.headers.get("host", "")}
        if self.public_netloc:
            allowed.add(self.public_netloc)
        origin = request.headers.get("origin")
        if origin is not None:
            return urlparse(origin).netloc in allowed  # "null" (opaque origin) has no netloc: refused
        referer = request.headers.get("referer")
        if referer:
            return urlparse(referer).netloc in allowed
        return True
