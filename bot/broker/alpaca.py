"""The bot's broker adapter over alpaca-py: typed reads, retries we control, and a submit that never doubles.

alpaca-py is used for what it does well (authentication headers, URLs, turning error answers into
``APIError``), with two of its defaults switched off because an unattended bot cannot live with them:

* it sets no HTTP timeout: a ``requests`` adapter mounted on each client's session adds one (and counts the
  requests actually sent, for the requests-per-cycle benchmark);
* it silently retries 429 and 504 three times, 3 s apart, *including* ``POST /v2/orders``: its retry count
  is set to zero and retries happen here instead, with tenacity and the injected ``sleep``.

Reads (and the idempotent cancels) are retried on connection errors, timeouts, 5xx and 429 with exponential
backoff and jitter; a 429 waits until ``X-RateLimit-Reset`` (capped by ``max_wait``). A submit is never
retried blindly: after an ambiguous failure the order is looked up by its client_order_id, and only when the
broker says it does not exist is it sent again (with the same client_order_id, which Alpaca keeps unique, so
even a late-arriving first request cannot create a second order).

Bodies are posted as raw JSON with decimal strings, and answers are mapped by hand to ``models``: no amount
ever goes through a float.
"""

from __future__ import annotations

import functools
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import InvalidOperation
from typing import Any
from urllib.parse import urlparse

import requests
import structlog
from alpaca.common.exceptions import APIError
from alpaca.common.rest import RESTClient
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.trading.client import TradingClient
from requests.adapters import HTTPAdapter
from tenacity import RetryCallState, RetryError, Retrying, retry_if_exception, stop_after_attempt

from bot.broker.models import (
    AccountState,
    AssetInfo,
    BarState,
    BrokerClock,
    BrokerError,
    BrokerUnavailable,
    OrderIntent,
    OrderNotSent,
    OrderState,
    PositionState,
    QuoteState,
    SubmitOutcomeUnknown,
)
from bot.broker.parsing import bar_state, dec, iso, opt_dec, order_state, position_state, ts
from bot.broker.rounding import round_limit_price, round_notional, round_qty, wire

log = structlog.get_logger(__name__)

DUPLICATE_CLIENT_ORDER_ID = "client_order_id must be unique"
ACCOUNT_NOT_FOUND = "account not found"
BACKOFF_INITIAL = 0.5
BACKOFF_JITTER = 0.5
ORDERS_MAX_LIMIT = 500
ACTIVITIES_MAX_PAGE_SIZE = 100
BARS_MAX_PAGE = 10_000
TRANSPORT_ERRORS: tuple[type[Exception], ...] = (
    requests.exceptions.ConnectionError,  # includes a connection dropped before any answer
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    requests.exceptions.InvalidJSONError,  # a 2xx whose body is not JSON (cut short)
)


