"""The household under a ``policy`` of kind ``objective``: the same knob, risk model and calibration as an
account (``strategies.household.objective``), fed with the broker's daily bars.

Thin on purpose: it reads the trailing returns of the household's symbols the way the single-account bot
does (:func:`bot.market.live_context`), asks the strategy for the risk term and the plan, and says why when it
cannot (too little history: the household is then planned by its bands, and the note says so). Like the
account's objective it decides once a session, at ``policy.decide_at``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.config import BotConfig
from bot.market import live_context
from bot.state.store import StateStore
from strategies.household import Household, HouseholdPlan, OptimizerSettings
from strategies.household.objective import HouseholdObjective
from strategies.objective.trigger import MARKET_ZONE, SessionsDecided


@dataclass(eq=False)
class ObjectivePlanner:
    """One per household bot: keeps the fitted risk aversion for its refit period and the session decided."""

    objective: HouseholdObjective
    sessions: SessionsDecided = field(default_factory=SessionsDecided)

    @classmethod
    def of(cls, config: BotConfig) -> ObjectivePlanner | None:
        """The planner when the config's ``policy`` is the objective; None otherwise (plain bands)."""
        if config.policy is None or config.policy.kind != "objective":
            return None
        return cls(HouseholdObjective(config.policy.objective_spec()))

    def plan(
        self,
        household: Household,
        settings: OptimizerSettings,
        broker: object,
        store: StateStore,
        owner: str,
        now: datetime,
        *,
        every_check: bool = False,
    ) -> tuple[HouseholdPlan | None, str, bool]:
        """(the objective's plan, how it was decided, False); or (None, why not, fall back?): True when there
        is too little history for a forecast (the caller plans by the bands), False when this check is not
        the session's decision (the caller waits). ``every_check``: a preview decides whatever the time."""
        spec = self.objective.spec
        if not every_check:
            held = self.sessions.hold(now, spec.decide_at)
            if held is not None:
                return None, held, False
        symbols = list(household.symbols)
        market = live_context(broker, store, owner, now, symbols, spec.lookback).market
        missing = [s for s in symbols if market is None or s not in market.symbols]
        if missing:
            why = f"no return history for {', '.join(missing)}"
            return None, f"objective: {why}; planned by the household bands until then", True
        assert market is not None
        risk = self.objective.risk(household, market.matrix(symbols), now.astimezone(MARKET_ZONE).date())
        if isinstance(risk, str):
            return None, f"objective: {risk}; planned by the household bands until then", True
        plan = self.objective.decide(household, settings, risk)
        return plan, f"decided by the objective ({spec.describe()})", False


def objective_reason(plan: HouseholdPlan | None, notes: tuple[str, ...]) -> str | None:
    """Why the objective traded nothing this cycle (its numbers, or why it did not decide), for the cycle's
    outcome and ``status``; None when the objective did not decide (plain bands)."""
    lines = [*(plan.notes if plan is not None else ()), *notes]
    return next((n for n in reversed(lines) if n.startswith("objective")), None)
