"""Reconcile the lot ledger with the broker's positions, and block the symbols where they disagree.

Why: every tax number (realised gain, term, wash sales) comes from the ledger. If the broker holds shares
the ledger cannot explain (history missing, lots not imported, a corporate action, a transfer), those
numbers are fiction; tax-aware decisions in that symbol (harvesting, deferring, per-lot estimates) stop until
the ledger agrees again, while other symbols carry on. A new mismatch raises one alert; the block lifts by
itself on the first reconciliation that agrees (e.g. after ``rebalance-bot lots import``), and that is
recorded too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

import structlog

from bot.state.store import StateStore
from strategies.tax import Ledger, Mismatch, reconcile

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Reconciliation:
    """The outcome for one account: every mismatch now, which of them are new, which blocks lifted."""

    mismatches: tuple[Mismatch, ...]
    new: tuple[Mismatch, ...]
    resolved: tuple[str, ...]

    @property
    def blocked(self) -> frozenset[str]:
        return frozenset(m.symbol for m in self.mismatches)


def mismatches(
    ledger: Ledger, account: str, positions: Mapping[str, Decimal], tolerance: Decimal
) -> tuple[Mismatch, ...]:
    return reconcile(ledger, {account: dict(positions)}, tolerance=tolerance)


def apply_reconciliation(
    store: StateStore, account: str, found: Iterable[Mismatch], run_id: str | None = None
) -> Reconciliation:
    """Record the blocks for ``found`` (the account's mismatches now) and lift those no longer found."""
    found = tuple(found)
    new: list[Mismatch] = []
    for mismatch in found:
        if store.set_tax_block(account, mismatch.symbol, mismatch.ledger_qty, mismatch.broker_qty):
            new.append(mismatch)
            store.audit(
                "tax_ledger_mismatch",
                run_id=run_id,
                account=account,
                symbol=mismatch.symbol,
                ledger_qty=mismatch.ledger_qty,
                broker_qty=mismatch.broker_qty,
            )
            log.warning(
                "tax ledger does not match the broker; tax-aware trading in the symbol stops",
                symbol=mismatch.symbol,
                ledger_qty=str(mismatch.ledger_qty),
                broker_qty=str(mismatch.broker_qty),
            )
    current = {m.symbol for m in found}
    resolved: list[str] = []
    for block in store.tax_blocks(account):
        if block.symbol not in current and store.clear_tax_block(account, block.symbol):
            resolved.append(block.symbol)
            store.audit("tax_ledger_mismatch_resolved", run_id=run_id, account=account, symbol=block.symbol)
            log.info("tax ledger agrees with the broker again", symbol=block.symbol)
    return Reconciliation(found, tuple(new), tuple(resolved))


def mismatch_alert(account: str, new: Iterable[Mismatch]) -> tuple[str, list[str]]:
    """Title and lines of the alert for new mismatches."""
    new = tuple(new)
    symbols = ", ".join(m.symbol for m in new)
    lines = [
        f"The lot ledger of account {account} does not match the broker's positions in {symbols}.",
        "Tax-aware trading (per-lot tax estimates, harvesting, deferral) in these symbols stops until it",
        "does; rebalancing goes on, with the average-cost estimate. Positive difference: the broker holds",
        "shares the ledger cannot explain (bought before the bot or transferred in?): import their lots with",
        f"  rebalance-bot lots import FILE --account {account}",
        *[f"  {m.describe()}" for m in new],
    ]
    return f"tax ledger mismatch in {account}: {symbols}", lines
