"""A stored plan in the terms a person decides on: trades, drift before and after, estimated cost and tax,
why the bot wants to trade now and why it asks. Shared by the prompts (text) and the dashboard (HTML)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.approval.estimates import PlanEstimates
from bot.state.store import PlanRecord
from strategies.formatting import pct, shares, signed_pp, usd


@dataclass(frozen=True)
class TradeRow:
    side: str
    symbol: str
    amount: str
    """``30 sh`` or ``$9,500.00``."""
    est_price: str
    est_notional: str
    reason: str


@dataclass(frozen=True)
class DriftRow:
    symbol: str
    target: str
    weight_before: str
    drift_before: str
    weight_after: str
    drift_after: str
    breached: bool


@dataclass(frozen=True)
class PlanSummary:
    plan_id: str
    account: str
    version: str
    """The first 12 characters of the content hash: the plan version a decision binds to."""
    content_hash: str
    status: str
    why_now: str
    why_asked: str
    trades: tuple[TradeRow, ...]
    drift: tuple[DriftRow, ...]
    gross: str
    equity: str
    cost: str | None
    tax: str | None
    realised_gain: str | None

    @classmethod
    def of(cls, plan: PlanRecord) -> PlanSummary:
        details = plan.details
        trades = []
        for order in details.get("orders", []):
            if order.get("qty") is not None:
                amount = f"{shares(Decimal(order['qty']))} sh"
            else:
                amount = usd(Decimal(order["notional"]))
            trades.append(
                TradeRow(
                    order["side"].upper(),
                    order["symbol"],
                    amount,
                    usd(Decimal(order["est_price"])),
                    usd(Decimal(order["est_notional"])),
                    order.get("reason", ""),
                )
            )
        after = details.get("weights_after", {})
        drift = []
        for asset in details.get("trigger", {}).get("assets", []):
            target = Decimal(asset["target"])
            weight_after = Decimal(after[asset["symbol"]]) if asset["symbol"] in after else None
            drift.append(
                DriftRow(
                    asset["symbol"],
                    pct(target),
                    pct(Decimal(asset["weight"])),
                    signed_pp(Decimal(asset["drift"])),
                    pct(weight_after) if weight_after is not None else "-",
                    signed_pp(weight_after - target) if weight_after is not None else "-",
                    bool(asset.get("breached")),
                )
            )
        estimates = details.get("estimates") or {}
        stored = PlanEstimates.stored(details)
        return cls(
            plan_id=plan.plan_id,
            account=plan.account,
            version=plan.content_hash[:12],
            content_hash=plan.content_hash,
            status=plan.status,
            why_now=details.get("trigger", {}).get("reason", ""),
            why_asked="; ".join(details.get("approval_reasons") or []) or plan.status_reason,
            trades=tuple(trades),
            drift=tuple(drift),
            gross=usd(Decimal(details.get("gross_notional", "0"))),
            equity=usd(Decimal(details.get("equity", "0"))),
            cost=usd(Decimal(estimates["spread_cost"])) if "spread_cost" in estimates else None,
            tax=usd(stored.tax) if stored is not None else None,
            realised_gain=usd(stored.realised_gain) if stored is not None else None,
        )

    def cost_line(self) -> str:
        if self.cost is None and self.tax is None:
            return "estimated cost and tax: not estimated"
        parts = []
        if self.cost is not None:
            parts.append(f"estimated cost ~{self.cost} (half the bid-ask spread)")
        if self.tax is not None:
            parts.append(f"estimated tax ~{self.tax} on ~{self.realised_gain} of realised gains")
        return "; ".join(parts)
