"""The band trigger (5/25 rule), cash handling, and trigger composition."""

from __future__ import annotations

from dataclasses import dataclass

from strategies.bands import Band
from strategies.planner import plan_rebalance
from strategies.portfolio import OpenOrder, PortfolioSnapshot, Side
from strategies.targets import CASH, TargetAllocation
from strategies.triggers import (
    NO_CONTEXT,
    AllOf,
    AnyOf,
    AssetCheck,
    BandTrigger,
    Trigger,
    TriggerContext,
    TriggerDecision,
)
from tests.strategies.builders import D, bands, settings, snapshot, targets


def test_band_trigger_fires_on_absolute_breach_and_reports_numbers() -> None:
    # SPY 70% vs 60%: drift +10pp > 5pp band
    snap = snapshot({"SPY": (140, 500), "AGG": (300, 100)})
    decision = BandTrigger(bands("0.05")).evaluate(snap, targets(SPY="0.6", AGG="0.4"))
    assert decision.fired
    spy = decision.asset("SPY")
    assert spy == AssetCheck("SPY", D("0.7"), D("0.6"), D("0.1"), D("0.1") / D("0.6"), D("0.05"), True)
    assert "SPY 70.00% vs 60.00% (+10.00pp, band 5.00pp)" in decision.reason


def test_band_trigger_quiet_inside_bands_names_the_closest_asset() -> None:
    # SPY 63% vs 60% (+3pp of a 5pp band), AGG 37% vs 40%
    snap = snapshot({"SPY": (126, 500), "AGG": (370, 100)})
    decision = BandTrigger(bands("0.05")).evaluate(snap, targets(SPY="0.6", AGG="0.4"))
    assert not decision.fired
    assert decision.breached == ()
    assert decision.reason.startswith("all assets inside their bands (closest:")


def test_relative_band_guards_small_positions() -> None:
    # VNQ target 5%, relative band 25% -> 1.25pp; VNQ at 6.5% is +1.5pp: breached although far below 5pp
    snap = snapshot({"VTI": (935, 100), "VNQ": (65, 100)})
    decision = BandTrigger(bands("0.05", "0.25")).evaluate(snap, targets(VTI="0.95", VNQ="0.05"))
    vnq = decision.asset("VNQ")
    assert vnq is not None and vnq.band == D("0.0125") and vnq.breached
    # VTI's band is min(5pp, 25% x 95% = 23.75pp) = 5pp and its -1.5pp drift is inside it
    vti = decision.asset("VTI")
    assert vti is not None and vti.band == D("0.05") and not vti.breached


def test_override_replaces_default_band() -> None:
    snap = snapshot({"SPY": (140, 500), "AGG": (300, 100)})
    policy = bands("0.05", SPY=Band(absolute=D("0.15")), AGG=Band(absolute=D("0.15")))
    decision = BandTrigger(policy).evaluate(snap, targets(SPY="0.6", AGG="0.4"))
    assert not decision.fired  # 10pp drifts are inside the 15pp override bands


def test_held_symbol_with_zero_target_breaches_under_a_relative_band() -> None:
    # GLD is 0.5% of the portfolio and not targeted: relative band 25% x 0 = 0 -> breach
    snap = snapshot({"SPY": (119, 500), "AGG": (400, 100), "GLD": (5, 100)})
    alloc = targets(SPY="0.6", AGG="0.4")
    assert BandTrigger(bands("0.05", "0.25")).evaluate(snap, alloc).asset("GLD").breached  # type: ignore[union-attr]
    # with only an absolute band, 0.5% is inside 5pp
    assert not BandTrigger(bands("0.05")).evaluate(snap, alloc).fired


def test_cash_breaches_only_when_too_high() -> None:
    alloc = targets(cash="0.05", SPY="0.5", AGG="0.45")
    # cash 12% vs 5%: +7pp > 5pp -> breached (money to invest); assets -4pp/-3pp stay inside
    rich = snapshot({"SPY": (92, 500), "AGG": (420, 100)}, cash=12_000)
    assert BandTrigger(bands("0.05")).evaluate(rich, alloc).asset(CASH).breached  # type: ignore[union-attr]
    # cash 0% vs 5% is -5pp: low cash is never a cash breach (overweight assets breach on their own)
    poor = snapshot({"SPY": (104, 500), "AGG": (480, 100)}, cash=0)
    decision = BandTrigger(bands("0.06")).evaluate(poor, alloc)
    assert not decision.asset(CASH).breached  # type: ignore[union-attr]


