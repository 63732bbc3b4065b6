"""The paper broker's Broker API: one adviser key pair acting on many customer accounts, as Alpaca's does.

An adviser on Alpaca's Broker API holds one set of credentials (HTTP Basic auth) and names the customer
account in each path (``/v1/trading/accounts/{account_id}/orders``). What those routes do is the Trading API's
for that account, so they are served by the very same handlers (``app.py``): each v2 handler is mounted again
under its Broker API path with its ``account`` dependency swapped for one that checks the broker key and
finds the account by its id. One order engine, one set of parameter checks, one JSON shape; only what
differs is here:

* authentication: ``Authorization: Basic`` with the accounts file's ``broker_api`` key pair, else Alpaca's
  401;
* the account: an unknown id is Alpaca's 404 ``account not found for {id}``, a malformed one a 422;
* the trade account (``GET .../account``) carries the Broker API's extra fields (``cash_withdrawable``,
  ``previous_close`` and the other previous-close values) that alpaca-py's ``TradeAccount`` requires;
* activities are listed per account (``GET /v1/accounts/activities[/{type}]?account_id=``). Alpaca lists every
  account's when ``account_id`` is left out; the paper broker asks for it (422) instead.

Served: exactly what the bot's Broker API adapter (``bot/broker/broker_api.py``) sends, plus the activity
listing without a type, which is the one alpaca-py's ``BrokerClient.get_account_activities`` reads. Market
data keeps its v2 paths; :func:`data_caller` lets the broker key read it, as Alpaca's does.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import inspect
from collections.abc import Callable
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.routing import APIRoute

from bot.paper_broker import errors
from bot.paper_broker.engine import PaperBrokerEngine
from bot.paper_broker.models import Account
from bot.paper_broker.params import uuid_param
from bot.paper_broker.serialize import account_json, ts

CUSTOMER = "/v1/trading/accounts/{account_id}"
PER_ACCOUNT = (
    ("GET", "/v2/positions", CUSTOMER + "/positions"),
    ("GET", "/v2/orders", CUSTOMER + "/orders"),
    ("POST", "/v2/orders", CUSTOMER + "/orders"),
    ("DELETE", "/v2/orders", CUSTOMER + "/orders"),
    ("GET", "/v2/orders:by_client_order_id", CUSTOMER + "/orders:by_client_order_id"),
    ("GET", "/v2/orders/{order_id}", CUSTOMER + "/orders/{order_id}"),
    ("DELETE", "/v2/orders/{order_id}", CUSTOMER + "/orders/{order_id}"),
)
"""(method, Trading API path, Broker API path) of the routes that act on the account named in the path."""
BY_QUERY = (
    ("GET", "/v2/account/activities/{activity_type}", "/v1/accounts/activities/{activity_type}"),
    ("GET", "/v2/account/activities", "/v1/accounts/activities"),
)
"""Routes naming the account in the ``account_id`` query parameter."""
BROKER_WIDE = (
    ("GET", "/v2/clock", "/v1/clock"),
    ("GET", "/v2/assets/{symbol_or_asset_id}", "/v1/assets/{symbol_or_asset_id}"),
)
"""Routes about the market, not an account: only the broker key is checked."""


def broker_api_routes(app: FastAPI, engine: PaperBrokerEngine) -> None:
    """Register the Broker API routes; call after the Trading API routes, whose handlers they reuse."""

    def broker(request: Request) -> None:
        _check_broker_key(engine, request)

    def customer(request: Request, account_id: str) -> Account:
        _check_broker_key(engine, request)
        return _account(engine, account_id)

    def customer_by_query(request: Request, account_id: str | None = None) -> Account:
        _check_broker_key(engine, request)
        if not account_id:
            raise errors.invalid_request("account_id is required: this paper broker lists one account's")
        return _account(engine, account_id)

    @app.get(CUSTOMER + "/account")
    def trade_account(account: Account = Depends(customer)) -> dict:
        with engine.lock:
            return trade_account_json(engine, account)

    for mounts, dependency in ((PER_ACCOUNT, customer), (BY_QUERY, customer_by_query), (BROKER_WIDE, broker)):
        for method, source, target in mounts:
            _mount_again(app, method, source, target, dependency)


def trade_account_json(engine: PaperBrokerEngine, account: Account) -> dict[str, Any]:
    """The Trading API's account plus the fields the Broker API's trade account adds. Of the previous close's
    values the paper broker keeps equity and maintenance margin (already in the v2 shape); the others it does
    not keep are null, which alpaca-py's ``TradeAccount`` accepts, rather than numbers it would make up."""
    body = account_json(engine, account)
    closed = engine.calendar.last_closed_session(engine.now)
    return {
        **body,
        "cash_withdrawable": body["cash"],  # no settlement or transfers are simulated: all cash is settled
        "cash_transferable": body["cash"],
        "previous_close": ts(closed.close) if closed is not None else None,
        "last_long_market_value": None,
        "last_short_market_value": None,
        "last_cash": None,
        "last_initial_margin": None,
        "last_regt_buying_power": None,
        "last_buying_power": None,
        "clearing_broker": "ALPACA_APCA",
    }


