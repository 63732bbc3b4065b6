"""The dashboard's outer wall: a small ASGI middleware that every request passes before any route runs.

The dashboard lives in the process that trades, so a hostile request must never be able to take memory, CPU
or threads from the trading loop, nor be answered for a name the operator did not choose:

- **Host** must be one of the allowed hosts (the bound address and port, ``localhost``/``127.0.0.1``/``::1``
  on the same port, the public URL's host, and ``web.allowed_hosts``), else 400. A page loaded from
  ``evil.example`` that re-points its DNS at 127.0.0.1 (DNS rebinding) sends ``Host: evil.example``, and its
  ``Origin`` matches that Host, so the origin check alone cannot catch it.
- **Body size** is refused as it streams: a ``Content-Length`` above the limit is answered 413 before a byte
  of the body is read, and a body without one (chunked) is counted while it is read and cut off with 413 the
  moment it passes the limit. Nothing ever holds more than the limit in memory.
- **Security headers** (CSP, no framing, no sniffing, no caching) go on every response, refusals included.
  Scripts and stylesheets come from the dashboard's own ``/static`` only and the page talks to its own origin
  only (``connect-src 'self'``, for its event stream): no inline script can run, none from elsewhere loads.
- **Concurrency**: at most ``max_concurrent`` requests are in the app at once (routes run on a thread pool
  shared with nothing else, but each one holds the GIL and the state database's lock for a while); the rest
  get 503 with ``Retry-After`` at once instead of queueing without bound.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

import structlog
from starlette.requests import ClientDisconnect

log = structlog.get_logger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_BODY_BYTES = 64 * 1024
"""No request to the dashboard carries more than a short form or a small JSON object."""
MAX_CONCURRENT = 16
LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class BodyTooLarge(Exception):
    """Raised from ``receive`` when a streamed body passes the limit; the guard answers 413."""


def split_host(value: str) -> tuple[str, int | None] | None:
    """``(hostname, port)`` of a Host header or netloc (lower case, IPv6 without brackets); None if it
    does not parse as one."""
    value = value.strip().lower()
    if not value or any(c in value for c in "/@?#\\ \t"):
        return None
    try:
        parts = urlsplit(f"//{value}")
        port = parts.port
    except ValueError:
        return None
    hostname = parts.hostname
    return (hostname, port) if hostname else None


class AllowedHosts:
    """Which ``Host`` headers the dashboard answers.

    ``names`` are accepted on the port the server listens on (read from the connection, so port 0 works);
    ``netlocs`` (``host`` or ``host:port``, e.g. the public URL's) are accepted exactly as given, because a
    reverse proxy in front may forward its own host and port.
    """

    def __init__(self, names: Iterable[str], netlocs: Iterable[str] = ()) -> None:
        self.names = frozenset(n.strip("[]").lower() for n in names if n)
        self.netlocs: frozenset[tuple[str, int | None]] = frozenset(
            parsed for n in netlocs if (parsed := split_host(n)) is not None
        )

    @classmethod
    def for_dashboard(
        cls, bound_host: str, public_url: str | None, extra: Iterable[str] = ()
    ) -> AllowedHosts:
        """The default list: the bound address unless it is a wildcard, the loopback names, the public URL's
        host, and the configured extras (``name`` on the listening port, ``name:port`` exactly)."""
        names = set(LOCAL_NAMES)
        if not _is_wildcard(bound_host):
            names.add(bound_host)
        netlocs = [urlsplit(public_url).netloc] if public_url else []
        for entry in extra:
            parsed = split_host(entry)
            if parsed is None:
                continue
            if parsed[1] is None:
                names.add(parsed[0])
            else:
                netlocs.append(entry)
        return cls(names, netlocs)

    def allows(self, host_header: str | None, server_port: int | None) -> bool:
        parsed = split_host(host_header or "")
        if parsed is None:
            return False
        name, port = parsed
        if (name, port) in self.netlocs:
            return True
        return name in self.names and port is not None and port == server_port


def _is_wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


class Guard:
    """ASGI middleware: allowed Host, bounded body (refused while streaming), bounded concurrency."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        allowed: AllowedHosts,
        max_body: int = MAX_BODY_BYTES,
        max_concurrent: int = MAX_CONCURRENT,
    ) -> None:
        self.app = app
        self.allowed = allowed
        self.max_body = max_body
        self.max_concurrent = max_concurrent
        self._in_flight = 0
        self._refusals: dict[str, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        server = scope.get("server") or (None, None)
        if not self.allowed.allows(headers.get("host"), server[1]):
            host = headers.get("host", "")[:80]
            self._note("host", "request for a host name that is not allowed", host=host)
            await _answer(send, 400, "This host name is not served here (see web.allowed_hosts).")
            return
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                await _answer(send, 400, "Malformed Content-Length.")
                return
            if int(declared) > self.max_body:
                self._note("size", "request body too large", declared=int(declared))
                await _answer(send, 413, f"Request body too large (limit {self.max_body} bytes).")
                return
        if self._in_flight >= self.max_concurrent:
            self._note("busy", "too many dashboard requests at once")
            await _answer(send, 503, "The dashboard is busy; try again in a moment.", retry_after=1)
            return
        self._in_flight += 1
        started = False
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                present = {bytes(name).lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *_security_headers_except(present)]
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            self._note("size", "streamed request body too large", read=seen)
            if not started:
                await _answer(send, 413, f"Request body too large (limit {self.max_body} bytes).")
        except ClientDisconnect:
            # the client hung up mid-body: nobody to answer, and not an error of ours (uvicorn would log a
            # traceback per aborted upload, and a client can abort as many as it likes)
            self._note("gone", "request whose client hung up before sending its body")
        finally:
            self._in_flight -= 1

    def _note(self, kind: str, event: str, **fields: Any) -> None:
        """Log a kind of refusal once, then every 100th time: a flood must not flood the log."""
        count = self._refusals.get(kind, 0) + 1
        self._refusals[kind] = count
        if count == 1 or count % 100 == 0:
            log.warning(f"dashboard refused a {event}", refusals_so_far=count, **fields)


def _headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin-1").lower()
        if name in ("host", "content-length") and name in out:
            out[name] = "\x00duplicate"  # two Host or Content-Length headers: never guess which one counts
        else:
            out.setdefault(name, raw_value.decode("latin-1"))
    return out


_SECURITY_RAW = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]


def _security_headers_except(present: set[bytes]) -> list[tuple[bytes, bytes]]:
    return [(k, v) for k, v in _SECURITY_RAW if k not in present]


async def _answer(send: Send, status: int, text: str, retry_after: int | None = None) -> None:
    body = text.encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        *_SECURITY_RAW,
    ]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