def test_cash_floor_and_zero_cash_target_never_fire_forever() -> None:
    alloc = targets(SPY="0.6", AGG="0.4")
    # cash target 0, relative band only: relative bands mean nothing for cash at 0, so no cash band at all
    snap = snapshot({"SPY": (119, 500), "AGG": (400, 100)}, cash=500)
    row = BandTrigger(bands(None, "0.25")).evaluate(snap, alloc).asset(CASH)
    assert row is not None and row.band is None and not row.breached
    # absolute 0.3pp band but a 0.5% cash floor the planner must keep: 0.5% cash is not excess
    assert not BandTrigger(bands("0.003"), cash_floor=D("0.005")).evaluate(snap, alloc).asset(CASH).breached  # type: ignore[union-attr]
    assert BandTrigger(bands("0.003")).evaluate(snap, alloc).asset(CASH).breached  # type: ignore[union-attr]


def test_open_orders_count_as_filled_so_a_rebalance_in_flight_does_not_refire() -> None:
    # SPY 70/30 drifted, but a sell of 20 SPY is already working: projected 60/30 + 10% cash -> AGG -10pp
    working = (OpenOrder("SPY", Side.SELL, qty=D(20)), OpenOrder("AGG", Side.BUY, notional=D(10_000)))
    snap = snapshot({"SPY": (140, 500), "AGG": (300, 100)}, open_orders=working)
    assert not BandTrigger(bands("0.05")).evaluate(snap, targets(SPY="0.6", AGG="0.4")).fired


@dataclass(frozen=True)
class FixedTrigger:
    """Stands in for later triggers (calendar backstop, cooldown): fixed verdict, optional 'breach all'."""

    name: str
    fired: bool
    breach_all: bool = False

    def evaluate(
        self, snapshot: PortfolioSnapshot, targets: TargetAllocation, context: TriggerContext = NO_CONTEXT
    ) -> TriggerDecision:
        rows = ()
        if self.breach_all:
            rows = tuple(
                AssetCheck(s, D(0), targets.weight(s), D(0), None, None, True) for s in targets.symbols
            )
        return TriggerDecision(self.name, self.fired, f"{self.name} says {self.fired}", rows)


def test_triggers_satisfy_the_protocol() -> None:
    assert isinstance(BandTrigger(bands()), Trigger)
    assert isinstance(AnyOf((FixedTrigger("x", True),)), Trigger)
    assert isinstance(FixedTrigger("x", True), Trigger)


def test_any_of_and_all_of() -> None:
    snap = snapshot({"SPY": (140, 500), "AGG": (300, 100)})
    alloc = targets(SPY="0.6", AGG="0.4")
    band = BandTrigger(bands("0.05"))
    cooldown_elapsed, cooling_down = FixedTrigger("cooldown", True), FixedTrigger("cooldown", False)

    fired = AllOf((band, cooldown_elapsed)).evaluate(snap, alloc)
    assert fired.fired and {r.symbol for r in fired.breached} == {"SPY", "AGG"}
    assert fired.trigger == "all(bands, cooldown)"

    held = AllOf((band, cooling_down)).evaluate(snap, alloc)
    assert not held.fired and "[cooldown: quiet]" in held.reason

    either = AnyOf((cooling_down, band)).evaluate(snap, alloc)
    assert either.fired and {r.symbol for r in either.breached} == {"SPY", "AGG"}


def test_any_of_takes_breaches_only_from_children_that_fired() -> None:
    snap = snapshot({"SPY": (126, 500), "AGG": (370, 100)})  # inside 5pp bands
    alloc = targets(SPY="0.6", AGG="0.4")
    quiet_backstop = FixedTrigger("calendar", False, breach_all=True)
    decision = AnyOf((BandTrigger(bands("0.05")), quiet_backstop)).evaluate(snap, alloc)
    assert not decision.fired and decision.breached == ()


def test_planner_acts_on_a_composite_decision() -> None:
    # inside the bands (63/37), but a calendar backstop fires and marks everything: the planner, given the
    # composite decision, trades both back to target: sell 3,000 of SPY (6 sh), buy 3,000 of AGG
    snap = snapshot({"SPY": (126, 500), "AGG": (370, 100)})
    alloc = targets(SPY="0.6", AGG="0.4")
    trigger = AnyOf((BandTrigger(bands("0.05")), FixedTrigger("calendar", True, breach_all=True)))
    decision = trigger.evaluate(snap, alloc, TriggerContext())
    plan = plan_rebalance(snap, alloc, bands("0.05"), settings(), decision=decision)
    assert [(o.symbol, o.side, o.qty, o.notional) for o in plan.orders] == [
        ("SPY", Side.SELL, D(6), None),
        ("AGG", Side.BUY, None, D("3000.00")),
    ]
