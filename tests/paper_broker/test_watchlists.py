"""Watchlists through alpaca-py's TradingClient (and its own session for the by-name routes it lacks)."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.models import Watchlist
from alpaca.trading.requests import CreateWatchlistRequest, UpdateWatchlistRequest

from tests.conftest import KEY, SECRET

pytestmark = pytest.mark.slow  # Slow tier: watchlists through a broker per test


def rejected(call) -> APIError:  # noqa: ANN001 - a zero-argument callable
    with pytest.raises(APIError) as caught:
        call()
    return caught.value


def symbols(watchlist: Watchlist) -> list[str]:
    return [a.symbol for a in watchlist.assets or []]


def create(trading: TradingClient, name: str, *tickers: str) -> Watchlist:
    return trading.create_watchlist(CreateWatchlistRequest(name=name, symbols=list(tickers)))


def by_name(name: str) -> str:
    return f"/watchlists:by_name?name={quote(name)}"


# -- by id ---------------------------------------------------------------------------------------------------
def test_create_get_and_list_watchlists(broker, trading):
    core = create(trading, "Core ETFs", "VTI", "agg")
    assert symbols(core) == ["VTI", "AGG"]  # in the order given, symbols in any case
    assert core.name == "Core ETFs" and core.account_id == trading.get_account().id
    assert core.created_at == core.updated_at == broker.now
    assert core.assets[0].tradable and core.assets[0].id == trading.get_asset("VTI").id
    bonds = create(trading, "Bonds", "TLT")
    assert symbols(trading.get_watchlist_by_id(core.id)) == ["VTI", "AGG"]
    listed = trading.get_watchlists()
    assert [w.name for w in listed] == ["Bonds", "Core ETFs"]  # same creation time: by name
    assert all(w.assets is None for w in listed)  # the list answers without assets, as Alpaca's does
    assert {w.id for w in listed} == {core.id, bonds.id}


def test_update_appends_and_removes_keep_the_order_and_stamp_the_change(broker, trading):
    watchlist = create(trading, "Core", "VTI")
    broker.advance(minutes=5)
    renamed = trading.update_watchlist_by_id(watchlist.id, UpdateWatchlistRequest(name="Core 2"))
    assert renamed.name == "Core 2" and symbols(renamed) == ["VTI"]
    assert renamed.updated_at == broker.now and renamed.created_at == watchlist.created_at
    replaced = trading.update_watchlist_by_id(watchlist.id, UpdateWatchlistRequest(symbols=["SPY", "IEF"]))
    assert replaced.name == "Core 2" and symbols(replaced) == ["SPY", "IEF"]
    assert symbols(trading.add_asset_to_watchlist_by_id(watchlist.id, "GLD")) == ["SPY", "IEF", "GLD"]
    assert symbols(trading.remove_asset_from_watchlist_by_id(watchlist.id, "IEF")) == ["SPY", "GLD"]
    trading.delete_watchlist_by_id(watchlist.id)
    assert rejected(lambda: trading.get_watchlist_by_id(watchlist.id)).status_code == 404
    assert trading.get_watchlists() == []


# -- by name -------------------------------------------------------------------------------------------------
def test_the_by_name_routes_do_the_same_by_name(trading):
    create(trading, "Risk on/off & more", "SPY")
    name = "Risk on/off & more"
    assert trading.get(by_name(name))["name"] == name
    assert [a["symbol"] for a in trading.post(by_name(name), {"symbol": "TLT"})["assets"]] == ["SPY", "TLT"]
    renamed = trading.put(by_name(name), {"name": "Risk", "symbols": ["GLD"]})
    assert renamed["name"] == "Risk" and [a["symbol"] for a in renamed["assets"]] == ["GLD"]
    assert rejected(lambda: trading.get(by_name(name))).status_code == 404
    trading.delete(by_name("Risk"))
    assert trading.get_watchlists() == []


# -- refusals ------------------------------------------------------------------------------------------------
def test_names_are_unique_within_an_account_but_not_across_accounts(trading, other_trading):
    first = create(trading, "Core", "VTI")
    error = rejected(lambda: create(trading, "Core", "SPY"))
    assert (error.status_code, error.code, error.message) == (422, 40010001, "watchlist name must be unique")
    other = create(trading, "Other", "SPY")
    error = rejected(lambda: trading.update_watchlist_by_id(other.id, UpdateWatchlistRequest(name="Core")))
    assert error.message == "watchlist name must be unique"
    assert symbols(trading.get_watchlist_by_id(first.id)) == ["VTI"]  # neither list was touched
    assert trading.get_watchlist_by_id(other.id).name == "Other"
    assert create(other_trading, "Core", "AGG").name == "Core"  # another account's "Core"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "x", "symbols": ["NOSUCH"]}, "asset not found: NOSUCH"),
        ({"name": "x", "symbols": ["SPY", "spy"]}, "symbols list SPY more than once"),
        ({"name": "x", "symbols": "SPY"}, "symbols must be a list of strings"),
        ({"name": "", "symbols": []}, "name is required"),
        ({"symbols": ["SPY"]}, "name is required"),
        ({"name": "x" * 65}, "name must be at most 64 characters"),
    ],
)
def test_bad_watchlists_are_refused_and_nothing_is_kept(trading, body, message):
    error = rejected(lambda: trading.post("/watchlists", body))
    assert (error.status_code, error.code, error.message) == (422, 40010001, message)
    assert trading.get_watchlists() == []


BAD_CHANGES = {
    "unknown symbol": (
        lambda c, w: c.add_asset_to_watchlist_by_id(w, "NOSUCH"),
        422,
        "asset not found: NOSUCH",
    ),
    "already listed": (
        lambda c, w: c.add_asset_to_watchlist_by_id(w, "VTI"),
        422,
        "asset VTI is already in the watchlist",
    ),
    "not listed": (
        lambda c, w: c.remove_asset_from_watchlist_by_id(w, "SPY"),
        404,
        "asset SPY is not in the watchlist",
    ),
    "bad replacement": (
        lambda c, w: c.put(f"/watchlists/{w}", {"name": "New", "symbols": ["NOSUCH"]}),
        422,
        "asset not found: NOSUCH",
    ),
    "empty update": (lambda c, w: c.put(f"/watchlists/{w}", {}), 422, "name or symbols is required"),
    "no symbol": (lambda c, w: c.post(f"/watchlists/{w}", {}), 422, "symbol is required"),
}


@pytest.mark.parametrize("change", BAD_CHANGES)
def test_bad_changes_to_a_watchlist_leave_it_as_it_was(trading, change):
    watchlist = create(trading, "Core", "VTI")
    call, status, message = BAD_CHANGES[change]
    error = rejected(lambda: call(trading, watchlist.id))
    assert (error.status_code, error.message) == (status, message)
    unchanged = trading.get_watchlist_by_id(watchlist.id)
    assert unchanged.name == "Core" and symbols(unchanged) == ["VTI"]


def test_malformed_json_is_alpacas_400(broker, trading):
    import requests

    response = requests.post(
        f"{broker.url}/v2/watchlists",
        data=b"{not json",
        headers={"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET, "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 400 and response.json()["code"] == 40010000


def test_another_accounts_watchlist_is_not_found(trading, other_trading):
    theirs = create(other_trading, "Theirs", "AGG")
    for call in (
        lambda: trading.get_watchlist_by_id(theirs.id),
        lambda: trading.add_asset_to_watchlist_by_id(theirs.id, "SPY"),
        lambda: trading.delete_watchlist_by_id(theirs.id),
        lambda: trading.get(by_name("Theirs")),
        lambda: trading.get("/watchlists/not-a-uuid"),
    ):
        error = rejected(call)
        assert (error.status_code, error.code, error.message) == (404, 40410000, "watchlist not found")
    assert symbols(other_trading.get_watchlist_by_id(theirs.id)) == ["AGG"]


def test_watchlists_survive_a_restart(make_broker):
    first = make_broker()
    client = TradingClient(KEY, SECRET, url_override=first.url)
    kept = create(client, "Core", "VTI", "AGG")
    client.update_watchlist_by_id(kept.id, UpdateWatchlistRequest(name="Core (renamed)"))
    gone = create(client, "Gone", "SPY")
    client.delete_watchlist_by_id(gone.id)
    first.stop()
    second = make_broker()
    again = TradingClient(KEY, SECRET, url_override=second.url)
    (restored,) = again.get_watchlists()
    assert restored.id == kept.id and restored.name == "Core (renamed)"
    assert symbols(again.get_watchlist_by_id(kept.id)) == ["VTI", "AGG"]
    error = rejected(lambda: create(again, "Core (renamed)"))
    assert error.message == "watchlist name must be unique"
