"""Dynamic triggers on hand-computed cases: for each, a case where it fires and a case where it waits.

Unless a test says otherwise the portfolio is 60/40 SPY/AGG at $100 a share, so SPY at 64% means
$64,000 of $100,000 and a +4pp drift.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pytest

from strategies.bands import Band
from strategies.dynamic_triggers import (
    CalendarBackstop,
    Cooldown,
    CostBenefitGate,
    CostOptimalBands,
    RegimeTrigger,
    SidedBand,
    SidedBandPolicy,
    SidedBandTrigger,
    VolatilityAdaptiveBands,
    cube_root_half_width,
    tracking_error_half_width,
)
from strategies.market_state import AssetCosts, Garch11, MarketState, Window
from strategies.planner import TradeTo, plan_rebalance
from strategies.portfolio import PortfolioSnapshot, Side
from strategies.targets import CASH
from strategies.triggers import AllOf, AnyOf, BandTrigger, Trigger, TriggerContext
from tests.strategies.builders import D, bands, settings, snapshot, targets

SIXTY_FORTY = targets(SPY="0.6", AGG="0.4")


def sixty_forty(spy_pct: int | str, equity: int = 100_000) -> PortfolioSnapshot:
    """SPY at ``spy_pct`` percent of ``equity``, AGG the rest, both at $100 a share, no cash."""
    spy = D(spy_pct) * equity / 100 / 100
    return snapshot({"SPY": (spy, 100), "AGG": (D(equity) / 100 - spy, 100)})


def market(returns: dict[str, list[float]], costs: dict[str, AssetCosts] | None = None) -> TriggerContext:
    return TriggerContext(market=MarketState.from_series(returns, costs))


# -- asymmetric bands ----------------------------------------------------------------------------------------

SIDED = SidedBandPolicy(
    Band(absolute=D("0.05")),
    {"SPY": SidedBand(upper=Band(absolute=D("0.03")), lower=Band(absolute=D("0.06")))},
)


def test_sided_band_fires_on_the_tight_overweight_side() -> None:
    # SPY 64% is +4pp: its upper band is 3pp -> breached (a symmetric 5pp band would wait)
    decision = SidedBandTrigger(SIDED).evaluate(sixty_forty(64), SIXTY_FORTY)
    assert decision.fired and decision.trigger == "sided_bands"
    spy = decision.asset("SPY")
    assert spy is not None and spy.band == D("0.03") and spy.breached
    assert "SPY 64.00% vs 60.00% (+4.00pp, band 3.00pp)" in decision.reason


def test_sided_band_waits_on_the_loose_underweight_side() -> None:
    # SPY 55% is -5pp, inside its 6pp lower band; AGG 45% is +5pp, not beyond its 5pp default band
    decision = SidedBandTrigger(SIDED).evaluate(sixty_forty(55), SIXTY_FORTY)
    assert not decision.fired
    assert decision.asset("SPY").band == D("0.06")  # type: ignore[union-attr]


def test_band_edge_trades_to_the_edge_of_the_side_that_applied() -> None:
    # SPY +4pp over a 3pp upper band: band_edge aims at 60 + 3 - 0.01 = 62.99% = $62,990, so sell $1,010 =
    # 10.1 shares; the $1,010 freed is invested in AGG (the only asset short of target)
    decision = SidedBandTrigger(SIDED).evaluate(sixty_forty(64), SIXTY_FORTY)
    plan = plan_rebalance(
        sixty_forty(64), SIXTY_FORTY, bands(), settings(trade_to=TradeTo.BAND_EDGE), decision
    )
    assert [(o.symbol, o.side, o.qty, o.notional) for o in plan.orders] == [
        ("SPY", Side.SELL, D("10.1"), None),
        ("AGG", Side.BUY, None, D("1010.00")),
    ]


# -- volatility-adaptive bands -------------------------------------------------------------------------------

# SPY's last two days move 2%, the four before 1%: forecast (last 2 days) variance 0.0004, reference (all six)
# (4 x 0.0001 + 2 x 0.0004) / 6 = 0.0002, so vol is sqrt(2) = 1.414214 x its usual. AGG moves half as much
# with the same pattern, so the same ratio.
TURBULENT = {
    "SPY": [0.01, -0.01, 0.01, -0.01, 0.02, -0.02],
    "AGG": [0.005, -0.005, 0.005, -0.005, 0.01, -0.01],
}
# The reverse: last two days 1% after four of 2%: 0.0001 vs (4 x 0.0004 + 2 x 0.0001) / 6 = 0.0003,
# ratio sqrt(1/3) = 0.577350.
CALM = {
    "SPY": [0.02, -0.02, 0.02, -0.02, 0.01, -0.01],
    "AGG": [0.01, -0.01, 0.01, -0.01, 0.005, -0.005],
}
VOL_BANDS = VolatilityAdaptiveBands(bands("0.05"), forecast=Window(2), reference=Window())


def test_volatility_bands_widen_in_turbulence_and_wait() -> None:
    # 5pp x 1.414214 = 7.07107pp: SPY +6pp (which a fixed 5pp band would trade) waits
    decision = VOL_BANDS.evaluate(sixty_forty(66), SIXTY_FORTY, market(TURBULENT))
    assert BandTrigger(bands("0.05")).evaluate(sixty_forty(66), SIXTY_FORTY).fired
    assert not decision.fired
    assert decision.asset("SPY").band == D("0.05") * D("1.414214")  # type: ignore[union-attr]
    # daily 2% is 31.7%/yr, daily 1.414% is 22.4%/yr
    assert "SPY: vol 31.7%/yr (last 2d) vs 22.4%/yr (all history) -> band x1.41" in decision.reason


def test_volatility_bands_narrow_when_calm_and_fire() -> None:
    # 5pp x 0.577350 = 2.88675pp: SPY +4pp (inside a fixed 5pp band) fires
    decision = VOL_BANDS.evaluate(sixty_forty(64), SIXTY_FORTY, market(CALM))
    assert decision.fired and {r.symbol for r in decision.breached} == {"SPY", "AGG"}
    assert decision.asset("SPY").band == D("0.05") * D("0.577350")  # type: ignore[union-attr]


def test_volatility_scale_is_clipped() -> None:
    # x0.577 clipped to x0.9: 4.5pp, and +4pp waits
    clipped = VolatilityAdaptiveBands(bands("0.05"), Window(2), Window(), min_scale=D("0.9"))
    decision = clipped.evaluate(sixty_forty(64), SIXTY_FORTY, market(CALM))
    assert not decision.fired and "clipped to x0.90" in decision.reason


def test_volatility_bands_without_history_keep_the_base_band() -> None:
    decision = VOL_BANDS.evaluate(sixty_forty(64), SIXTY_FORTY)  # no market state at all
    assert not decision.fired and "SPY: no return history, base band" in decision.reason
    assert decision.asset("SPY").band == D("0.05")  # type: ignore[union-attr]


def test_volatility_bands_take_a_garch_forecast() -> None:
    # after a calm history a GARCH forecast stays near the sample variance: the band is not narrowed to x0.58
    garch = VolatilityAdaptiveBands(bands("0.05"), forecast=Garch11(0.05, 0.9), reference=Window())
    decision = garch.evaluate(sixty_forty(64), SIXTY_FORTY, market(CALM))
    assert D("0.04") < decision.asset("SPY").band < D("0.05")  # type: ignore[operator,union-attr]


# -- cost-optimal (cube-root) bands --------------------------------------------------------------------------


def test_cube_root_band_reproduces_the_notes_60_40_example() -> None:
    # NOTES.md section 1, 60/40, gamma 3: 10bp -> +-3.1pp, 50bp -> +-5.2pp, 300bp -> +-9.5pp.
    # With a tracking-error penalty, h = (3 c t^2 (1-t)^2 / (2 gamma))^(1/3), t(1-t) = 0.24:
    #   10bp:  (3 x 0.001 x 0.0576 / 6)^(1/3) = (0.0000288)^(1/3) = 0.030652
    #   50bp:  (0.000144)^(1/3) = 0.052415;   300bp: (0.000864)^(1/3) = 0.095244
    assert tracking_error_half_width(0.001, 0.6, 3) == pytest.approx(0.030652, abs=1e-6)
    assert tracking_error_half_width(0.005, 0.6, 3) == pytest.approx(0.052415, abs=1e-6)
    assert tracking_error_half_width(0.03, 0.4, 3) == pytest.approx(0.095244, abs=1e-6)
    # the literal NOTES formula (3 c sigma_w^2 / (4 lambda))^(1/3) with sigma_w = 0.24 sigma_a and
    # lambda = 1.5 sigma_a^2 gives the same for any relative volatility sigma_a (here 16% vs 5% uncorrelated)
    sigma_a = math.sqrt(0.16**2 + 0.05**2)
    assert cube_root_half_width(0.001, 0.24 * sigma_a, 1.5 * sigma_a**2) == pytest.approx(0.030652, abs=1e-6)


SPREAD_10BP = {"SPY": AssetCosts(spread_bps=20), "AGG": AssetCosts(spread_bps=20)}  # half-spread 10bp


def test_cost_optimal_band_waits_inside_the_cube_root_band() -> None:
    # c = 10bp -> band 3.0652pp; SPY +3pp waits
    trigger = CostOptimalBands(fallback=bands("0.05"))
    decision = trigger.evaluate(sixty_forty(63), SIXTY_FORTY, market({}, SPREAD_10BP))
    assert not decision.fired
    assert decision.asset("SPY").band == D("0.0306524")  # type: ignore[union-attr]
    assert (
        "SPY: cost 10.0bp (10.0bp spread + 0.0bp impact + 0.0bp tax) on a $3,000.00 trade" in decision.reason
    )


def test_cost_optimal_band_fires_outside_it() -> None:
    # SPY +4pp > 3.0652pp (a fixed 5pp band would wait)
    trigger = CostOptimalBands(fallback=bands("0.05"))
    decision = trigger.evaluate(sixty_forty(64), SIXTY_FORTY, market({}, SPREAD_10BP))
    assert decision.fired and {r.symbol for r in decision.breached} == {"SPY", "AGG"}


def test_cost_optimal_band_prices_impact_at_the_trade_size() -> None:
    # $1M, half-spread 5bp, sigma 1.5%/day, ADV 40,000 shares:
    # +4.0pp: trade $40,000 = 400 sh = 1% of ADV, impact 0.7 x 0.015 x 0.1 = 10.5bp, c = 15.5bp,
    #         band (0.0288 x 0.00155)^(1/3) = 3.547pp < 4.0pp -> fires
    # +3.4pp: trade 340 sh, impact 0.7 x 0.015 x sqrt(0.0085) = 9.68bp, c = 14.68bp,
    #         band (0.0288 x 0.0014681)^(1/3) = 3.484pp > 3.4pp -> waits (a 10bp band, 3.07pp, would fire)
    thin = AssetCosts(spread_bps=10, adv=40_000, sigma_daily=0.015)
    context = market({}, {"SPY": thin, "AGG": thin})
    trigger = CostOptimalBands(fallback=bands("0.05"))
    fired = trigger.evaluate(sixty_forty(64, 1_000_000), SIXTY_FORTY, context)
    assert fired.fired and float(fired.asset("SPY").band) == pytest.approx(0.03547, abs=1e-5)  # type: ignore[arg-type,union-attr]
    assert "SPY: cost 15.5bp (5.0bp spread + 10.5bp impact + 0.0bp tax)" in fired.reason
    waited = trigger.evaluate(sixty_forty("63.4", 1_000_000), SIXTY_FORTY, context)
    assert not waited.fired and float(waited.asset("SPY").band) == pytest.approx(0.03484, abs=1e-5)  # type: ignore[arg-type,union-attr]


def test_cost_optimal_band_falls_back_without_costs() -> None:
    decision = CostOptimalBands(fallback=bands("0.05")).evaluate(sixty_forty(64), SIXTY_FORTY)
    assert not decision.fired and "SPY: no cost inputs, fallback band" in decision.reason


# -- regime --------------------------------------------------------------------------------------------------

# SPY: vol ratio sqrt(2) = 1.414 (see TURBULENT). AGG moving against SPY for four days and with it for the
# last two: zero-mean correlation over the last 2 days = (0.0002 + 0.0002) / 2 / (0.02 x 0.01) = +1.00;
# over all six = (-4 x 0.0001 + 2 x 0.0002) / 6 = 0 -> 0.00. A jump of +1.00.
AGAINST_THEN_WITH = [-0.01, 0.01, -0.01, 0.01, 0.01, -0.01]
# AGG = SPY / 2 every day: correlation +1.00 in both windows, no jump.
HALF_OF_SPY = TURBULENT["AGG"]


def regime(vol_ratio: float, **kwargs: bool) -> RegimeTrigger:
    return RegimeTrigger("SPY", "AGG", short=Window(2), long=Window(), vol_ratio=vol_ratio, **kwargs)


def test_regime_fires_on_a_volatility_jump() -> None:
    context = market({"SPY": TURBULENT["SPY"], "AGG": HALF_OF_SPY})
    decision = regime(1.3).evaluate(sixty_forty(62), SIXTY_FORTY, context)
    assert decision.fired
    assert "SPY vol 31.7%/yr (last 2d) vs 22.4%/yr (all history) = x1.41 > x1.3" in decision.reason
    assert "change +0.00 <= 0.3" in decision.reason
    # it marks every asset away from target, so the planner trades them back (SPY 62% -> 60%)
    assert {r.symbol for r in decision.breached} == {"SPY", "AGG"}


def test_regime_fires_on_a_correlation_jump() -> None:
    context = market({"SPY": TURBULENT["SPY"], "AGG": AGAINST_THEN_WITH})
    decision = regime(1.5).evaluate(sixty_forty(62), SIXTY_FORTY, context)
    assert decision.fired
    assert "x1.41 <= x1.5" in decision.reason
    assert "SPY/AGG correlation +1.00 (last 2d) vs +0.00 (all history), change +1.00 > 0.3" in decision.reason


def test_regime_waits_when_nothing_shifted() -> None:
    context = market({"SPY": TURBULENT["SPY"], "AGG": HALF_OF_SPY})
    decision = regime(1.5).evaluate(sixty_forty(62), SIXTY_FORTY, context)
    assert not decision.fired and decision.reason.startswith("no regime shift:")
    assert decision.breached == ()


def test_regime_as_a_gate_reports_no_assets() -> None:
    context = market({"SPY": TURBULENT["SPY"], "AGG": HALF_OF_SPY})
    gate = regime(1.3, mark_all=False)
    assert gate.evaluate(sixty_forty(62), SIXTY_FORTY, context).assets == ()
    # "in a turbulent regime, use 1pp bands": SPY +2pp trades only because the regime shifted
    tight = AllOf((gate, BandTrigger(bands("0.01"))))
    assert tight.evaluate(sixty_forty(62), SIXTY_FORTY, context).fired
    assert (
        not AllOf((regime(1.5, mark_all=False), BandTrigger(bands("0.01"))))
        .evaluate(sixty_forty(62), SIXTY_FORTY, context)
        .fired
    )


def test_regime_without_history_waits() -> None:
    decision = regime(1.3).evaluate(sixty_forty(62), SIXTY_FORTY)
    assert not decision.fired and "no return history for SPY/AGG" in decision.reason


# -- cost/benefit gate ---------------------------------------------------------------------------------------

# SPY moves +-1% a day, AGG +-0.5%, uncorrelated (zero-mean products +,-,-,+ sum to 0). Annualised with 252:
# var SPY 0.0001 x 252 = 0.0252, var AGG 0.000025 x 252 = 0.0063, covariance 0.
# SPY at 64% of $100,000: deviations (+0.04, -0.04), tracking-error variance 0.0016 x 0.0252 + 0.0016 x 0.0063
# = 0.0000504 (TE 0.71%/yr); trading back to target leaves 0. Benefit = $100,000 x gamma/2 (1.5) x 0.0000504
# x 1 year = $7.56. The trades are sell $4,000 SPY and buy $4,000 AGG.
UNCORRELATED = {"SPY": [0.01, -0.01, 0.01, -0.01], "AGG": [0.005, 0.005, -0.005, -0.005]}
INSIDE_3PP = BandTrigger(bands("0.03"))


def gate(**kwargs: object) -> CostBenefitGate:
    return CostBenefitGate(INSIDE_3PP, settings=settings(), risk=Window(), **kwargs)  # type: ignore[arg-type]


def test_gate_waits_when_cost_exceeds_benefit() -> None:
    # half-spread 10bp on both legs: 2 x $4,000 x 0.001 = $8.00 > $7.56
    context = market(UNCORRELATED, SPREAD_10BP)
    decision = gate().evaluate(sixty_forty(64), SIXTY_FORTY, context)
    assert INSIDE_3PP.evaluate(sixty_forty(64), SIXTY_FORTY).fired
    assert not decision.fired and decision.trigger == "cost_benefit(bands)"
    assert decision.reason.startswith("waited: expected cost $8.00 > expected benefit $7.56")
    assert "tracking-error variance cut 5.04e-05 (TE 0.71% -> 0.00%/yr, all history) x 1y" in decision.reason
    assert "sell SPY $4,000.00 at 10.0bp, buy AGG $4,000.00 at 10.0bp" in decision.reason
    assert plan_rebalance(sixty_forty(64), SIXTY_FORTY, bands(), settings(), decision).is_empty


def test_gate_fires_when_benefit_covers_cost() -> None:
    # half-spread 5bp: 2 x $4,000 x 0.0005 = $4.00 <= $7.56
    half = {"SPY": AssetCosts(spread_bps=10), "AGG": AssetCosts(spread_bps=10)}
    decision = gate().evaluate(sixty_forty(64), SIXTY_FORTY, market(UNCORRELATED, half))
    assert decision.fired
    assert decision.reason.startswith("fired: expected benefit $7.56 >= expected cost $4.00")
    # the planner, given the gate's decision, sends exactly the trades the gate costed
    plan = plan_rebalance(sixty_forty(64), SIXTY_FORTY, bands(), settings(), decision)
    assert [(o.symbol, o.side, o.est_notional) for o in plan.orders] == [
        ("SPY", Side.SELL, D("4000.00")),
        ("AGG", Side.BUY, D("4000.00")),
    ]


def test_gate_longer_horizon_and_tax() -> None:
    context = market(UNCORRELATED, SPREAD_10BP)
    # two years of benefit: $15.12 >= $8.00
    assert gate(horizon_years=2.0).evaluate(sixty_forty(64), SIXTY_FORTY, context).fired
    # 1% estimated tax on the SPY sale adds $40: $48.00 > $15.12
    taxed = {"SPY": AssetCosts(spread_bps=20, tax_fraction=0.01), "AGG": AssetCosts(spread_bps=20)}
    decision = gate(horizon_years=2.0).evaluate(sixty_forty(64), SIXTY_FORTY, market(UNCORRELATED, taxed))
    assert not decision.fired and "expected cost $48.00 > expected benefit $15.12" in decision.reason


def test_gate_passes_a_quiet_trigger_through_and_follows_it_without_data() -> None:
    quiet = gate().evaluate(sixty_forty(62), SIXTY_FORTY, market(UNCORRELATED, SPREAD_10BP))
    assert not quiet.fired and quiet.reason.startswith("nothing to weigh: all assets inside their bands")
    blind = gate().evaluate(sixty_forty(64), SIXTY_FORTY)
    assert blind.fired and "no return history to value the benefit" in blind.reason
    assert "no cost inputs for SPY, AGG (costed at 0)" in blind.reason


# -- calendar backstop and cooldown --------------------------------------------------------------------------

LAST = datetime(2024, 1, 2, 15, 0)


def at(days: float) -> TriggerContext:
    return TriggerContext(now=LAST + timedelta(days=days), last_rebalance_at=LAST)


def test_backstop_waits_before_its_interval() -> None:
    decision = CalendarBackstop(timedelta(days=90)).evaluate(sixty_forty(62), SIXTY_FORTY, at(89))
    assert not decision.fired and decision.breached == ()
    assert decision.reason == "backstop not due: 89 days since the last rebalance (2024-01-02) < 90 days"


def test_backstop_fires_after_its_interval_and_trades_everything_back() -> None:
    # 90 days with no rebalance; SPY 62% is inside any band, but the backstop sends it back to 60%
    decision = CalendarBackstop(timedelta(days=90)).evaluate(sixty_forty(62), SIXTY_FORTY, at(90))
    assert decision.fired and {r.symbol for r in decision.breached} == {"SPY", "AGG"}
    plan = plan_rebalance(sixty_forty(62), SIXTY_FORTY, bands(), settings(), decision)
    assert [(o.symbol, o.side, o.est_notional) for o in plan.orders] == [
        ("SPY", Side.SELL, D("2000.00")),
        ("AGG", Side.BUY, D("2000.00")),
    ]
    never = TriggerContext(now=LAST)
    assert CalendarBackstop(timedelta(days=90)).evaluate(sixty_forty(62), SIXTY_FORTY, never).fired


def test_cooldown_blocks_at_day_4_of_5_and_allows_at_day_5() -> None:
    cooldown = Cooldown(timedelta(days=5))
    blocked = cooldown.evaluate(sixty_forty(70), SIXTY_FORTY, at(4))
    assert not blocked.fired and blocked.assets == ()
    assert blocked.reason == (
        "cooling down: last rebalance 4 days ago (2024-01-02 15:00) < 5 days; "
        "next allowed from 2024-01-07 15:00"
    )
    assert cooldown.evaluate(sixty_forty(70), SIXTY_FORTY, at(5)).fired
    assert cooldown.evaluate(sixty_forty(70), SIXTY_FORTY, TriggerContext(now=LAST)).fired  # none on record
    # through AllOf: SPY +10pp breaches its 5pp band but waits out the cooldown
    gated = AllOf((BandTrigger(bands("0.05")), cooldown))
    assert not gated.evaluate(sixty_forty(70), SIXTY_FORTY, at(4)).fired
    assert gated.evaluate(sixty_forty(70), SIXTY_FORTY, at(5)).fired


def test_time_triggers_need_now() -> None:
    with pytest.raises(ValueError, match="never read the clock"):
        Cooldown(timedelta(days=5)).evaluate(sixty_forty(60), SIXTY_FORTY)


# -- composition ---------------------------------------------------------------------------------------------


def test_all_dynamic_triggers_satisfy_the_protocol() -> None:
    for trigger in (
        SidedBandTrigger(SIDED),
        VOL_BANDS,
        CostOptimalBands(bands()),
        regime(1.5),
        gate(),
        CalendarBackstop(timedelta(days=90)),
        Cooldown(timedelta(days=5)),
    ):
        assert isinstance(trigger, Trigger)


def test_a_full_policy_composes() -> None:
    # cost-gated (cost-optimal bands OR a 1-year backstop), never within 5 days of the last rebalance
    policy = AllOf(
        (
            CostBenefitGate(
                AnyOf((CostOptimalBands(bands("0.05")), CalendarBackstop(timedelta(days=365)))),
                settings=settings(),
                risk=Window(),
            ),
            Cooldown(timedelta(days=5)),
        )
    )
    data = MarketState.from_series(UNCORRELATED, {"SPY": AssetCosts(10), "AGG": AssetCosts(10)})
    ctx = TriggerContext(now=LAST + timedelta(days=30), last_rebalance_at=LAST, market=data)
    # SPY +4pp is outside its cube-root band ((0.0288 x 0.0005)^(1/3) = 2.43pp); benefit $7.56 >= cost $4.00
    decision = policy.evaluate(sixty_forty(64), SIXTY_FORTY, ctx)
    assert decision.fired
    assert "[cost_benefit(any(cost_optimal_bands, backstop)): fired]" in decision.reason
    assert "[cooldown: fired]" in decision.reason
    assert decision.asset(CASH) is not None
    plan = plan_rebalance(sixty_forty(64), SIXTY_FORTY, bands(), settings(), decision)
    assert [o.symbol for o in plan.orders] == ["SPY", "AGG"]
    assert "FIRED" in plan.explain()
