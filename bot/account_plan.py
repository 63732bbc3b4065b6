"""One account's plan as it is stored and put to the shared pipeline (:mod:`bot.pipeline`).

The account bot decides a :class:`~strategies.plan.RebalancePlan`; :class:`AccountProposal` describes it the
way the pipeline's rules read it: its version (owner, orders, prices), its orders as stored dicts, the drift
it was made on, and - only once it is actually stored - its tax picture (:mod:`bot.tax.annotate`: realised
gain by term, estimated tax, wash-sale warnings that hold it for a person), its spread and tax estimate and
the facts the approval policy weighs (harvest, swap). The wash sales the tax layer steered clear of are
audited once the plan row exists.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property

import structlog

from bot.approval.estimates import PlanEstimates, estimate
from bot.approval.policy import PlanFacts
from bot.approval.version import account_plan_version
from bot.config import BotConfig
from bot.pipeline import Assessment
from bot.snapshot import AccountView
from bot.state.store import PlanRecord, StateStore
from bot.tax.annotate import TaxAnnotation, annotate_plan
from bot.tax.ledger import wash_rules
from bot.tax.planning import TaxContext, TaxPlanInfo
from strategies.approval_recheck import order_dicts
from strategies.plan import RebalancePlan

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class AccountProposal:
    """An account's fresh plan, for the pipeline (:class:`bot.pipeline.Proposal`)."""

    account: str
    plan: RebalancePlan
    view: AccountView
    """The reading the plan was made on (its quotes price the estimates, its positions the average cost)."""
    config: BotConfig
    tax: TaxContext | None
    """The cycle's tax picture (None without a ``tax`` section)."""
    info: TaxPlanInfo | None
    """What the tax layer did to this plan (harvest, swap, wash sales avoided)."""
    day: date
    """The trade date (New York) tax law counts in."""
    store: StateStore

    @cached_property
    def version(self) -> str:
        return account_plan_version(self.account, self.plan)  # binds account, orders and prices

    @property
    def orders(self) -> list[dict]:
        return order_dicts(self.plan)

    @property
    def drift(self) -> dict[str, Decimal]:
        return self.plan.drift_before

    def stale(self, pending: PlanRecord) -> bool:
        """A held plan asked on a ledger that has since been found wrong (or fixed) is asked again: its tax
        estimate, which a person decides on, no longer stands."""
        if self.tax is None:
            return False
        return (pending.details.get("tax") or {}).get("blocked", []) != sorted(self.tax.blocked)

    def annotation(self) -> TaxAnnotation | None:
        """The plan's tax picture from the latest ledger (None without a ``tax`` section)."""
        tax, settings = self.tax, self.config.tax
        if settings is None or tax is None or not self.plan.orders:
            return None
        return annotate_plan(
            self.plan,
            tax.ledger,
            tax.fills,
            self.account,
            self.day,
            settings,
            wash_rules(self.config),
            blocked=tax.blocked,
            avg_costs=avg_costs(self.view),
            notes=([tax.note] if tax.note else []) + (self.info.notes() if self.info is not None else []),
            planned=self.info.taxed if self.info is not None else None,
        )

    def estimates(self, annotation: TaxAnnotation | None) -> PlanEstimates:
        """Spread cost and tax; the tax from the lot ledger when there is one, else from average cost."""
        spreads = {s: (q.bid, q.ask) for s, q in self.view.quotes.items()}
        basic = estimate(self.plan, avg_costs(self.view), spreads, self.config.approval.tax_rate)
        if annotation is None:
            return basic
        return PlanEstimates(
            spread_cost=basic.spread_cost,
            realised_gain=annotation.realised_gain,
            realised_loss=annotation.realised_loss,
            tax=annotation.estimated_tax,
        )

    def assess(self) -> Assessment:
        annotation = self.annotation()
        estimates = self.estimates(annotation)
        info = self.info
        facts = PlanFacts(
            estimated_tax=estimates.tax,
            harvests_losses=info is not None and info.harvests_losses,
            swaps_securities=info is not None and info.swaps_securities,
        )
        details = {**plan_details(self.plan), "estimates": estimates.as_dict()}
        safety: tuple[str, ...] = ()
        if annotation is not None:  # a safety rule, whatever approval.mode says: never wash a loss unasked
            safety = tuple(f"wash-sale guard: {w}" for w in annotation.wash_warnings)
            details["tax"] = {**annotation.as_dict(), **(info.as_dict() if info is not None else {})}
        return Assessment(self.plan, facts, details, explain(self.plan, annotation), safety)

    def saved(self, plan_id: str, run_id: str, now: datetime) -> None:
        """Audit each wash sale the tax layer steered clear of, once per symbol and day (a held plan is
        planned again every cycle; the avoidance is one)."""
        if self.info is None:
            return
        today = self.day.isoformat()
        seen = {
            (e.fields.get("symbol"), e.fields.get("day"))
            for e in self.store.audit_trail(limit=200, event="wash_sale_avoided", account=self.account)
        }
        for symbol, reason in self.info.wash_sales_avoided():
            if (symbol, today) in seen:
                continue
            seen.add((symbol, today))
            self.store.audit(
                "wash_sale_avoided",
                run_id=run_id,
                account=self.account,
                plan_id=plan_id,
                symbol=symbol,
                day=today,
                reason=reason,
            )
            log.info("wash sale avoided", symbol=symbol, reason=reason)

    def start(self, record: PlanRecord, run_id: str) -> None:
        self.store.set_plan_status(record.plan_id, "executing", "within the approval policy")


def explain(plan: RebalancePlan, annotation: TaxAnnotation | None, brief: str | None = None) -> str:
    """The plan's explanation, with its tax section when there is one."""
    text = plan.explain(brief)
    return text if annotation is None else text + "\n" + "\n".join(annotation.lines())


def avg_costs(view: AccountView) -> dict[str, Decimal]:
    return {p.symbol: p.avg_entry_price for p in view.positions if p.qty > 0 and p.avg_entry_price > 0}


def plan_details(plan: RebalancePlan) -> dict:
    """The stored form of a plan: its orders in sending order, with the numbers behind them."""
    orders = []
    for seq, order in enumerate(plan.orders):
        orders.append(
            {
                "seq": seq,
                "symbol": order.symbol,
                "side": order.side.value,
                "qty": str(order.qty) if order.qty is not None else None,
                "notional": str(order.notional) if order.notional is not None else None,
                "est_price": str(order.est_price),
                "est_notional": str(order.est_notional),
                "reason": order.reason,
            }
        )
    return json.loads(
        json.dumps(
            {
                "orders": orders,
                "skipped": [{"symbol": s.symbol, "reason": s.reason} for s in plan.skipped],
                "equity": str(plan.equity),
                "gross_notional": str(plan.gross_notional),
                "trigger": {
                    "name": plan.decision.trigger,
                    "fired": plan.decision.fired,
                    "reason": plan.decision.reason,
                    "assets": [asset_check(a) for a in plan.decision.assets],
                },
                "weights_before": {k: str(v) for k, v in plan.weights_before.items()},
                "weights_after": {k: str(v) for k, v in plan.weights_after.items()},
            }
        )
    )


def asset_check(check) -> dict:  # noqa: ANN001 - strategies.triggers.AssetCheck
    """One asset's trigger reading in stored form (decimals as text)."""
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in dataclasses.asdict(check).items()}
