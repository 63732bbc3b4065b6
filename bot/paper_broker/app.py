"""The paper broker's HTTP face: Alpaca's Trading API v2 and Market Data API v2 paths over FastAPI.

Routes are thin: they authenticate, parse parameters, call the engine under its lock and serialise. Alpaca's
error shape (``{"code", "message"}``) is used for every error, including unknown routes, malformed JSON and
bad query parameters. ``FaultMiddleware`` sits in front of everything to inject rate limits, server errors,
slow responses and dropped connections. Paths under ``/_paper`` are the simulator's own controls.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.paper_broker import errors, replace
from bot.paper_broker.broker_api_routes import broker_api_routes, data_caller
from bot.paper_broker.engine import PaperBrokerEngine
from bot.paper_broker.faults import FaultConfig, FaultInjector
from bot.paper_broker.market_clock import market_clock_routes
from bot.paper_broker.market_routes import market_data_routes
from bot.paper_broker.models import Account, find_symbol
from bot.paper_broker.params import (
    ACTIVITY_CATEGORIES,
    ACTIVITY_TYPES,
    ORDER_SIDES,
    AssetFilter,
    choice,
    choices,
    configuration_changes,
    date_param,
    time_param,
    uuid_param,
)
from bot.paper_broker.params import json_body as _json_body
from bot.paper_broker.portfolio_history import portfolio_history_routes
from bot.paper_broker.position_routes import position_routes
from bot.paper_broker.serialize import (
    NEW_YORK,
    account_json,
    activity_json,
    asset_json,
    configurations_json,
    order_json,
    position_json,
    ts_new_york,
)
from bot.paper_broker.trade_stream import TradeUpdates, trade_stream_route
from bot.paper_broker.watchlists import watchlist_routes

CLOSED_STATUSES = frozenset(
    {"filled", "canceled", "expired", "rejected", "replaced", "done_for_day", "stopped"}
)
DROP_FLAG = "paper_broker.drop_response"


def create_app(engine: PaperBrokerEngine, faults: FaultInjector | None = None) -> FastAPI:
    """Build the ASGI app for one engine. ``faults`` defaults to Alpaca's rate limit and nothing else."""
    injector = faults or FaultInjector(FaultConfig())
    app = FastAPI(title="rebalance-bot paper broker", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.engine = engine
    app.state.faults = injector
    _install_error_handlers(app)
    _trading_routes(app, engine)
    current = Depends(_account_dependency(engine))
    position_routes(app, engine, current)
    portfolio_history_routes(app, engine, current)
    watchlist_routes(app, engine, current)
    market_clock_routes(app, engine, current)
    broker_api_routes(app, engine)
    data_auth = Depends(data_caller(engine, _account_dependency(engine)))  # a customer's keys or the broker's
    app.state.market_data_pool = market_data_routes(app, engine, data_auth)
    _control_routes(app, engine, injector)
    app.state.trade_updates = TradeUpdates()
    engine.publish = app.state.trade_updates.publish
    trade_stream_route(app, engine, app.state.trade_updates)
    return FaultMiddleware(app, injector)  # type: ignore[return-value]


# -- errors --------------------------------------------------------------------------------------------------
def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(errors.BrokerError)
    async def _broker_error(_: Request, exc: errors.BrokerError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body"))
        return JSONResponse(
            {"code": 40010001, "message": f"invalid {where}: {first['msg']}"}, status_code=422
        )

    @app.exception_handler(OverflowError)
    async def _overflow(_: Request, exc: OverflowError) -> JSONResponse:
        """A value out of any representable range is the request's fault: Alpaca's 422, never a 500 (the
        parameters are range-checked where they are read; this is the net under them)."""
        return JSONResponse({"code": 40010001, "message": f"value out of range: {exc}"}, status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        """A bug still answers in Alpaca's error shape (Starlette would send a plain-text 500)."""
        return JSONResponse({"code": 50010000, "message": "internal server error"}, status_code=500)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: 40410000, 405: 40510000}.get(exc.status_code, exc.status_code * 100000)
        message = "endpoint not found" if exc.status_code == 404 else str(exc.detail).lower()
        return JSONResponse({"code": code, "message": message}, status_code=exc.status_code)


def _account_dependency(engine: PaperBrokerEngine):  # noqa: ANN202 - FastAPI dependency
    def authenticated_account(request: Request) -> Account:
        return engine.authenticate(
            request.headers.get("APCA-API-KEY-ID"), request.headers.get("APCA-API-SECRET-KEY")
        )

    return authenticated_account


# -- trading API ---------------------------------------------------------------------------------------------
def _trading_routes(app: FastAPI, engine: PaperBrokerEngine) -> None:  # noqa: C901 - one place lists the routes
    current = Depends(_account_dependency(engine))

    @app.get("/v2/account")
    def get_account(account: Account = current) -> dict:
        with engine.lock:
            return account_json(engine, account)

    @app.get("/v2/account/configurations")
    def get_configurations(account: Account = current) -> dict:
        return configurations_json(account)

    @app.patch("/v2/account/configurations")
    async def patch_configurations(request: Request, account: Account = current) -> dict:
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise errors.malformed_body()
        engine.update_settings(account, configuration_changes(body))
        return configurations_json(account)

    @app.get("/v2/positions")
    def list_positions(account: Account = current) -> list[dict]:
        with engine.lock:
            return [position_json(engine, account, s) for s in sorted(account.positions)]

    @app.get("/v2/positions/{symbol_or_asset_id}")
    def get_position(symbol_or_asset_id: str, account: Account = current) -> dict:
        with engine.lock:
            symbol = _symbol_for(engine, symbol_or_asset_id)
            if symbol not in account.positions:
                raise errors.position_not_found()
            return position_json(engine, account, symbol)

    @app.post("/v2/orders")
    async def submit_order(request: Request, account: Account = current) -> dict:
        body = await _json_body(request)
        order = engine.submit_order(account, body)
        request.scope[DROP_FLAG] = True
        with engine.lock:
            return order_json(order, engine.groups.legs_of(order))  # Alpaca answers with the legs

    @app.get("/v2/orders")
    def list_orders(
        account: Account = current,
        status: str = "open",
        limit: int = 50,
        after: str | None = None,
        until: str | None = None,
        direction: str = "desc",
        nested: bool = False,
        symbols: str | None = None,
        side: str | None = None,
    ) -> list[dict]:
        if status not in ("open", "closed", "all"):
            raise errors.invalid_request("status must be one of open, closed, all")
        if direction not in ("asc", "desc"):
            raise errors.invalid_request("direction must be asc or desc")
        if not 1 <= limit <= 500:
            raise errors.invalid_request("limit must be between 1 and 500")
        choice(side, "side", ORDER_SIDES)
        after_t, until_t = time_param(after, "after"), time_param(until, "until")
        wanted = {s.strip().upper() for s in symbols.split(",")} if symbols else None
        with engine.lock:
            orders = [
                o
                for o in engine.account_orders(account)
                if _status_matches(o.status, status)
                and (wanted is None or o.symbol in wanted)
                and (side is None or o.side == side)
                and (after_t is None or o.submitted_at > after_t)
                and (until_t is None or o.submitted_at < until_t)
            ]
            if nested:  # legs roll up under their top-level order, which is listed if any of them matches
                orders = list({top.id: top for top in map(engine.groups.top_of, orders)}.values())
            orders.sort(key=lambda o: (o.submitted_at, o.sequence), reverse=direction == "desc")
            return [order_json(o, engine.groups.legs_of(o) if nested else None) for o in orders[:limit]]

    @app.get("/v2/orders:by_client_order_id")
    def get_order_by_client_id(client_order_id: str, account: Account = current) -> dict:
        with engine.lock:
            return order_json(engine.get_order_by_client_id(account, client_order_id))

    @app.get("/v2/orders/{order_id}")
    def get_order(order_id: str, account: Account = current, nested: bool = False) -> dict:
        with engine.lock:
            order = engine.get_order(account, order_id)
            return order_json(order, engine.groups.legs_of(order) if nested else None)

    @app.patch("/v2/orders/{order_id}")
    async def replace_order(order_id: str, request: Request, account: Account = current) -> dict:
        order = replace.replace_order(engine, account, order_id, await _json_body(request))
        with engine.lock:
            return order_json(order, engine.groups.legs_of(order))

    @app.delete("/v2/orders/{order_id}", status_code=204)
    def cancel_order(order_id: str, account: Account = current) -> Response:
        engine.cancel_order(account, order_id)
        return Response(status_code=204)

    @app.delete("/v2/orders")
    def cancel_all_orders(account: Account = current) -> JSONResponse:
        canceled = engine.cancel_all(account)
        body = [{"id": o.id, "status": 200, "body": order_json(o)} for o in canceled]
        return JSONResponse(body, status_code=207)

    @app.get("/v2/clock")
    def get_clock(account: Account = current) -> dict:
        now = engine.now
        return {
            "timestamp": ts_new_york(now),
            "is_open": engine.calendar.is_open(now),
            "next_open": ts_new_york(engine.calendar.next_open(now)),
            "next_close": ts_new_york(engine.calendar.next_close(now)),
        }

    @app.get("/v2/calendar")
    def get_calendar(
        account: Account = current, start: str | None = None, end: str | None = None
    ) -> list[dict]:
        today = engine.now.astimezone(NEW_YORK).date()
        first = date_param(start, "start") or today
        last = date_param(end, "end") or first + timedelta(days=365 * 2)
        if last < first:
            raise errors.BrokerError(400, 40010000, "end must not be before start")
        return [_calendar_day(engine, s) for s in engine.calendar.sessions_between(first, last)]

    @app.get("/v2/assets")
    def list_assets(
        account: Account = current,
        status: str | None = None,
        asset_class: str | None = None,
        exchange: str | None = None,
        attributes: str | None = None,
    ) -> list:
        wanted = AssetFilter.parse(status, asset_class, exchange, attributes)
        with engine.lock:
            assets = [asset_json(engine, s) for s in sorted(engine.market.data.symbols)]
        return [a for a in assets if wanted.matches(a)]

    @app.get("/v2/assets/{symbol_or_asset_id}")
    def get_asset(symbol_or_asset_id: str, account: Account = current) -> dict:
        with engine.lock:
            return asset_json(engine, _symbol_for(engine, symbol_or_asset_id))

    @app.get("/v2/account/activities/{activity_type}")
    def activities_of_type(
        activity_type: str,
        account: Account = current,
        date: str | None = None,
        after: str | None = None,
        until: str | None = None,
        direction: str = "desc",
        page_size: int = 100,
        page_token: str | None = None,
        order_id: str | None = None,
    ) -> list[dict]:
        kinds = choices(activity_type, "activity_type", ACTIVITY_TYPES, upper=True)
        return _activities(
            engine, account, kinds, date, after, until, direction, page_size, page_token, order_id
        )

    @app.get("/v2/account/activities")
    def all_activities(
        account: Account = current,
        activity_types: str | None = None,
        date: str | None = None,
        after: str | None = None,
        until: str | None = None,
        direction: str = "desc",
        page_size: int = 100,
        page_token: str | None = None,
        order_id: str | None = None,
        category: str | None = None,
    ) -> list[dict]:
        kinds = choices(activity_types, "activity_types", ACTIVITY_TYPES, upper=True)
        if choice(category, "category", tuple(ACTIVITY_CATEGORIES)) == "trade_activity":
            kinds = (kinds or frozenset(ACTIVITY_TYPES)) & {"FILL"}
        elif category == "non_trade_activity":
            kinds = (kinds or frozenset(ACTIVITY_TYPES)) - {"FILL"}
        return _activities(
            engine, account, kinds, date, after, until, direction, page_size, page_token, order_id
        )


def _status_matches(order_status: str, wanted: str) -> bool:
    if wanted == "all":
        return True
    is_closed = order_status in CLOSED_STATUSES
    return is_closed if wanted == "closed" else not is_closed


def _activities(
    engine: PaperBrokerEngine,
    account: Account,
    kinds: frozenset[str] | None,
    day: str | None,
    after: str | None,
    until: str | None,
    direction: str,
    page_size: int,
    page_token: str | None,
    order_id: str | None = None,
) -> list[dict]:
    """Alpaca's activity paging: sorted by time; ``page_token`` is the id of the last activity seen."""
    of_order = uuid_param(order_id, "order_id")
    if direction not in ("asc", "desc"):
        raise errors.invalid_request("direction must be asc or desc")
    if not 1 <= page_size <= 100:
        raise errors.invalid_request("page_size must be between 1 and 100")
    after_t, until_t = time_param(after, "after"), time_param(until, "until")
    on_day = date_param(day, "date")
    with engine.lock:
        items = [
            a
            for a in engine.account_activities(account)
            if (kinds is None or a.activity_type in kinds)
            and (after_t is None or a.time > after_t)
            and (until_t is None or a.time < until_t)
            and (on_day is None or a.time.astimezone(NEW_YORK).date() == on_day)
            and (of_order is None or a.fields.get("order_id") == of_order)
        ]
    items.sort(key=lambda a: (a.time, a.id), reverse=direction == "desc")
    if page_token:
        ids = [a.id for a in items]
        if page_token not in ids:
            raise errors.invalid_request("invalid page_token")
        items = items[ids.index(page_token) + 1 :]
    return [activity_json(a) for a in items[:page_size]]


def _calendar_day(engine: PaperBrokerEngine, session) -> dict:  # noqa: ANN001 - calendar.Session
    open_local = session.open.astimezone(NEW_YORK)
    close_local = session.close.astimezone(NEW_YORK)
    following = engine.calendar.sessions_between(
        session.date + timedelta(days=1), session.date + timedelta(days=10)
    )
    return {
        "date": session.date.isoformat(),
        "open": open_local.strftime("%H:%M"),
        "close": close_local.strftime("%H:%M"),
        "session_open": "0400",
        "session_close": "2000",
        "settlement_date": following[0].date.isoformat() if following else session.date.isoformat(),
    }


def _symbol_for(engine: PaperBrokerEngine, symbol_or_id: str) -> str:
    symbol = find_symbol(engine.market.data.symbols, symbol_or_id)
    if symbol is None:
        raise errors.asset_not_found(symbol_or_id)
    return symbol


# -- simulator controls --------------------------------------------------------------------------------------
def _control_routes(app: FastAPI, engine: PaperBrokerEngine, faults: FaultInjector) -> None:
    @app.get("/_paper/state")
    def state() -> dict:
        with engine.lock:
            return {
                "now": engine.now.isoformat(),
                "is_open": engine.calendar.is_open(engine.now),
                "accounts": [a.name for a in engine.accounts.values()],
                "symbols": list(engine.market.data.symbols),
            }

    @app.post("/_paper/advance")
    async def advance(request: Request) -> dict:
        body = await _json_body(request) or {}
        if "until" in body:
            target = time_param(str(body["until"]), "until")
        elif "minutes" in body and isinstance(body["minutes"], int | float) and body["minutes"] >= 0:
            try:
                target = engine.now + timedelta(minutes=body["minutes"])
            except OverflowError:
                raise errors.invalid_request("minutes: too far in the future") from None
        else:
            raise errors.invalid_request("give 'minutes' (>= 0) or 'until' (RFC 3339)")
        calendar = engine.calendar
        last_close = calendar.sessions_between(calendar.start, calendar.end)[-1].close
        if target > last_close:
            raise errors.invalid_request(
                f"cannot advance past the simulated calendar's last close ({last_close.isoformat()})"
            )
        engine.advance_to(target)
        return {"now": engine.now.isoformat()}

    @app.put("/_paper/faults")
    async def set_faults(request: Request) -> dict:
        body = await _json_body(request)
        try:
            config = FaultConfig.model_validate(body or {})
        except ValueError as exc:
            raise errors.invalid_request(f"invalid fault config: {exc}") from None
        faults.configure(config)
        return config.model_dump()


# -- faults --------------------------------------------------------------------------------------------------
class FaultMiddleware:
    """Pure ASGI middleware in front of the app: rate limit, server errors, slowness, dropped connections."""

    def __init__(self, app: FastAPI, faults: FaultInjector) -> None:
        self.app = app
        self.faults = faults
        self.state = app.state

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001 - ASGI signature
        if scope["type"] != "http" or scope["path"].startswith("/_paper"):
            await self.app(scope, receive, send)
            return
        key = dict(scope["headers"]).get(b"apca-api-key-id", b"").decode(errors="replace") or "anonymous"
        rate = self.faults.rate(key)
        headers = _rate_headers(rate)
        if rate is not None and not rate.allowed:
            await _send_json(send, 429, errors.rate_limited().body(), headers)
            return
        status = self.faults.server_error()
        if status is not None:
            await _send_json(
                send, status, {"code": status * 100000, "message": "internal server error"}, headers
            )
            return
        delay = self.faults.delay()
        await self.app(scope, receive, self._wrap_send(scope, send, headers, delay))

    def _wrap_send(self, scope, send, headers: list[tuple[bytes, bytes]], delay: float = 0.0):  # noqa: ANN001, ANN202
        """Slow answers are delayed after the request was served, so an order that times out is still booked,
        as a slow real broker would book it."""

        async def wrapped(message: dict) -> None:
            if message["type"] == "http.response.start":
                if delay:
                    await asyncio.sleep(delay)
                if scope.get(DROP_FLAG) and message["status"] == 200 and self.faults.drop_accepted_order():
                    _drop_connection(send)
                    scope["paper_broker.dropped"] = True
                    return
                message = {**message, "headers": list(message.get("headers", [])) + headers}
            if scope.get("paper_broker.dropped"):
                return
            await send(message)

        return wrapped


def _drop_connection(send) -> None:  # noqa: ANN001 - the ASGI server's send callable
    """Close the TCP connection without a response, as a network failure after the order was booked would.

    uvicorn's ``send`` is a method of its per-request cycle object, which owns the transport; closing it makes
    the client see the connection end with no status line at all.
    """
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise RuntimeError("cannot drop the connection: the ASGI server does not expose its transport")
    transport.close()
    cycle.disconnected = True
    cycle.response_complete = True


def _rate_headers(rate) -> list[tuple[bytes, bytes]]:  # noqa: ANN001 - RateDecision | None
    if rate is None:
        return []
    return [
        (b"x-ratelimit-limit", str(rate.limit).encode()),
        (b"x-ratelimit-remaining", str(rate.remaining).encode()),
        (b"x-ratelimit-reset", str(rate.reset_epoch).encode()),
    ]


async def _send_json(send, status: int, body: dict, headers: list[tuple[bytes, bytes]]) -> None:  # noqa: ANN001
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ]
            + headers,
        }
    )
    await send({"type": "http.response.body", "body": payload})
