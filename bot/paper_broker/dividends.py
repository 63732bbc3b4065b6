"""Cash dividends: paid at the open of their ex-date to every account that holds the symbol.

Kept apart from the engine, which calls it under its lock when a session opens, because it is a corporate
action, not order matching: it books cash and a DIV activity and touches no order.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from bot.paper_broker import booking

if TYPE_CHECKING:
    from bot.paper_broker.engine import PaperBrokerEngine

CENT = Decimal("0.01")


def pay_dividends(engine: PaperBrokerEngine, day: date) -> None:
    """Pay ``day``'s dividends (per share, from the market data) in cash, rounded to the cent per account."""
    dividends = engine.market.data.dividends_on(day)
    for account in engine.accounts.values():
        for symbol, per_share in dividends.items():
            position = account.positions.get(symbol)
            if not position or position.qty <= 0 or per_share <= 0:
                continue
            rate = Decimal(str(per_share))
            amount = (position.qty * rate).quantize(CENT, ROUND_HALF_UP)
            account.cash += amount
            booking.add_activity(
                engine,
                account,
                "DIV",
                engine.now,
                {
                    "activity_sub_type": "CDIV",
                    "date": day.isoformat(),
                    "net_amount": amount,
                    "symbol": symbol,
                    "qty": position.qty,
                    "per_share_amount": rate,
                    "status": "executed",
                    "description": f"Cash dividend {symbol} {rate} per share",
                },
            )
            engine.store.save_account(account)
