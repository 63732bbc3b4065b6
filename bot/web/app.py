"""The dashboard's routes. Every decision goes through :mod:`bot.actions`, like the CLI's.

- ``GET /health``: no auth; 200 while the bot ticks and its broker answers, 503 when stale or while the
  broker is down (``broker.problem`` says why), for service monitors.
- ``GET /login``, ``POST /login``: sign in with the access token (sets a cookie naming a server-side
  session); ``POST /logout`` ends that session, ``POST /logout/everywhere`` ends all of them. Failed tokens
  (sign-in or bearer) lock their source out for a growing delay (:mod:`bot.web.throttle`).
- Every route sits behind :mod:`bot.web.guard`: allowed Host names only, bodies bounded while they stream,
  bounded concurrency.
- ``GET /``: the dashboard (session); 401 with the sign-in form without one. Its charts, countdowns and
  live refresh run in the browser from ``/static`` (uPlot and ``dashboard.js``, public: nothing in them is
  secret); ``GET /events`` (session) is the page's server-sent-event stream (:mod:`bot.web.events`).
- ``GET /approvals/{id}/{action}?t=...``: a prompt's signed link opens a confirmation page; nothing happens
  on GET, so link scanners in mail and chat cannot decide anything.
- ``POST /approvals/{id}/{action}``: decide, with the link token ``t`` (single use) or a session + CSRF token.
- ``POST /halt``, ``POST /resume``: session + CSRF token (:mod:`bot.web.control`).
- ``/api/...``: JSON with ``Authorization: Bearer <token>``: status (each account read from the broker now,
  :mod:`bot.live_picture`), equity (the daily equity and weights history), approvals, plans, orders, log, and
  ``POST /api/approvals/{id}/approve|reject`` with the plan version (``content_hash``) decided on.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import structlog
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from bot.actions import ActionError, approve_plan, reject_plan
from bot.approval.links import ACTIONS, LinkError
from bot.banner import trading_mode
from bot.live_picture import LivePicture, picture_or_last
from bot.reports import attention_lines
from bot.state.equity_history import EquityHistory
from bot.state.store import PlanRecord
from bot.state.web_sessions import WebSessions
from bot.web import charts, control, events, pages
from bot.web.auth import SESSION_COOKIE, WebAuth
from bot.web.events import EventStreams
from bot.web.guard import AllowedHosts, BodyTooLarge, Guard
from bot.web.throttle import FailureThrottle

if TYPE_CHECKING:
    from bot.worker import Bot

log = structlog.get_logger(__name__)

PICTURE_SECONDS = 10.0
"""The dashboard reads an account from the broker at most this often (wall seconds)."""
MAX_FORM_BYTES = 16_384
MAX_FORM_FIELDS = 16
"""The largest form the dashboard posts has six fields; more is not a browser of ours."""
CHART_DAYS = 400
"""Sessions of equity and weights history the dashboard's charts draw (about a year and a half)."""
STATIC = Path(__file__).parent / "static"


class _Static(StaticFiles):
    """The page's scripts and styles: the browser may keep them but asks again each time (a 304 while
    unchanged), so an upgrade of the bot is never met with yesterday's script."""

    async def get_response(self, path: str, scope: Any) -> Response:
        response = await super().get_response(path, scope)
        response.headers["Cache-Control"] = "no-cache"
        return response