class _Transient(Exception):
    """An answer that may change if asked again: 5xx or 429 (with the rate limit's reset time, if sent)."""

    def __init__(self, status: int, code: int | None, message: str, reset: float | None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.reset = reset


class _TimeoutCountingAdapter(HTTPAdapter):
    """Gives every request a timeout (alpaca-py passes none) and counts what is sent."""

    def __init__(self, timeout: float, on_send: Callable[[], None]) -> None:
        super().__init__()
        self._timeout = timeout
        self._on_send = on_send

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout
        self._on_send()
        return super().send(request, **kwargs)


@dataclass(frozen=True)
class Routes:
    """Where one account's resources live, below the trading client's versioned base URL. The Trading API
    serves the keys' own account at fixed paths; the Broker API names a customer's (``broker_api.py``)."""

    account: str = "/account"
    positions: str = "/positions"
    orders: str = "/orders"
    fills: str = "/account/activities/FILL"
    fills_query: tuple[tuple[str, str], ...] = ()
    """Query parameters every activities request carries (the Broker API's ``account_id``)."""


TRADING_API = Routes()


def market_data_url(trading_url: str | None) -> str | None:
    """Where market data is read for a trading API at ``trading_url``: Alpaca serves it from its own host
    (``data.alpaca.markets``, alpaca-py's default: None) for its paper and live trading hosts alike, while
    the embedded paper broker (any other URL) serves both APIs from one server. Sending data requests to
    ``paper-api.alpaca.markets`` itself would get 404s on every bar and quote."""
    if trading_url is None or (urlparse(trading_url).hostname or "").endswith(".alpaca.markets"):
        return None
    return trading_url


class AlpacaBroker:
    """Alpaca's Trading and Market Data APIs as the bot needs them (see the module docstring)."""

    def __init__(
        self,
        key_id: str,
        secret_key: str,
        *,
        trading_url: str | None = None,
        data_url: str | None = None,
        paper: bool = True,
        timeout: float = 10.0,
        max_attempts: int = 5,
        max_wait: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        wall_clock: Callable[[], float] = time.time,
        feed: str | None = None,
    ) -> None:
        self._connect(
            TradingClient(key_id, secret_key, paper=paper, url_override=trading_url),
            StockHistoricalDataClient(
                key_id, secret_key, url_override=data_url or market_data_url(trading_url)
            ),
            TRADING_API,
            timeout=timeout,
            max_attempts=max_attempts,
            max_wait=max_wait,
            sleep=sleep,
            wall_clock=wall_clock,
            feed=feed,
        )

    def _connect(
        self,
        trading: RESTClient,
        data: RESTClient,
        routes: Routes,
        *,
        timeout: float = 10.0,
        max_attempts: int = 5,
        max_wait: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        wall_clock: Callable[[], float] = time.time,
        feed: str | None = None,
    ) -> None:
        """Take over alpaca-py's clients (its retries off, a timeout on) and set the retry policy."""
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        self._trading = trading
        self._data = data
        self._routes = routes
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._max_wait = max_wait
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._feed = feed
        self._count_lock = threading.Lock()
        self._request_count = 0
        self.before_send: Callable[[], None] | None = None
        """Called before every HTTP request (fleet mode: take a token from the key's shared budget)."""
        self._fractionable: dict[str, bool] = {}
        for client in (self._trading, self._data):
            _tame(client, _TimeoutCountingAdapter(timeout, self._count_request))

    # -- bookkeeping -------------------------------------------------------------------------------------
    @property
    def request_count(self) -> int:
        """HTTP requests sent so far (every attempt, both APIs)."""
        return self._request_count

    def _count_request(self) -> None:
        if self.before_send is not None:
            self.before_send()
        with self._count_lock:
            self._request_count += 1

    # -- reads -------------------------------------------------------------------------------------------
    def clock(self) -> BrokerClock:
        raw = self._read(self._trading, "GET", "/clock")
        return BrokerClock(
            timestamp=ts(raw["timestamp"]),
            is_open=bool(raw["is_open"]),
            next_open=ts(raw["next_open"]),
            next_close=ts(raw["next_close"]),
        )

    def account(self) -> AccountState:
        raw = self._read(self._trading, "GET", self._routes.account)
        return AccountState(
            cash=dec(raw["cash"]),
            equity=dec(raw["equity"]),
            buying_power=dec(raw["buying_power"]),
            status=str(raw["status"]),
            last_equity=opt_dec(raw.get("last_equity")),
        )

    def positions(self) -> list[PositionState]:
        return [position_state(p) for p in self._read(self._trading, "GET", self._routes.positions)]

    def open_orders(self) -> list[OrderState]:
        return self.orders(status="open", limit=ORDERS_MAX_LIMIT)

    def orders(
        self,
        after: datetime | None = None,
        status: str = "all",
        limit: int = ORDERS_MAX_LIMIT,
        direction: str = "desc",
    ) -> list[OrderState]:
        """One page of orders (Alpaca does not paginate orders: at most 500, newest first by default)."""
        params: dict[str, Any] = {"status": status, "limit": limit, "direction": direction}
        if after is not None:
            params["after"] = iso(after)
        return [order_state(o) for o in self._read(self._trading, "GET", self._routes.orders, params)]

    def order(self, order_id: str) -> OrderState:
        return order_state(self._read(self._trading, "GET", f"{self._routes.orders}/{order_id}"))

    def order_by_client_id(self, client_order_id: str) -> OrderState | None:
        try:
            path = f"{self._routes.orders}:by_client_order_id"
            raw = self._read(self._trading, "GET", path, {"client_order_id": client_order_id})
        except BrokerError as exc:
            if _no_such_order(exc):
                return None
            raise
        return order_state(raw)

    def latest_quotes(self, symbols: Sequence[str]) -> dict[str, QuoteState]:
        """Latest quotes of all ``symbols`` in one request; symbols without a quote are left out."""
        wanted = sorted({s.upper() for s in symbols})
        if not wanted:
            return {}
        params: dict[str, Any] = {"symbols": ",".join(wanted)}
        if self._feed:
            params["feed"] = self._feed
        raw = self._read(self._data, "GET", "/stocks/quotes/latest", params)
        quotes = {}
        for symbol, q in (raw.get("quotes") or {}).items():
            quotes[symbol] = QuoteState(
                symbol=symbol,
                bid=dec(q.get("bp") or 0),
                ask=dec(q.get("ap") or 0),
                timestamp=ts(q["t"]) if q.get("t") else None,
            )
        return quotes

    def bars(
        self, symbols: Sequence[str], timeframe: str, start: datetime, end: datetime | None = None
    ) -> dict[str, list[BarState]]:
        """Bars of ``symbols`` (Market Data API, e.g. ``"1Min"`` or ``"1Day"``) starting in ``[start, end]``,
        oldest first, following ``next_page_token``; symbols without bars are left out."""
        wanted = sorted({s.upper() for s in symbols})
        if not wanted:
            return {}
        params: dict[str, Any] = {
            "symbols": ",".join(wanted),
            "timeframe": timeframe,
            "start": iso(start),
            "limit": BARS_MAX_PAGE,
            "sort": "asc",
        }
        if end is not None:
            params["end"] = iso(end)
        if self._feed:
            params["feed"] = self._feed
        out: dict[str, list[BarState]] = {}
        token: str | None = None
        while True:
            raw = self._read(self._data, "GET", "/stocks/bars", {**params, "page_token": token}) or {}
            for symbol, bars in (raw.get("bars") or {}).items():
                out.setdefault(symbol, []).extend(bar_state(symbol, b) for b in bars or [])
            next_token = raw.get("next_page_token")
            if not next_token:
                return out
            if next_token == token:
                raise BrokerUnavailable("bar paging did not advance")
            token = next_token

    def daily_bars(
        self, symbols: Sequence[str], start: datetime, end: datetime | None = None
    ) -> dict[str, list[BarState]]:
        """Daily (``1Day``) bars of ``symbols`` in ``[start, end]``, oldest first, for the dynamic triggers'
        trailing returns. Cached in memory per (symbols, start day, end day): one request (plus pages) a day
        however often the bot cycles; the cache keeps only the latest key."""
        key = (tuple(sorted({s.upper() for s in symbols})), start.date(), end.date() if end else None)
        cached = getattr(self, "_daily_cache", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        bars = self.bars(key[0], "1Day", start, end)
        self._daily_cache = (key, bars)
        return bars

    def assets(self, symbols: Sequence[str]) -> dict[str, AssetInfo]:
        """One request per symbol. A symbol the broker does not know comes back not tradable ("not_found")."""
        out: dict[str, AssetInfo] = {}
        for symbol in dict.fromkeys(s.upper() for s in symbols):
            try:
                raw = self._read(self._trading, "GET", f"/assets/{symbol}")
            except BrokerError as exc:
                if exc.status != 404:
                    raise
                log.warning("asset not found", symbol=symbol)
                out[symbol] = AssetInfo(symbol, tradable=False, fractionable=False, status="not_found")
                continue
            info = AssetInfo(
                symbol=str(raw["symbol"]),
                tradable=bool(raw.get("tradable")),
                fractionable=bool(raw.get("fractionable")),
                status=str(raw.get("status", "")),
            )
            self._fractionable[symbol] = info.fractionable
            out[symbol] = info
        return out

    def fill_activities(
        self, after: datetime | None = None, page_size: int = ACTIVITIES_MAX_PAGE_SIZE
    ) -> list[dict]:
        """All FILL activities (oldest first), following ``page_token`` until a short page."""
        if not 1 <= page_size <= ACTIVITIES_MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {ACTIVITIES_MAX_PAGE_SIZE}")
        params: dict[str, Any] = {
            **dict(self._routes.fills_query),
            "direction": "asc",
            "page_size": page_size,
        }
        if after is not None:
            params["after"] = iso(after)
        out: list[dict] = []
        token: str | None = None
        while True:
            query = {**params, "page_token": token}
            page = self._read(self._trading, "GET", self._routes.fills, query) or []
            out.extend(page)
            if len(page) < page_size:
                return out
            last = str(page[-1]["id"])
            if last == token:  # a broker that ignores the token would loop forever
                raise BrokerUnavailable("activity paging did not advance")
            token = last

    # -- orders ------------------------------------------------------------------------------------------
    def cancel(self, order_id: str) -> None:
        try:
            self._read(self._trading, "DELETE", f"{self._routes.orders}/{order_id}")
        except BrokerError as exc:
            if _no_such_order(exc) or exc.status == 422:
                log.info("cancel: order already final or unknown", order_id=order_id, status=exc.status)
                return
            raise

    def cancel_all(self) -> int:
        """Cancel every open order; returns how many the broker accepted to cancel."""
        raw = self._read(self._trading, "DELETE", self._routes.orders) or []
        return sum(1 for item in raw if 200 <= int(item.get("status", 200)) < 300)

    def submit(self, intent: OrderIntent) -> OrderState:
        """Place ``intent`` exactly once (see the module docstring).

        Raises BrokerError for a refusal and SubmitOutcomeUnknown when the order's fate could not be learnt.
        """
        body = self._order_body(intent)
        cid = intent.client_order_id
        bound = log.bind(client_order_id=cid, symbol=intent.symbol, side=intent.side)
        for send in range(1, self._max_attempts + 1):
            bound.info("submit: sending", attempt=send)
            try:
                raw = self._once(self._trading, "POST", self._routes.orders, body)
            except BrokerError as exc:
                if exc.status == 422 and DUPLICATE_CLIENT_ORDER_ID in exc.message:
                    bound.warning("submit: client_order_id already used, looking the order up")
                    return self._existing(intent, bound, exc)
                if send > 1:
                    # An earlier send may still have been booked (a timed-out request served late), and a
                    # refusal of the resend (buying power it reserved, a wash trade with it) must not hide it.
                    found = self._lookup(intent, bound, exc)
                    if found is not None:
                        bound.info("submit: resend refused, earlier send found", order_id=found.id)
                        return found
                bound.warning("submit: refused", status=exc.status, code=exc.code, message=exc.message)
                raise
            except (_Transient, *TRANSPORT_ERRORS) as exc:
                bound.warning(
                    "submit: no definite answer, looking the order up", attempt=send, error=_brief(exc)
                )
                found = self._lookup(intent, bound, exc)
                if found is not None:
                    bound.info("submit: order found at the broker", order_id=found.id, status=found.status)
                    return found
                if send == self._max_attempts:
                    break
                wait = self._resend_wait(exc, send)
                bound.info("submit: order absent at the broker, sending again", wait=round(wait, 3))
                if wait > 0:
                    self._sleep(wait)
                continue
            try:
                state = order_state(raw)
            except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
                # Accepted (2xx) but unreadable: never send again; the lookup may still tell what was booked.
                bound.error("submit: accepted but the answer could not be read", error=_brief(exc))
                found = self._lookup(intent, bound, exc)
                if found is None:
                    raise SubmitOutcomeUnknown(cid, f"unreadable answer to an accepted order: {exc}") from exc
                return found
            bound.info("submit: accepted", order_id=state.id, status=state.status)
            return state
        bound.error("submit: giving up after ambiguous failures", attempts=self._max_attempts)
        raise SubmitOutcomeUnknown(
            cid, f"no definite answer after {self._max_attempts} sends; the last lookup found no order"
        )

    def _order_body(self, intent: OrderIntent) -> dict[str, Any]:
        body: dict[str, Any] = {
            "symbol": intent.symbol.upper(),
            "side": intent.side,
            "type": intent.type,
            "time_in_force": intent.time_in_force,
            "client_order_id": intent.client_order_id,
        }
        if intent.qty is not None:
            fractionable = self._fractionable.get(intent.symbol.upper(), True)
            qty = round_qty(intent.qty, fractionable)
            if qty <= 0:
                raise OrderNotSent(f"qty {intent.qty} rounds to {qty} (fractionable={fractionable})")
            body["qty"] = wire(qty)
        if intent.notional is not None:
            notional = round_notional(intent.notional)
            if notional <= 0:
                raise OrderNotSent(f"notional {intent.notional} rounds to {notional}")
            body["notional"] = wire(notional)
        if intent.limit_price is not None:
            body["limit_price"] = wire(round_limit_price(intent.limit_price, intent.side))
        return body

    def _lookup(self, intent: OrderIntent, bound: Any, cause: Exception) -> OrderState | None:
        try:
            found = self.order_by_client_id(intent.client_order_id)
        except (BrokerUnavailable, BrokerError) as exc:
            bound.error("submit: lookup failed, outcome unknown", error=_brief(exc))
            raise SubmitOutcomeUnknown(
                intent.client_order_id, f"send failed ({_brief(cause)}) and the lookup failed ({_brief(exc)})"
            ) from exc
        if found is not None:
            _check_same_order(intent, found)
        return found

    def _existing(self, intent: OrderIntent, bound: Any, duplicate: BrokerError) -> OrderState:
        found = self._lookup(intent, bound, duplicate)
        if found is None:
            raise SubmitOutcomeUnknown(intent.client_order_id, "duplicate client_order_id, yet no such order")
        bound.info("submit: answered by the existing order", order_id=found.id, status=found.status)
        return found

    # -- transport ---------------------------------------------------------------------------------------
    def _read(self, client: RESTClient, method: str, path: str, params: dict | None = None) -> Any:
        """One idempotent request with the read retry policy; BrokerError at once for a definite refusal."""
        retrying = Retrying(
            stop=stop_after_attempt(self._max_attempts),
            wait=self._wait,
            retry=retry_if_exception(lambda e: isinstance(e, (_Transient, *TRANSPORT_ERRORS))),
            sleep=self._sleep,
            before_sleep=lambda state: log.warning(
                "broker request failed, retrying",
                method=method,
                path=path,
                attempt=state.attempt_number,
                error=_brief(state.outcome.exception()),
                wait=round(state.next_action.sleep, 3) if state.next_action else None,
            ),
        )
        try:
            return retrying(self._once, client, method, path, params)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            attempts = self._max_attempts
            log.error("broker unavailable", method=method, path=path, attempts=attempts, error=_brief(last))
            raise BrokerUnavailable(f"{method} {path}: {_brief(last)} after {attempts} attempts") from last

    def _once(self, client: RESTClient, method: str, path: str, data: dict | None) -> Any:
        """Exactly one HTTP request through alpaca-py (whose own retries are off)."""
        if data is not None:
            data = {k: v for k, v in data.items() if v is not None}
        call = {"GET": client.get, "POST": client.post, "DELETE": client.delete}[method]
        try:
            return call(path, data)
        except APIError as exc:
            status, code, message, reset = _error_details(exc)
            if status == 429 or status >= 500 or status == 0:
                raise _Transient(status, code, message, reset) from exc
            raise BrokerError(status, code, message) from exc

    def _resend_wait(self, exc: BaseException, send: int) -> float:
        """Before sending an order again. After a 429 the lookup has just got through, so only a reset still
        ahead is waited for; other failures back off as reads do."""
        if isinstance(exc, _Transient) and exc.status == 429:
            left = exc.reset - self._wall_clock() if exc.reset is not None else 0.0
            return min(max(left, 0.0), self._max_wait)
        return self._wait_after(exc, send)

    def _wait(self, state: RetryCallState) -> float:
        return self._wait_after(state.outcome.exception() if state.outcome else None, state.attempt_number)

    def _wait_after(self, exc: BaseException | None, attempt: int) -> float:
        """Until the rate limit resets for a 429 that says when; else exponential backoff with jitter."""
        if isinstance(exc, _Transient) and exc.status == 429 and exc.reset is not None:
            left = exc.reset - self._wall_clock()
            if left > 0:
                return min(left, self._max_wait)
        return min(BACKOFF_INITIAL * 2 ** (attempt - 1) + random.uniform(0, BACKOFF_JITTER), self._max_wait)


# -- helpers -------------------------------------------------------------------------------------------------
def _tame(client: RESTClient, adapter: HTTPAdapter) -> None:
    """Switch alpaca-py's own retries off and give its session a timeout and a request counter."""
    client._retry = 0
    client._retry_codes = []
    client._session.mount("https://", adapter)
    client._session.mount("http://", adapter)
    _environment_once(client._session, str(client._base_url))


def _environment_once(session: requests.Session, base_url: str) -> None:
    """Read the proxy and CA-bundle settings from the environment once, when the client is made.

    ``requests`` re-reads them on every request, and urllib's proxy lookup scans *every* environment
    variable to do it: in a fleet worker, whose environment holds each account's key variables (thousands),
    that scan was a third of each request's CPU (``scripts/bench_fleet.py``, profiled). A proxy set in the
    environment after the first client for that URL is made is not seen, as for any long-running service."""
    proxies, verify = _environment_settings(base_url)
    session.proxies.update(proxies)
    session.verify = verify
    session.trust_env = False


@functools.lru_cache(maxsize=64)
def _environment_settings(base_url: str) -> tuple[dict[str, str], bool | str]:
    """Proxies and CA bundle for ``base_url`` from the environment, once per process: a fleet worker makes
    two clients per account, and each lookup scans the whole environment (3 ms at a few hundred variables)."""
    settings = requests.Session().merge_environment_settings(base_url, {}, None, None, None)
    return dict(settings["proxies"]), settings["verify"]


def _error_details(exc: APIError) -> tuple[int, int | None, str, float | None]:
    response = exc.response
    status = response.status_code if response is not None else 0
    code: int | None = None
    message = str(exc)
    try:
        code = int(exc.code)
        message = str(exc.message)
    except (ValueError, KeyError, TypeError):
        pass
    reset = None
    if response is not None and response.headers.get("X-RateLimit-Reset"):
        try:
            reset = float(response.headers["X-RateLimit-Reset"])
        except ValueError:
            reset = None
    return status, code, message, reset


def _no_such_order(exc: BrokerError) -> bool:
    """A 404 about the order. Alpaca answers an unknown *account* with 404 too (a Broker API account id
    that is wrong); that one must not pass as "the order does not exist", which would let a submit resend."""
    return exc.status == 404 and ACCOUNT_NOT_FOUND not in exc.message


def _check_same_order(intent: OrderIntent, found: OrderState) -> None:
    """A client_order_id reused for a different order must not pass as this one."""
    if found.symbol.upper() != intent.symbol.upper() or found.side != intent.side:
        raise BrokerError(
            422,
            40010001,
            f"{DUPLICATE_CLIENT_ORDER_ID}: {intent.client_order_id} is order {found.id} "
            f"({found.side} {found.symbol}), not {intent.side} {intent.symbol}",
        )


def _brief(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown"
    text = str(exc)
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__
