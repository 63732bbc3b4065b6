"""Halt and resume from the dashboard: the same :mod:`bot.actions` the CLI (``halt``, ``resume``) and the chat
(``/halt``, ``/resume``) use, so the state flag, the audit event (channel ``dashboard``) and the log line are
the same whichever way a person stops the bot.

- ``POST /halt`` (a ``reason`` for the audit trail, optional) and ``POST /resume``: forms of the signed-in
  dashboard, with its CSRF token, from its own origin - guarded like an approval. Each answers with a
  redirect to the dashboard, which shows the new state (a halt as a banner on top, with Resume in it:
  :func:`bot.web.pages.control_part`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot import actions
from bot.state.store import StateStore
from bot.web import pages

CHANNEL = "dashboard"
MAX_REASON = 300


def add_routes(
    app: FastAPI,
    store: StateStore,
    read_form: Callable[[Request], Awaitable[dict[str, str]]],
    signed_in: Callable[[Request, dict[str, str]], Any],
    refused: Callable[..., HTMLResponse],
    client: Callable[[Request], dict[str, Any]],
) -> None:
    """The halt and resume routes, with the form reader and guards of the dashboard (:mod:`bot.web.app`)."""

    async def person(request: Request) -> tuple[Any, dict[str, str]] | Response:
        """The signed-in session behind a control form (with its CSRF token, from the dashboard), or the
        answer refusing it."""
        fields = await read_form(request)
        session = signed_in(request, fields)
        if session is None:
            return refused(
                request, 403, "Request refused", "Halt and resume only from the signed-in dashboard itself."
            )
        return session, fields

    @app.post("/halt")
    async def halt(request: Request) -> Response:
        checked = await person(request)
        if isinstance(checked, Response):
            return checked
        session, fields = checked
        already = store.get_flag("halted")
        if already:
            return HTMLResponse(
                pages.message("Already halted", f"The bot is halted ({already}).", ok=False), 409
            )
        who = session.who or "dashboard user"
        reason = fields.get("reason", "").strip()[:MAX_REASON] or f"halted by {who} from the dashboard"
        actions.halt(store, who, reason, channel=CHANNEL, **client(request))
        return RedirectResponse("/", status_code=303)

    @app.post("/resume")
    async def resume(request: Request) -> Response:
        checked = await person(request)
        if isinstance(checked, Response):
            return checked
        session, _ = checked
        if not store.get_flag("halted"):
            return HTMLResponse(pages.message("Not halted", "There is nothing to resume.", ok=False), 409)
        actions.resume(store, session.who or "dashboard user", channel=CHANNEL, **client(request))
        return RedirectResponse("/", status_code=303)
