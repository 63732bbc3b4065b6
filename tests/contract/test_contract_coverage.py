"""Every stock operation in Alpaca's two OpenAPI specs is served by the paper broker; what is not is named.

A rebalancer pointed at the paper broker and later at Alpaca must not meet a route here that Alpaca has and
the broker lacks. So each operation of the Trading and Market Data specs is either sent to the broker (with
its path filled in) and must reach a handler, which answers in Alpaca's shape and never with a 5xx, or
is listed in :data:`OUT_OF_SCOPE` with the reason. A new operation in a future spec fails this test until
it is served or listed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import requests

from bot.paper_broker.server import PaperBroker
from tests.conftest import KEY, SECRET

pytestmark = pytest.mark.slow  # Slow tier: one request per operation of both specs (about 60)

SPECS = Path(__file__).parent / "specs"
OUT_OF_SCOPE = {
    r"^/v1/locates": "short-sale locates: the bot never sells short",
    r"^/v2beta1/events/|^/v1beta1/events/": "event streams over SSE, beta",
    r"^/v2/corporate_actions|^/v1/corporate-actions|^/v1beta1/corporate-actions": (
        "corporate-action announcements: the broker applies the bundled data's dividends itself"
    ),
    r"^/v2/options|/do-not-exercise$|/exercise$|^/v1beta1/options": "options: the bot trades stocks and ETFs",
    r"^/v2/tokenization|^/v2/wallets": "crypto wallets and tokenization",
    r"^/v1beta3/crypto": "crypto market data",
    r"^/v1beta1/(fixed_income|forex|logos|news|screener)": "non-stock data products",
    r"^/v2/stocks/(\{symbol\}/)?auctions|^/v2/stocks/meta/": (
        "auction prints and condition/exchange code tables: the bundled data has neither"
    ),
    r"^/v3/calendar/": "per-market calendars (v3): /v2/calendar serves the one market the broker runs",
}
ORDER_ID = "00000000-0000-4000-8000-000000000000"


def operations() -> list[tuple[str, str, str]]:
    """(spec, method, path) of every operation in both specs."""
    found = []
    for name in ("trading-api.json", "market-data-api.json"):
        spec = json.loads((SPECS / name).read_text())
        for path, item in spec["paths"].items():
            for method in ("get", "post", "patch", "put", "delete"):
                if method in item:
                    found.append((name, method.upper(), path))
    return found


def out_of_scope(path: str) -> str | None:
    return next((why for pattern, why in OUT_OF_SCOPE.items() if re.search(pattern, path)), None)


def concrete(path: str) -> str:
    """The path with its parameters filled: a symbol the data has, ids that exist nowhere."""
    values = {
        "symbol": "SPY",
        "symbol_or_asset_id": "SPY",
        "order_id": ORDER_ID,
        "watchlist_id": ORDER_ID,
        "activity_type": "FILL",
    }
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "x"), path)


def test_the_specs_list_the_stock_operations_a_rebalancer_uses() -> None:
    served = [op for op in operations() if out_of_scope(op[2]) is None]
    assert len(served) >= 45  # orders, positions, account, activities, assets, watchlists, bars, quotes...
    assert ("trading-api.json", "PATCH", "/v2/orders/{order_id}") in served
    assert ("market-data-api.json", "GET", "/v2/stocks/snapshots") in served


@pytest.mark.parametrize(
    ("spec", "method", "path"),
    [op for op in operations() if out_of_scope(op[2]) is None],
    ids=lambda value: str(value),
)
def test_every_stock_operation_reaches_a_handler_and_answers_in_alpacas_shape(
    broker: PaperBroker, spec: str, method: str, path: str
) -> None:
    headers = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
    params = {"symbols": "SPY", "timeframe": "1Day"} if spec.startswith("market") else {}
    body = {} if method in ("POST", "PATCH", "PUT") else None
    response = requests.request(
        method, broker.url + concrete(path), headers=headers, params=params, json=body, timeout=30
    )
    assert response.status_code < 500, response.text
    payload = response.json() if response.content else None
    if response.status_code >= 400:
        # Alpaca's error shape, and a handler's own answer: not the router's "no such route" or "method"
        assert isinstance(payload, dict) and {"code", "message"} <= payload.keys(), response.text
        assert payload["message"] != "endpoint not found" and response.status_code != 405, response.text