def create_app(
    bot: Bot,
    token: str,
    log_file: Path | None = None,
    throttle: FailureThrottle | None = None,
    streams: EventStreams | None = None,
) -> FastAPI:
    """The dashboard app for ``bot``. ``throttle`` (default: the standard lock-out) counts failed uses of the
    access token per source; a test passes one with its own clock. ``streams`` (default: the standard
    limits) holds the open pages' event streams; ``app.state.streams.close()`` ends them all."""
    if bot.signer is None:
        raise ValueError("the dashboard needs the bot's link signer")
    store = bot.store
    config = bot.config
    sessions = WebSessions(store, wall=bot.signer.wall)
    auth = WebAuth(token, bot.signer, config.web.session_hours, config.web.public_url, sessions)
    throttle = throttle or FailureThrottle()
    app = FastAPI(title="rebalance-bot", docs_url=None, redoc_url=None, openapi_url=None)
    allowed = AllowedHosts.for_dashboard(config.web.host, config.web.public_url, config.web.allowed_hosts)
    app.add_middleware(Guard, allowed=allowed)  # outermost: before any route reads a byte
    app.mount("/static", _Static(directory=STATIC), name="static")
    streams = streams or EventStreams()
    app.state.streams = streams
    mode = trading_mode(config)
    bands = config.bands.to_policy()

    # -- helpers ---------------------------------------------------------------------------------------------
    def market_now() -> datetime | None:
        try:
            return bot.clock.now()
        except Exception:  # noqa: BLE001 - the broker's clock not read yet
            return None

    def client(request: Request) -> dict[str, Any]:
        return {
            "client": request.client.host if request.client else None,
            "user_agent": request.headers.get("user-agent", "")[:120],
        }

    def html(body: str, status: int = 200) -> HTMLResponse:
        return HTMLResponse(body, status_code=status)

    def refused(request: Request, status: int, title: str, text: str, **fields: Any) -> HTMLResponse:
        log.warning("web request refused", path=request.url.path, status=status, why=title, **fields)
        store.audit(
            "web_refused", path=request.url.path, status=status, why=title, **fields, **client(request)
        )
        return html(pages.message(title, text, ok=False), status)

    async def read_form(request: Request) -> dict[str, str]:
        """The posted form, read as it streams and cut off past MAX_FORM_BYTES (the guard's own limit on
        every body is larger); a form is never parsed from more than that, nor into more fields."""
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            raise HTTPException(415, "expected a form post")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                # the guard answers 413 *and closes*: an HTTPException would keep the connection alive
                # and uvicorn would go on reading (and discarding) the rest of the body for ever
                raise BodyTooLarge
        try:
            parsed = parse_qs(
                body.decode("utf-8", errors="replace"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS
            )
        except ValueError as exc:
            raise HTTPException(413, "too many form fields") from exc
        return {key: values[0] for key, values in parsed.items()}

    def decide(
        plan_id: str, action: str, who: str, channel: str, content_hash: str, reason: str, ctx: Mapping
    ) -> None:
        if action == "approve":
            approve_plan(store, plan_id, who, channel, content_hash, now=market_now(), **ctx)
        else:
            reject_plan(store, plan_id, who, channel, reason, content_hash, now=market_now(), **ctx)

    read_at: dict[str, tuple[float, LivePicture | str]] = {}

    def pictures() -> dict[str, LivePicture | str]:
        """Every account as its broker shows it now (read at most once per PICTURE_SECONDS, so a page
        reloaded often is not a burst of broker requests), or its last known picture and why."""
        out: dict[str, LivePicture | str] = {}
        for name in bot.brokers:
            seen = read_at.get(name)
            if seen is None or time.monotonic() - seen[0] > PICTURE_SECONDS:
                seen = (time.monotonic(), picture_or_last(config, store, name, bot.brokers[name]))
                read_at[name] = seen
            out[name] = seen[1]
        return out

    def household_check() -> dict[str, Mapping | None]:
        """A household's members are planned together: its aggregate weights from its latest check."""
        household = getattr(bot, "household", None)
        return {household.name: household.last_check} if household is not None else {}

    def pending(household: str | None = None) -> list[tuple[PlanRecord, Any]]:
        """Held plans waiting for a decision; with ``household``, only that household's (a fleet's state
        holds every household's plans, and one person decides for one household at a time)."""
        result = []
        for approval in store.pending_approvals():
            plan = store.get_plan(approval.plan_id)
            if plan is not None and plan.status == "held" and in_household(plan, household):
                result.append((plan, approval))
        return result

    def view(session: Any, household: str | None = None) -> pages.DashboardView:
        """What the dashboard shows now, for ``session`` (its approvals filtered to ``household`` if given);
        its version is read first, so a change made while it is read is sent again by the next refresh."""
        version = events.fingerprint(store)
        everything = pending()
        approvals = [(p, a) for p, a in everything if in_household(p, household)]
        shown = pictures()
        history = {name: EquityHistory(store).days(name, limit=CHART_DAYS) for name in bot.brokers}
        return pages.DashboardView(
            now=market_now(),
            mode=mode,
            health=bot.health(),
            halted=store.get_flag("halted"),
            attention=attention_lines(store.flags()),
            approvals=approvals,
            approval_households=sorted(Counter(household_of(p) for p, _ in everything).items()),
            household_filter=household,
            csrf=auth.csrf_token(session),
            who=session.who,
            pictures=shown,
            household=household_check(),
            plans=store.plans(limit=12),
            orders=store.orders(limit=25),
            log_lines=tail_log(log_file, 40) if log_file else [],
            charts={
                "accounts": charts.dashboard_charts(history, shown, bands),
                "plans": {plan.plan_id: charts.plan_chart(plan) for plan, _ in approvals},
            },
            version=version,
        )

    refreshed_for: list[str] = [""]

    def refresh(session: Any, household: str | None = None) -> dict[str, Any]:
        """A refresh event's payload: the state changed, so the broker is read again (a fill moved the
        positions; once per change, however many pages are open) and the page's live parts and charts are
        drawn anew."""
        version = events.fingerprint(store)
        if version != refreshed_for[0]:
            refreshed_for[0] = version
            read_at.clear()
        v = view(session, household)
        return {
            "parts": pages.live_parts(v),
            "charts": v.charts,
            "market_time": v.now.isoformat() if v.now else None,
        }

    def source(request: Request) -> str:
        return request.client.host if request.client else "?"

    def locked_out(request: Request) -> float:
        """Seconds this source must wait after too many failed tokens (0: it may try)."""
        return throttle.retry_after(source(request))

    def require_bearer(request: Request) -> None:
        wait = locked_out(request)
        if wait > 0:
            raise HTTPException(
                429, "too many failed attempts; wait", headers={"Retry-After": str(int(wait) + 1)}
            )
        if not auth.bearer_ok(request):
            if request.headers.get("authorization"):  # a wrong token, not a missing one: count it
                throttle.failed(source(request), "bearer token")
            raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})
        throttle.succeeded(source(request))

    def too_many(wait: float) -> HTMLResponse:
        text = f"Too many failed sign-ins from your address. Try again in {int(wait) + 1} seconds."
        response = html(pages.login(text), 429)
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response

    def signed_in(request: Request, fields: Mapping[str, str]):  # noqa: ANN202 - Session | None
        """The request's session with a valid CSRF token in ``fields``, from the dashboard's own origin."""
        session = auth.session(request)
        if session is None or not auth.same_origin(request) or not auth.csrf_ok(session, fields.get("csrf")):
            return None
        return session

    control.add_routes(app, store, read_form, signed_in, refused, client)  # halt, resume

    # -- health ----------------------------------------------------------------------------------------------
    @app.get("/health")
    def health() -> JSONResponse:
        state = bot.health()
        return JSONResponse(state, status_code=200 if state["status"] == "ok" else 503)

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return Response(status_code=204)

    # -- sign in ---------------------------------------------------------------------------------------------
    @app.get("/login")
    def login_page() -> HTMLResponse:
        return html(pages.login())

    @app.post("/login")
    async def login(request: Request) -> Response:
        if not auth.same_origin(request):
            return refused(
                request, 403, "Cross-site request refused", "This form must be sent from the dashboard."
            )
        wait = locked_out(request)
        if wait > 0:
            return too_many(wait)
        fields = await read_form(request)
        if not auth.token_ok(fields.get("token")):
            throttle.failed(source(request), "sign-in")
            return html(pages.login("That token is not right."), 401)
        throttle.succeeded(source(request))
        who = fields.get("who", "").strip()[:60]
        store.audit("dashboard_login", who=who or "token holder", **client(request))
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            auth.new_session(who),
            max_age=int(auth.session_seconds),
            httponly=True,
            samesite="strict",
            secure=auth.secure_cookie,
            path="/",
        )
        return response

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        """End this session on the server (the cookie is dead even if a copy of it survives)."""
        session = signed_in(request, await read_form(request))
        if session is None:
            return refused(request, 403, "Request refused", "Sign out from the dashboard itself.")
        sessions.revoke(session.sid)
        store.audit("dashboard_logout", who=session.who or "token holder", **client(request))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @app.post("/logout/everywhere")
    async def logout_everywhere(request: Request) -> Response:
        """End every open session, this one included: for a lost laptop or a cookie that may have leaked."""
        session = signed_in(request, await read_form(request))
        if session is None:
            return refused(request, 403, "Request refused", "Sign out from the dashboard itself.")
        ended = sessions.revoke_all()
        store.audit("dashboard_logout_everywhere", who=session.who or "token holder", ended=ended)
        log.warning("dashboard: every session signed out", who=session.who, ended=ended)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # -- the dashboard ---------------------------------------------------------------------------------------
    @app.get("/")
    def dashboard(request: Request, household: str = "") -> HTMLResponse:
        """The dashboard; ``?household=NAME`` shows only that household's approvals (a fleet's)."""
        session = auth.session(request)
        if session is None:
            return html(pages.login(), 401)
        return html(pages.dashboard(view(session, household[:200] or None)))

    @app.get("/events")
    async def event_stream(request: Request, since: str = "", household: str = "") -> Response:
        """The open dashboard's stream of changes (session only; the page passes the version it shows)."""
        session = await run_in_threadpool(auth.session, request)
        if session is None:
            return Response("Sign in first.", status_code=401, media_type="text/plain")
        if not streams.reserve():
            return Response(
                "Too many open dashboards; this one retries.", status_code=503, headers={"Retry-After": "5"}
            )

        return streams.response(
            streams.stream(
                since[:64],
                version=lambda: events.fingerprint(store),
                render=lambda: refresh(session, household[:200] or None),
                market_time=market_now,
                allowed=lambda: auth.session(request) is not None,
                disconnected=request.is_disconnected,
            )
        )

    # -- decisions -------------------------------------------------------------------------------------------
    @app.get("/approvals/{plan_id}/{action}")
    def confirm_page(request: Request, plan_id: str, action: str, t: str = "") -> Response:
        if action not in ACTIONS:
            return html(pages.message("Not found", "No such page.", ok=False), 404)
        if not t:
            if auth.session(request) is not None:
                return RedirectResponse(f"/#approval-{plan_id}", status_code=303)
            return html(pages.login(), 401)
        try:
            claims = bot.signer.verify(t, plan_id, action)  # type: ignore[union-attr]
        except LinkError as exc:
            return refused(
                request, 403, "This link is not valid", str(exc), plan_id=plan_id, reason=exc.reason
            )
        plan = store.get_plan(plan_id)
        if plan is None:
            return html(pages.message("Unknown plan", f"There is no plan {plan_id}.", ok=False), 404)
        if store.link_used(claims.nonce):
            return refused(
                request, 409, "This link has been used already", "Each link works once.", plan_id=plan_id
            )
        if plan.status != "held" or plan.content_hash != claims.content_hash:
            text = (
                f"Plan {plan_id} is {plan.status}: there is nothing to decide."
                if plan.status != "held"
                else "The plan changed since this link was sent."
            )
            return html(pages.message("Nothing to decide", text, ok=False), 409)
        return html(pages.confirm(plan, store.get_approval(plan_id), action, t, mode, market_now()))

    @app.post("/approvals/{plan_id}/{action}")
    async def decide_form(request: Request, plan_id: str, action: str) -> Response:
        if action not in ACTIONS:
            return html(pages.message("Not found", "No such page.", ok=False), 404)
        fields = await read_form(request)
        if not auth.same_origin(request):
            return refused(
                request, 403, "Cross-site request refused", "Decisions can only be sent from the dashboard.",
                plan_id=plan_id, origin=request.headers.get("origin"),
            )  # fmt: skip
        ctx = client(request)
        if "t" in fields:
            try:
                claims = bot.signer.verify(fields["t"], plan_id, action)  # type: ignore[union-attr]
            except LinkError as exc:
                return refused(
                    request, 403, "This link is not valid", str(exc), plan_id=plan_id, reason=exc.reason
                )
            if store.get_plan(plan_id) is None:
                return html(pages.message("Unknown plan", f"There is no plan {plan_id}.", ok=False), 404)
            if not store.use_link(claims.nonce, plan_id, action):
                return refused(
                    request, 409, "This link has been used already", "Each link works once.", plan_id=plan_id
                )
            who = fields.get("who", "").strip()[:60] or "link recipient"
            channel, content_hash = "link", claims.content_hash
        else:
            session = auth.session(request)
            if session is None:
                return html(pages.login("Sign in first."), 401)
            if not auth.csrf_ok(session, fields.get("csrf")):
                return refused(request, 403, "Request refused", "The form's CSRF token is missing or wrong.")
            content_hash = fields.get("content_hash", "")
            if not content_hash:
                return html(pages.message("Request refused", "The plan version is missing.", ok=False), 400)
            who, channel = session.who or "dashboard user", "dashboard"
        reason = fields.get("reason", "").strip()[:300]
        try:
            decide(plan_id, action, who, channel, content_hash, reason, ctx)
        except ActionError as exc:
            return html(pages.message("Not done", str(exc), ok=False), 409)
        if action == "approve":
            text = (
                f"Plan {plan_id} is approved. Before sending anything the bot checks it on fresh quotes; if "
                "prices moved too much it plans again and asks you again."
            )
            return html(pages.message(f"Approved {plan_id}", text, ok=True))
        return html(
            pages.message(
                f"Rejected {plan_id}",
                f"Plan {plan_id} is rejected; nothing of it is sent. It is not asked again until the drift "
                "changes.",
                ok=True,
            )
        )

    # -- the JSON API ----------------------------------------------------------------------------------------
    @app.get("/api/status")
    def api_status(request: Request) -> dict:
        require_bearer(request)
        return {
            "health": bot.health(),
            "halted": store.get_flag("halted"),
            "market_time": now.isoformat() if (now := market_now()) else None,
            "accounts": {
                name: p.as_json() if isinstance(p, LivePicture) else {"live": False, "problem": p}
                for name, p in pictures().items()
            },
            "household": household_check(),
            "pending_approvals": [a.plan_id for a in store.pending_approvals()],
        }

    @app.get("/api/equity")
    def api_equity(request: Request, account: str | None = None, limit: int = 400) -> list[dict]:
        """The daily equity and weights history (oldest first), for charts: one row per account and
        session, with the targets then in force."""
        require_bearer(request)
        return [d.as_json() for d in EquityHistory(store).days(account, limit=min(max(limit, 1), 5000))]

    @app.get("/api/approvals")
    def api_approvals(request: Request, household: str | None = None) -> list[dict]:
        """Held plans with their expiry; ``?household=NAME``: only that household's."""
        require_bearer(request)
        return [
            {
                **_plan_json(plan),
                "expires_at": approval.expires_at.isoformat() if approval.expires_at else None,
            }
            for plan, approval in pending(household)
        ]

    @app.get("/api/plans")
    def api_plans(request: Request, limit: int = 20) -> list[dict]:
        require_bearer(request)
        return [_plan_json(p) for p in store.plans(limit=min(max(limit, 1), 200))]

    @app.get("/api/orders")
    def api_orders(request: Request, limit: int = 50) -> list[dict]:
        require_bearer(request)
        return [
            json.loads(json.dumps(o.__dict__, default=str))
            for o in store.orders(limit=min(max(limit, 1), 500))
        ]

    @app.get("/api/log")
    def api_log(request: Request, limit: int = 50) -> list[dict]:
        require_bearer(request)
        return tail_log(log_file, min(max(limit, 1), 500)) if log_file else []

    @app.post("/api/approvals/{plan_id}/{action}")
    async def api_decide(request: Request, plan_id: str, action: str) -> JSONResponse:
        require_bearer(request)
        if action not in ACTIONS:
            raise HTTPException(404, "no such action")
        try:
            body = await request.json()
        except ValueError as exc:
            raise HTTPException(400, "expected a JSON object") from exc
        if not isinstance(body, dict) or not isinstance(body.get("content_hash"), str):
            raise HTTPException(422, "content_hash (the plan version you decide on) is required")
        who = str(body.get("who") or "api client")[:60]
        try:
            decide(
                plan_id,
                action,
                who,
                "api",
                body["content_hash"],
                str(body.get("reason", ""))[:300],
                client(request),
            )
        except ActionError as exc:
            raise HTTPException(409, str(exc)) from exc
        return JSONResponse(
            {"plan_id": plan_id, "decision": "approved" if action == "approve" else "rejected"}
        )

    return app


