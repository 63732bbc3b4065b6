"""Signed approve/reject links: HMAC-SHA256 tokens that expire, are bound to one plan version and action,
and are used once.

A token is ``base64url(payload) "." base64url(mac)`` where the payload names the plan id, the plan's content
hash, the action, the expiry (wall-clock Unix seconds) and a random nonce, and the MAC is HMAC-SHA256 under
the dashboard's secret key over a purpose label and the payload (so a token minted for one purpose, e.g. a
login session, is never accepted as another). Verification is constant-time. Single use is enforced by the
state database (:meth:`bot.state.store.StateStore.use_link` records the nonce), and the plan-version binding
by :func:`bot.actions.approve_plan`, which refuses a hash that is not the held plan's.

The key comes from ``REBALANCE_BOT_WEB_SECRET`` or is generated once into ``<state_dir>/web-secret`` with
mode 0600; the dashboard's access token likewise (``REBALANCE_BOT_WEB_TOKEN`` / ``<state_dir>/web-token``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.state.private import private_dir

ACTIONS = ("approve", "reject")
SECRET_ENV = "REBALANCE_BOT_WEB_SECRET"
TOKEN_ENV = "REBALANCE_BOT_WEB_TOKEN"
SECRET_FILE = "web-secret"
TOKEN_FILE = "web-token"


class LinkError(Exception):
    """A token was refused; ``reason`` is one of malformed, forged, expired, mismatch."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


@dataclass(frozen=True)
class LinkClaims:
    plan_id: str
    content_hash: str
    action: str
    expires: float
    nonce: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """HMAC-SHA256 signatures with purpose separation, and expiring signed values."""

    def __init__(self, key: bytes, wall: Callable[[], float] = time.time) -> None:
        if len(key) < 16:
            raise ValueError("the signing key must be at least 16 bytes")
        self._key = key
        self.wall = wall

    def mac(self, purpose: str, message: str) -> str:
        digest = hmac.new(self._key, purpose.encode() + b"\x00" + message.encode(), hashlib.sha256).digest()
        return _b64(digest)

    def dumps(self, purpose: str, payload: Mapping[str, Any], ttl_seconds: float) -> str:
        """A signed, expiring token carrying ``payload`` (which must be JSON)."""
        body = _b64(
            json.dumps({**payload, "e": int(self.wall() + ttl_seconds)}, separators=(",", ":")).encode()
        )
        return f"{body}.{self.mac(purpose, body)}"

    def loads(self, purpose: str, token: str) -> dict[str, Any]:
        """The payload of a token this signer made for ``purpose``; :class:`LinkError` otherwise."""
        body, dot, signature = (token or "").partition(".")
        if not dot or not body or not signature or len(token) > 4096:
            raise LinkError("malformed", "the link is malformed")
        if not hmac.compare_digest(signature, self.mac(purpose, body)):
            raise LinkError("forged", "the link's signature is not valid")
        try:
            payload = json.loads(_unb64(body))
        except (binascii.Error, ValueError) as exc:
            raise LinkError("malformed", "the link is malformed") from exc
        if not isinstance(payload, dict) or not isinstance(payload.get("e"), int):
            raise LinkError("malformed", "the link is malformed")
        if self.wall() >= payload["e"]:
            raise LinkError("expired", "the link has expired")
        return payload


class LinkSigner(Signer):
    """Approve/reject links for one plan version."""

    PURPOSE = "approval-link"

    def sign(self, plan_id: str, content_hash: str, action: str, ttl_seconds: float) -> str:
        if action not in ACTIONS:
            raise ValueError(f"action must be one of {ACTIONS}, not {action!r}")
        payload = {"p": plan_id, "h": content_hash, "a": action, "n": secrets.token_urlsafe(12)}
        return self.dumps(self.PURPOSE, payload, ttl_seconds)

    def verify(self, token: str, plan_id: str | None = None, action: str | None = None) -> LinkClaims:
        """Check signature and expiry, and that the token is for ``plan_id`` and ``action`` when given. It
        does NOT consume the token (the caller records the nonce when it acts)."""
        payload = self.loads(self.PURPOSE, token)
        try:
            claims = LinkClaims(
                str(payload["p"]),
                str(payload["h"]),
                str(payload["a"]),
                float(payload["e"]),
                str(payload["n"]),
            )
        except KeyError as exc:
            raise LinkError("malformed", "the link is malformed") from exc
        if (plan_id is not None and claims.plan_id != plan_id) or (
            action is not None and claims.action != action
        ):
            raise LinkError("mismatch", "the link is for another plan or action")
        return claims


# --- key files ---------------------------------------------------------------------------------------------


def read_or_create_secret(path: Path) -> tuple[str, bool]:
    """The secret stored in ``path``, or a new random one written there with mode 0600; (value, created)."""
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        value = path.read_text(encoding="utf-8").strip()
        if os.stat(path).st_mode & 0o077:
            os.chmod(path, 0o600)  # never leave a secret readable by others
        if len(value) < 16:
            raise ValueError(f"{path}: too short to be a secret; delete it to have a new one made") from None
        return value, False
    value = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    return value, True


def signing_key(state_dir: Path, environ: Mapping[str, str] | None = None) -> bytes:
    """The HMAC key: ``REBALANCE_BOT_WEB_SECRET`` if set, else ``<state_dir>/web-secret`` (made if
    missing)."""
    environ = os.environ if environ is None else environ
    if environ.get(SECRET_ENV):
        return environ[SECRET_ENV].encode()
    return read_or_create_secret(Path(state_dir) / SECRET_FILE)[0].encode()


def access_token(state_dir: Path, environ: Mapping[str, str] | None = None) -> tuple[str, bool]:
    """The dashboard's access token: ``REBALANCE_BOT_WEB_TOKEN`` if set, else ``<state_dir>/web-token`` (made
    if missing); (token, created now)."""
    environ = os.environ if environ is None else environ
    if environ.get(TOKEN_ENV):
        return environ[TOKEN_ENV], False
    return read_or_create_secret(Path(state_dir) / TOKEN_FILE)


def approval_links(
    signer: LinkSigner, base_url: str, plan_id: str, content_hash: str, ttl_seconds: float
) -> dict[str, str]:
    """``{"approve": url, "reject": url}``: each opens a confirmation page; nothing happens on GET."""
    from urllib.parse import quote

    return {
        action: f"{base_url.rstrip('/')}/approvals/{quote(plan_id, safe='')}/{action}?t="
        + signer.sign(plan_id, content_hash, action, ttl_seconds)
        for action in ACTIONS
    }
