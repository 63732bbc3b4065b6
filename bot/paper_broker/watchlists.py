"""Alpaca's watchlists: named, ordered lists of assets, per account, kept with the account's other state.

Routes: ``/v2/watchlists`` (list, create), ``/v2/watchlists/{watchlist_id}`` (get, replace name and/or
symbols, append a symbol, delete), ``/v2/watchlists/{watchlist_id}/{symbol}`` (remove a symbol) and the
same operations by name on ``/v2/watchlists:by_name?name=``. Alpaca's rules and answers:

* a name is required, at most 64 characters, and unique within the account: a second list of the same name
  is 422 ``watchlist name must be unique``;
* every symbol must be an asset the broker knows, else 422 ``asset not found: X``; a symbol already on the
  list is refused rather than listed twice;
* a list of another account, or none by that id or name, is 404 ``watchlist not found``; removing a symbol
  the list does not hold is 404;
* the list endpoint answers without assets (the spec's ``WatchlistWithoutAsset``), the others with them.

Lists are written through ``store.py`` in the same SQLite file as the account, so they survive a restart.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import FastAPI, Request, Response

from bot.paper_broker import errors
from bot.paper_broker.engine import PaperBrokerEngine
from bot.paper_broker.models import Account, Watchlist, find_symbol
from bot.paper_broker.params import json_body
from bot.paper_broker.serialize import asset_json, ts

MAX_NAME = 64


def watchlist_not_found() -> errors.BrokerError:
    return errors.BrokerError(404, 40410000, "watchlist not found")


class Watchlists:
    """Every account's watchlists, in memory and in the store; callers hold the engine's lock."""

    def __init__(self, engine: PaperBrokerEngine) -> None:
        self.engine = engine
        self._lists = {w.id: w for w in engine.store.load_watchlists()}

    def of(self, account: Account) -> list[Watchlist]:
        mine = [w for w in self._lists.values() if w.account_id == account.id]
        return sorted(mine, key=lambda w: (w.created_at, w.name))

    def by_id(self, account: Account, watchlist_id: str) -> Watchlist:
        found = self._lists.get(watchlist_id)
        if found is None or found.account_id != account.id:
            raise watchlist_not_found()
        return found

    def by_name(self, account: Account, name: str) -> Watchlist:
        for watchlist in self.of(account):
            if watchlist.name == name:
                return watchlist
        raise watchlist_not_found()

    def create(self, account: Account, body: Any) -> Watchlist:
        fields = _object(body)
        name = self._free_name(account, fields.get("name"))
        symbols = self._symbols(fields.get("symbols") or [])
        now = self.engine.now
        watchlist = Watchlist(str(uuid.uuid4()), account.id, name, now, now, symbols)
        return self._save(watchlist)

    def update(self, account: Account, watchlist: Watchlist, body: Any) -> Watchlist:
        fields = _object(body)
        name, symbols = fields.get("name"), fields.get("symbols")
        if name is None and symbols is None:
            raise errors.invalid_request("name or symbols is required")
        name = watchlist.name if name is None else self._free_name(account, name, keep=watchlist)
        symbols = watchlist.symbols if symbols is None else self._symbols(symbols)
        watchlist.name, watchlist.symbols = name, symbols  # only once both are known to be good
        return self._save(watchlist)

    def add(self, watchlist: Watchlist, body: Any) -> Watchlist:
        symbol = _object(body).get("symbol")
        if not isinstance(symbol, str) or not symbol.strip():
            raise errors.invalid_request("symbol is required")
        known = self._known(symbol)
        if known in watchlist.symbols:
            raise errors.invalid_request(f"asset {known} is already in the watchlist")
        watchlist.symbols.append(known)
        return self._save(watchlist)

    def remove(self, watchlist: Watchlist, symbol: str) -> Watchlist:
        wanted = find_symbol(watchlist.symbols, symbol)
        if wanted is None:
            raise errors.BrokerError(404, 40410000, f"asset {symbol} is not in the watchlist")
        watchlist.symbols.remove(wanted)
        return self._save(watchlist)

    def delete(self, watchlist: Watchlist) -> None:
        with self.engine.store.transaction():
            self.engine.store.delete_watchlist(watchlist.id)
            del self._lists[watchlist.id]

    def _save(self, watchlist: Watchlist) -> Watchlist:
        watchlist.updated_at = self.engine.now
        with self.engine.store.transaction():
            self.engine.store.save_watchlist(watchlist)
            self._lists[watchlist.id] = watchlist
        return watchlist

    def _free_name(self, account: Account, name: Any, keep: Watchlist | None = None) -> str:
        if not isinstance(name, str) or not name.strip():
            raise errors.invalid_request("name is required")
        if len(name) > MAX_NAME:
            raise errors.invalid_request(f"name must be at most {MAX_NAME} characters")
        if any(w.name == name and w is not keep for w in self.of(account)):
            raise errors.invalid_request("watchlist name must be unique")
        return name

    def _symbols(self, symbols: Any) -> list[str]:
        if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
            raise errors.invalid_request("symbols must be a list of strings")
        known = [self._known(s) for s in symbols]
        repeated = sorted({s for s in known if known.count(s) > 1})
        if repeated:
            raise errors.invalid_request(f"symbols list {', '.join(repeated)} more than once")
        return known

    def _known(self, symbol: str) -> str:
        found = find_symbol(self.engine.market.data.symbols, symbol.strip())
        if found is None:
            raise errors.invalid_request(f"asset not found: {symbol}")
        return found


def _object(body: Any) -> dict:
    if not isinstance(body, dict):
        raise errors.malformed_body()
    return body


def watchlist_json(engine: PaperBrokerEngine, watchlist: Watchlist, assets: bool = True) -> dict:
    body: dict[str, Any] = {
        "id": watchlist.id,
        "account_id": watchlist.account_id,
        "created_at": ts(watchlist.created_at),
        "updated_at": ts(watchlist.updated_at),
        "name": watchlist.name,
    }
    if assets:
        body["assets"] = [asset_json(engine, s) for s in watchlist.symbols]
    return body


def watchlist_routes(app: FastAPI, engine: PaperBrokerEngine, current: Any) -> None:  # noqa: C901 - routes
    lists = Watchlists(engine)

    def answer(watchlist: Watchlist) -> dict:
        return watchlist_json(engine, watchlist)

    @app.get("/v2/watchlists")
    def list_watchlists(account: Account = current) -> list[dict]:
        with engine.lock:
            return [watchlist_json(engine, w, assets=False) for w in lists.of(account)]

    @app.post("/v2/watchlists")
    async def create_watchlist(request: Request, account: Account = current) -> dict:
        body = await json_body(request)
        with engine.lock:
            return answer(lists.create(account, body))

    @app.get("/v2/watchlists:by_name")
    def get_by_name(name: str, account: Account = current) -> dict:
        with engine.lock:
            return answer(lists.by_name(account, name))

    @app.put("/v2/watchlists:by_name")
    async def update_by_name(request: Request, name: str, account: Account = current) -> dict:
        body = await json_body(request)
        with engine.lock:
            return answer(lists.update(account, lists.by_name(account, name), body))

    @app.post("/v2/watchlists:by_name")
    async def add_by_name(request: Request, name: str, account: Account = current) -> dict:
        body = await json_body(request)
        with engine.lock:
            return answer(lists.add(lists.by_name(account, name), body))

    @app.delete("/v2/watchlists:by_name", status_code=204)
    def delete_by_name(name: str, account: Account = current) -> Response:
        with engine.lock:
            lists.delete(lists.by_name(account, name))
        return Response(status_code=204)

    @app.get("/v2/watchlists/{watchlist_id}")
    def get_watchlist(watchlist_id: str, account: Account = current) -> dict:
        with engine.lock:
            return answer(lists.by_id(account, watchlist_id))

    @app.put("/v2/watchlists/{watchlist_id}")
    async def update_watchlist(request: Request, watchlist_id: str, account: Account = current) -> dict:
        body = await json_body(request)
        with engine.lock:
            return answer(lists.update(account, lists.by_id(account, watchlist_id), body))

    @app.post("/v2/watchlists/{watchlist_id}")
    async def add_asset(request: Request, watchlist_id: str, account: Account = current) -> dict:
        body = await json_body(request)
        with engine.lock:
            return answer(lists.add(lists.by_id(account, watchlist_id), body))

    @app.delete("/v2/watchlists/{watchlist_id}", status_code=204)
    def delete_watchlist(watchlist_id: str, account: Account = current) -> Response:
        with engine.lock:
            lists.delete(lists.by_id(account, watchlist_id))
        return Response(status_code=204)

    @app.delete("/v2/watchlists/{watchlist_id}/{symbol}")
    def remove_asset(watchlist_id: str, symbol: str, account: Account = current) -> dict:
        with engine.lock:
            return answer(lists.remove(lists.by_id(account, watchlist_id), symbol))
