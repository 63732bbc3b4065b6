"""The live bot's tax-aware plan: harvest first, else the tax-aware rebalance, never in a blocked symbol.

Why here: ``strategies.tax.planning`` and ``strategies.tax.harvest`` are the decisions (shared with the
backtester); this module applies them to one account's cycle with what only the live bot knows: the
household ledger replayed from the store and the symbols blocked by a ledger mismatch.

- **Harvest first.** When the harvest rules find a loss worth taking (or a substitute to switch back), that
  pair of trades is the cycle's plan (held by ``approval.on_harvest`` / ``on_swap`` if so configured); the
  rebalance follows on the next cycle, with the harvest's realisations in the ledger (so it cannot buy the
  harvested symbol back within 30 days). A harvest keeps every sleeve's weight, so waiting one cycle to
  rebalance costs nothing.
- **Blocked symbols** (ledger mismatch) are left out of harvesting, and their lots out of the tax-aware
  rebalance: the planner then treats their shares as having no known history (zero gain), so it neither
  trims, defers nor harvests them on numbers that are wrong; the estimate falls back to average cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

from strategies.plan import RebalancePlan
from strategies.planner import PlannerSettings
from strategies.portfolio import PortfolioSnapshot, Side
from strategies.targets import CASH
from strategies.tax import Fill, HouseholdLedger, Lot, Realisation, TaxedOrder
from strategies.tax.harvest import HarvestKind, HarvestTrade, plan_harvest
from strategies.tax.marginal import sell_tax_fractions
from strategies.tax.planning import Action, TaxDecision, TaxSettings, plan_tax_aware, tax_of_orders

ZERO = Decimal(0)
WASH_ACTIONS = (Action.WASH_DEFERRED, Action.SUBSTITUTED, Action.DROPPED)


@dataclass(frozen=True)
class TaxContext:
    """The cycle's tax picture: the household ledger (current), its fills, and the symbols blocked."""

    ledger: HouseholdLedger
    fills: tuple[Fill, ...]
    blocked: frozenset[str]
    note: str = ""

    def trusted_lots(self, account: str) -> tuple[Lot, ...]:
        """The household's lots without ``account``'s blocked symbols: their shares count as having no known
        history (zero gain), so no tax decision rests on a ledger that disagrees with the broker."""
        return tuple(
            lot for lot in self.ledger.lots if not (lot.account == account and lot.symbol in self.blocked)
        )

    def sell_taxes(
        self, snapshot: PortfolioSnapshot, account: str, day: date, settings: TaxSettings
    ) -> dict[str, float]:
        """Tax per dollar sold of every asset the objective may sell (``snapshot``: the account as it is,
        substitutes unfolded, so each member is priced at its own price)."""
        lots = self.trusted_lots(account)
        return sell_tax_fractions(lots, account, snapshot.prices, day, settings, self.events())

    def events(self) -> tuple[Realisation | Fill, ...]:
        """What the wash-sale guards look at: every realisation and every fill of the household."""
        return (*self.ledger.realisations, *self.fills)


