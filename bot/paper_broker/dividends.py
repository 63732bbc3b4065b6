"""Cash dividends: paid into every holding account at the open of the ex-date, as DIV activities.

Why its own module: paying a dividend is bookkeeping on the engine's accounts, not matching; kept apart, the
engine stays about orders and time (it calls ``pay`` under its lock when a session opens).
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.paper_broker.engine import PaperBrokerEngine

CENT = Decimal("0.01")


def pay(engine: PaperBrokerEngine, day: date) -> None:
    """Credit each account ``qty x per-share amount`` (to the cent) for every symbol going ex on ``day``."""
    dividends = engine.market.data.dividends_on(day)
    for account in engine.accounts.values():
        for symbol, per_share in dividends.items():
            position = account.positions.get(symbol)
            if not position or position.qty <= 0 or per_share <= 0:
                continue
            rate = Decimal(str(per_share))
            amount = (position.qty * rate).quantize(CENT, ROUND_HALF_UP)
            account.cash += amount
            engine._add_activity(  # noqa: SLF001 - the engine's activity log
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