def data_caller(engine: PaperBrokerEngine, customer: Callable[[Request], Account]) -> Callable[..., Any]:
    """The market-data routes' dependency: a customer's own key pair, or the broker's (Basic auth), as
    Alpaca's Market Data API takes either."""

    def caller(request: Request) -> Account | None:
        if request.headers.get("Authorization", "").lower().startswith("basic "):
            _check_broker_key(engine, request)
            return None
        return customer(request)

    return caller


def _check_broker_key(engine: PaperBrokerEngine, request: Request) -> None:
    keys = engine.broker_api_keys
    given = _basic_credentials(request.headers.get("Authorization"))
    if keys is None or given is None:
        raise errors.unauthorized()
    key_ok = hmac.compare_digest(given[0].encode(), keys.key_id.encode())
    secret_ok = hmac.compare_digest(given[1].encode(), keys.secret_key.encode())
    if not (key_ok and secret_ok):
        raise errors.unauthorized()


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(key, secret) of an ``Authorization: Basic`` header; None when absent or malformed."""
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        key, colon, secret = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (key, secret) if colon else None


def _account(engine: PaperBrokerEngine, account_id: str) -> Account:
    wanted = uuid_param(account_id, "account_id")
    account = engine.accounts.get(wanted or "")
    if account is None:
        raise errors.BrokerError(404, 40410000, f"account not found for {account_id}")
    return account


def _mount_again(app: FastAPI, method: str, source: str, target: str, dependency: Callable[..., Any]) -> None:
    """Serve the Trading API handler of ``method source`` at ``target`` too, its ``account`` parameter
    filled by ``dependency``: same parameters, checks, status code and answer."""
    route = next(
        (r for r in app.routes if isinstance(r, APIRoute) and r.path == source and method in r.methods),
        None,
    )
    if route is None:
        raise RuntimeError(f"no Trading API route {method} {source} to serve at {target}")
    endpoint = route.endpoint
    signature = inspect.signature(endpoint, eval_str=True)
    parameters = [
        p.replace(default=Depends(dependency)) if p.name == "account" else p
        for p in signature.parameters.values()
    ]
    if inspect.iscoroutinefunction(endpoint):

        async def handler(*args: Any, **kwargs: Any) -> Any:
            return await endpoint(*args, **kwargs)

    else:

        def handler(*args: Any, **kwargs: Any) -> Any:
            return endpoint(*args, **kwargs)

    handler = functools.wraps(endpoint)(handler)
    handler.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    app.add_api_route(
        target,
        handler,
        methods=[method],
        status_code=route.status_code,
        response_model=route.response_model,
        name=f"broker_api_{route.name}",
    )
