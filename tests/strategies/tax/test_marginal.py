"""The objective's tax per dollar sold, on hand-computed lots: relief order, holding period, losses, IRAs."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from strategies.tax.estimate import TaxRates
from strategies.tax.lots import Fill, Lot, ReliefMethod
from strategies.tax.marginal import WASH_BLOCKED, marginal_tax_fraction, sell_tax_fractions
from strategies.tax.planning import TaxSettings

RATES = TaxRates(D("0.35"), D("0.15"))
DAY = date(2021, 6, 1)


def lot(symbol: str, qty: int, cost: str, acquired: date, account: str = "main") -> Lot:
    return Lot(account, symbol, D(qty), D(cost), acquired, lot_id=f"{symbol}-{acquired}-{cost}")


def fraction(lots: list[Lot], price: str = "100", **kw: object) -> float:
    return marginal_tax_fraction(lots, "main", "SPY", D(price), DAY, RATES, **kw)  # type: ignore[arg-type]


def test_fifo_prices_the_oldest_lot_at_the_long_term_rate():
    # 20 shares: the first 5% is 1 share of the 2020 lot at $50 -> $50 long-term gain, $7.50 tax on $100
    lots = [lot("SPY", 10, "90", date(2021, 3, 1)), lot("SPY", 10, "50", date(2020, 1, 2))]
    assert fraction(lots) == pytest.approx(0.075)


def test_a_short_term_first_lot_is_priced_at_the_short_term_rate():
    # bought 2020-06-01: exactly one year on 2021-06-01 is still short term; $20 gain at 35% on $100
    assert fraction([lot("SPY", 10, "80", date(2020, 6, 1))]) == pytest.approx(0.07)
    # a day earlier it is long term: 15%
    assert fraction([lot("SPY", 10, "80", date(2020, 5, 31))]) == pytest.approx(0.03)


def test_the_first_five_percent_is_averaged_over_the_lots_it_reaches():
    # 100 shares: 5 are sold, 1 from the $50 lot (long term, $7.50 tax), 4 at no gain: $7.50 on $500
    lots = [lot("SPY", 1, "50", date(2019, 1, 2)), lot("SPY", 99, "100", date(2021, 5, 3))]
    assert fraction(lots) == pytest.approx(0.015)


def test_a_first_lot_at_a_loss_prices_the_sale_at_zero_even_with_gains_behind_it():
    lots = [lot("SPY", 10, "120", date(2019, 1, 2)), lot("SPY", 10, "50", date(2020, 1, 2))]
    assert fraction(lots) == 0.0
    # the same lots under HIFO: the $120 lot still comes first (highest basis), so 0 as well
    assert fraction(lots, method=ReliefMethod.HIFO) == 0.0
    # HIFO on two gain lots sells the dearer basis first: $10 long-term gain per $100
    gains = [lot("SPY", 10, "50", date(2019, 1, 2)), lot("SPY", 10, "90", date(2020, 1, 2))]
    assert fraction(gains, method=ReliefMethod.HIFO) == pytest.approx(0.015)


def test_tax_advantaged_accounts_and_missing_lots_pay_nothing():
    lots = [lot("SPY", 10, "50", date(2019, 1, 2))]
    assert fraction(lots, tax_advantaged=True) == 0.0
    assert fraction([lot("AGG", 10, "50", date(2019, 1, 2))]) == 0.0
    ira = TaxSettings(rates=RATES, account_type="ira")
    assert sell_tax_fractions(lots, "main", {"SPY": D(100)}, DAY, ira) == {"SPY": 0.0}


def test_a_sleeve_is_priced_at_its_cheapest_held_member_and_other_accounts_are_ignored():
    settings = TaxSettings(rates=RATES, substitutes=[["VTI", "ITOT"]])
    lots = [
        lot("VTI", 10, "50", date(2019, 1, 2)),  # $50 gain per $100: 7.5%
        lot("ITOT", 10, "80", date(2019, 1, 2)),  # $20 gain per $100: 3%
        lot("AGG", 10, "50", date(2019, 1, 2), account="ira"),
    ]
    prices = {"VTI": D(100), "ITOT": D(100), "AGG": D(100)}
    found = sell_tax_fractions(lots, "main", prices, DAY, settings)
    assert found == pytest.approx({"VTI": 0.03, "ITOT": 0.03})  # AGG: no lots in this account


def test_a_sale_the_wash_sale_rule_blocks_now_costs_its_whole_proceeds_unless_a_sleeve_member_is_free():
    # VTI's first lot (FIFO) stands at a loss and VTI was bought 10 days ago: selling now would wash that
    # loss, so the tax-aware planner would defer the sale. The objective must see that, or it plans the sale
    # and the planner sells something else instead (in 2008, bonds: the stocks stayed overweight)
    settings = TaxSettings(rates=RATES, substitutes=[["VTI", "ITOT"]])
    lots = [lot("VTI", 10, "120", date(2019, 1, 2)), lot("VTI", 2, "99", date(2021, 5, 22))]
    recent_buy = Fill("main", "VTI", "buy", D(2), D(99), date(2021, 5, 22), fill_id="f1")
    prices = {"VTI": D(100), "ITOT": D(100)}
    assert sell_tax_fractions(lots, "main", prices, DAY, settings) == {"VTI": 0.0}  # no events: a loss
    blocked = sell_tax_fractions(lots, "main", prices, DAY, settings, [recent_buy])
    assert blocked == {"VTI": WASH_BLOCKED}
    # 31 days later the buy no longer washes anything
    later = date(2021, 6, 22)
    assert sell_tax_fractions(lots, "main", prices, later, settings, [recent_buy]) == {"VTI": 0.0}
    # a member of the sleeve that can be sold freely carries the sleeve's sale
    with_itot = [*lots, lot("ITOT", 10, "90", date(2019, 1, 2))]
    free = sell_tax_fractions(with_itot, "main", prices, DAY, settings, [recent_buy])
    assert free["VTI"] == pytest.approx(0.015) and free["ITOT"] == pytest.approx(0.015)