@dataclass(frozen=True)
class TaxPlanInfo:
    """What the tax layer did to a plan, for its explanation, the approval facts and the report."""

    decisions: tuple[TaxDecision, ...] = ()
    harvests: tuple[HarvestTrade, ...] = ()
    not_done: tuple[str, ...] = field(default=())
    """Harvests considered and not made, with the reason."""
    taxed: tuple[TaxedOrder, ...] = ()
    """Every order of the plan with the tax the planner estimated for it (``tax_of_orders``): what the
    plan's explanation, its stored details, the prompt and ``rebalance-bot taxes`` show, never recomputed."""

    @property
    def harvests_losses(self) -> bool:
        return any(t.kind is HarvestKind.HARVEST for t in self.harvests)

    @property
    def swaps_securities(self) -> bool:
        return bool(self.harvests) or any(d.action is Action.SUBSTITUTED for d in self.decisions)

    def notes(self) -> list[str]:
        lines = [f"Tax-loss harvesting: {t.describe()}" for t in self.harvests]
        lines += [f"Tax-aware change: {d.describe()}" for d in self.decisions]
        lines += [f"Harvest not done: {n}" for n in self.not_done]
        return lines

    def wash_sales_avoided(self) -> list[tuple[str, str]]:
        """(symbol, reason) for every trade changed or held back so as not to wash a loss."""
        out = [
            (d.symbol, d.describe())
            for d in self.decisions
            if d.action is Action.WASH_DEFERRED or (d.action in WASH_ACTIONS and "wash" in d.reason)
        ]
        out += [(n.split(":", 1)[0], f"harvest deferred: {n}") for n in self.not_done if "washed" in n]
        return out

    def as_dict(self) -> dict:
        return {
            "harvests": [
                {
                    "kind": t.kind.value,
                    "symbol": t.sell.symbol,
                    "buy": t.buy.symbol,
                    "realised": str(t.realised.total),
                    "estimated_tax": str(t.estimated_tax),
                }
                for t in self.harvests
            ],
            "decisions": [
                {"symbol": d.symbol, "action": d.action.value, "reason": d.reason} for d in self.decisions
            ],
        }


def tax_aware_plan(
    base: RebalancePlan,
    snapshot: PortfolioSnapshot,
    context: TaxContext,
    account: str,
    day: date,
    settings: TaxSettings,
    planner_settings: PlannerSettings,
) -> tuple[RebalancePlan, TaxPlanInfo]:
    """The plan to send this cycle: a harvest if there is one to make, else ``base`` made tax-aware.

    ``base`` is the planner's plan on the folded snapshot (substitutes counted as their sleeve's primary);
    ``snapshot`` the account as it is.
    """
    blocked = context.blocked
    lots = context.trusted_lots(account)
    events = context.events()
    visible = replace(snapshot, positions={s: q for s, q in snapshot.positions.items() if s not in blocked})
    harvest = plan_harvest(
        visible,
        lots,
        day,
        settings,
        account=account,
        household_events=events,
        planner_settings=planner_settings,
    )
    trades = tuple(t for t in harvest.trades if t.sell.symbol not in blocked and t.buy.symbol not in blocked)
    not_done = tuple(f"{s.symbol}: {s.reason}" for s in harvest.skipped)
    if trades:
        plan = _harvest_plan(base, trades)
        taxed = tax_of_orders(plan.orders, lots, day, settings, account=account, household_events=events)
        return plan, TaxPlanInfo(harvests=trades, not_done=not_done, taxed=taxed)
    taxed = plan_tax_aware(
        base,
        snapshot,
        lots,
        day,
        settings,
        account=account,
        household_events=events,
        planner_settings=planner_settings,
    )
    info = TaxPlanInfo(decisions=taxed.decisions, not_done=not_done, taxed=taxed.taxed_orders)
    return taxed.plan, info


def _harvest_plan(base: RebalancePlan, trades: Sequence[HarvestTrade]) -> RebalancePlan:
    """The harvest as a plan: sells first, then the substitutes. Weights are the sleeves' (folded), which a
    harvest leaves where they are, so before and after are the same picture."""
    orders = (*(t.sell for t in trades), *(t.buy for t in trades))
    symbols = ", ".join(t.sell.symbol for t in trades)
    decision = replace(
        base.decision,
        trigger="tax-loss harvest",
        fired=True,
        reason=f"harvest a loss or switch back a substitute in {symbols} (allocation unchanged)",
    )
    cash_before = base.weights_before.get(CASH, ZERO) * base.equity
    net = sum((o.est_notional for o in orders if o.side is Side.SELL), start=ZERO) - sum(
        (o.est_notional for o in orders if o.side is Side.BUY), start=ZERO
    )
    return RebalancePlan(
        decision=decision,
        equity=base.equity,
        orders=orders,
        weights_before=base.weights_before,
        weights_after=base.weights_before,
        cash_after=cash_before + net,
    )
