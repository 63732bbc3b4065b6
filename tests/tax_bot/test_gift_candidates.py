"""Gifting and donation candidates in the tax report (bot/tax/reports.py): only taxable-account lots held long
term; a short-term lot is shown apart, saying a donation of it deducts only its basis.

The household of ``config/household.yaml``: accounts ``taxable``, ``ira`` and ``roth``. Lots valued on
2024-06-03 at VTI $250 and AGG $100.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from bot.config import load_config
from bot.state.store import StateStore
from bot.tax.reports import gift_candidates, tax_report
from strategies.tax import HouseholdLedger, Lot

HOUSEHOLD = Path(__file__).resolve().parents[2] / "config" / "household.yaml"
AS_OF = date(2024, 6, 3)
PRICES = {"VTI": Decimal(250), "AGG": Decimal(100)}


def lot(account: str, symbol: str, qty: int, cost: int, acquired: date) -> Lot:
    return Lot(
        account, symbol, Decimal(qty), Decimal(cost), acquired, lot_id=f"{account}-{symbol}-{acquired}"
    )


LOTS = (
    lot("roth", "VTI", 400, 100, date(2015, 3, 2)),  # +$60,000 long term, but in a Roth
    lot("ira", "VTI", 300, 120, date(2016, 3, 1)),  # +$39,000 long term, but in an IRA
    lot("taxable", "VTI", 200, 150, date(2024, 1, 10)),  # +$20,000, short term (long term from 2025-01-11)
    lot("taxable", "VTI", 100, 130, date(2019, 5, 1)),  # +$12,000 long term: the best candidate
    lot("taxable", "AGG", 100, 90, date(2020, 2, 3)),  # +$1,000 long term
    lot("taxable", "AGG", 50, 110, date(2021, 2, 1)),  # a loss: never a candidate
)


def test_only_long_term_gains_in_taxable_accounts_are_candidates() -> None:
    long_term, short_term = gift_candidates(LOTS, PRICES, AS_OF, lambda name: name in {"ira", "roth"})
    assert [(g.lot.account, g.lot.symbol, g.gain) for g in long_term] == [
        ("taxable", "VTI", Decimal("12000.00")),
        ("taxable", "AGG", Decimal("1000.00")),
    ]
    assert [(g.lot.account, g.lot.symbol, g.gain) for g in short_term] == [
        ("taxable", "VTI", Decimal("20000.00"))
    ]


def test_the_report_ranks_no_ira_or_roth_lot_and_flags_a_short_term_lot() -> None:
    config = load_config(HOUSEHOLD)
    with StateStore(None) as store:
        report = tax_report(config, store, HouseholdLedger(LOTS), PRICES, AS_OF)
    assert [(g.lot.account, g.gain) for g in report.largest_gains] == [
        ("taxable", Decimal("12000.00")),
        ("taxable", Decimal("1000.00")),
    ]
    text = "\n".join(report.lines())
    candidates = text.split("candidates for gifting or donation rather than sale):")[1]
    assert "roth" not in candidates and "ira VTI" not in candidates
    assert (
        "taxable VTI 200 sh bought 2024-01-10 worth $50,000.00, gain $20,000.00: short term, donated now it"
        " deducts only its basis $30,000.00; long term from 2025-01-11"
    ) in text
    assert "not candidates yet: a donation of a short-term lot deducts only its basis" in text