def household_of(plan: PlanRecord) -> str:
    """The household a plan belongs to: a household plan names it; a single account's plan is its own."""
    return str(plan.details.get("household") or plan.account)


def in_household(plan: PlanRecord, household: str | None) -> bool:
    """Whether ``plan`` passes the dashboard's household filter (None: no filter)."""
    return household is None or household_of(plan) == household


def _plan_json(plan: PlanRecord) -> dict:
    return {
        "plan_id": plan.plan_id,
        "account": plan.account,
        "status": plan.status,
        "status_reason": plan.status_reason,
        "content_hash": plan.content_hash,
        "created_at": plan.created_at.isoformat(),
        "orders": plan.details.get("orders", []),
        "estimates": plan.details.get("estimates"),
        "approval_reasons": plan.details.get("approval_reasons", []),
        "why_now": plan.details.get("trigger", {}).get("reason", ""),
    }


def tail_log(path: Path | None, limit: int) -> list[dict]:
    """The last ``limit`` JSON lines of the log file (reads only its end)."""
    if path is None or not Path(path).exists():
        return []
    with open(path, "rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - 256 * 1024))
        chunk = handle.read().decode("utf-8", errors="replace")
    lines = []
    for raw in chunk.splitlines()[-limit - 1 :]:
        try:
            line = json.loads(raw)
        except json.JSONDecodeError:
            continue
        if isinstance(line, dict):
            lines.append(line)
    return lines[-limit:]
