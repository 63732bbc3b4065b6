"""The household plan as the state database keeps it: ONE plan row, and one child plan row per account.

Why one row: a person approves the household's plan as a whole (one prompt, one content hash, one decision),
so it is an ordinary plan row whose ``account`` is the household's name. Its ``details`` carry a flat
``orders`` list (every account's orders, each naming its account: what the prompt, the dashboard and the
approval policy read) and ``accounts``: per account, the orders in the single-account executor's format.

Why children: the executor (:class:`bot.execution.PlanExecutor`) already makes one account's plan crash
safe - write-ahead intents, deterministic client_order_ids, sells before buys, buys sized to the cash really
freed, slicing. Rather than re-implement that across accounts, the approved household plan fans out into one
child plan per account, ``<household plan id>-<account>``, whose orders get the client_order_ids
``<household plan id>-<account>-<seq>``. A child is saved with a content hash of its own orders, so saving it
again after a crash is a no-op, never a second copy.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot.approval.version import plan_version
from strategies.household import Household, HouseholdPlan, HouseholdTrade, band_limits
from strategies.portfolio import Side
from strategies.targets import CASH

ZERO = Decimal(0)


def child_plan_id(plan_id: str, account: str) -> str:
    """The plan row one account executes; its orders are ``<this>-<seq>`` (the executor's rule)."""
    return f"{plan_id}-{account}"


# -- the trigger: the aggregate weights against their bands -------------------------------------------------


@dataclass(frozen=True)
class AggregateCheck:
    """The household's aggregate weights against the bands, before any trade."""

    equity: Decimal
    assets: tuple[dict[str, Any], ...]
    """Per symbol (and cash): weight, target, drift, band, breached - the stored form of an asset check."""
    cash_short: tuple[str, ...]
    """Accounts whose cash does not cover their reserve plus withdrawals and RMD due."""

    @property
    def breached(self) -> tuple[str, ...]:
        return tuple(a["symbol"] for a in self.assets if a["breached"])

    @property
    def fired(self) -> bool:
        return bool(self.breached or self.cash_short)

    def reason(self) -> str:
        parts = []
        for asset in self.assets:
            if asset["breached"]:
                parts.append(
                    f"{asset['symbol']} {Decimal(asset['weight']):.2%} vs target"
                    f" {Decimal(asset['target']):.2%} (band +/-{Decimal(asset['band']):.2%})"
                )
        parts += [f"{name} needs cash for its reserve, withdrawal or RMD" for name in self.cash_short]
        if not parts:
            return "every aggregate weight is inside its band"
        return "household outside its bands: " + "; ".join(parts)


def aggregate_check(household: Household) -> AggregateCheck:
    """Aggregate weights (every account's holdings and cash together) against the bands, no inset."""
    values: dict[str, Decimal] = {}
    cash = ZERO
    for account in household.accounts:
        cash += account.cash
        for symbol, qty in account.positions.items():
            values[symbol] = values.get(symbol, ZERO) + qty * household.quotes[symbol].price
    equity = cash + sum(values.values(), start=ZERO)
    limits = band_limits(household.targets, household.bands, household.symbols, inset=ZERO)
    assets = []
    for symbol in [*household.symbols, CASH]:
        value = cash if symbol == CASH else values.get(symbol, ZERO)
        weight = value / equity if equity > 0 else ZERO
        target = household.targets.weight(symbol)
        lo, hi = limits[symbol]
        assets.append(
            {
                "symbol": symbol,
                "weight": str(weight),
                "target": str(target),
                "drift": str(weight - target),
                "band": str(household.bands.band_for(symbol).width(target)),
                "breached": bool(weight < lo or weight > hi),
            }
        )
    short = tuple(a.id for a in household.accounts if a.cash < a.cash_reserve + a.flows.outflow)
    return AggregateCheck(equity, tuple(assets), short)


# -- the stored plan ----------------------------------------------------------------------------------------


def _order(trade: HouseholdTrade, seq: int) -> dict[str, Any]:
    return {
        "seq": seq,
        "account": trade.account,
        "symbol": trade.symbol,
        "side": trade.side.value,
        "qty": str(trade.qty) if trade.qty is not None else None,
        "notional": str(trade.notional) if trade.notional is not None else None,
        "est_price": str(trade.est_price),
        "est_notional": str(trade.est_notional),
        "est_cost": str(trade.est_cost),
        "est_tax": str(trade.est_tax),
        "short_term_gain": str(trade.short_term_gain),
        "long_term_gain": str(trade.long_term_gain),
        "reason": f"{trade.account}: household rebalance"
        + (
            f", realises {trade.short_term_gain + trade.long_term_gain:+,.2f}"
            if trade.side is Side.SELL
            else ""
        ),
    }


def account_orders(plan: HouseholdPlan) -> dict[str, list[dict[str, Any]]]:
    """Per account, its orders in sending order (sells first) with the executor's keys, seq from 0."""
    out: dict[str, list[dict[str, Any]]] = {}
    for account in sorted({t.account for t in plan.trades}):
        trades = [t for t in plan.trades if t.account == account]
        ordered = [t for t in trades if t.side is Side.SELL] + [t for t in trades if t.side is Side.BUY]
        out[account] = [_order(t, seq) for seq, t in enumerate(ordered)]
    return out


def content_hash(plan: HouseholdPlan, household: str) -> str:
    """The version an approval binds (:func:`bot.approval.version.plan_version`): the household, what the
    brokers would be sent (account, symbol, side, amount) and at what estimated prices."""
    return plan_version(household, [o for orders in account_orders(plan).values() for o in orders])


def plan_details(plan: HouseholdPlan, check: AggregateCheck, notes: tuple[str, ...] = ()) -> dict[str, Any]:
    """The household plan row's ``details``: flat orders for people, per-account orders for the executors."""
    per_account = account_orders(plan)
    summaries = {s.account: s for s in plan.accounts}
    accounts: dict[str, Any] = {}
    for summary in plan.accounts:
        orders = per_account.get(summary.account, [])
        accounts[summary.account] = {
            "orders": orders,
            "estimated_tax": str(sum((Decimal(o["est_tax"]) for o in orders), start=ZERO)),
            "estimated_cost": str(sum((Decimal(o["est_cost"]) for o in orders), start=ZERO)),
            "cash_before": str(summary.cash_before),
            "cash_after": str(summary.cash_after),
            "reserve": str(summary.reserve),
            "contribution": str(summary.contribution),
            "outflow": str(summary.outflow),
        }
    flat = [
        {**o, "seq": i} for i, o in enumerate(o for name in sorted(per_account) for o in per_account[name])
    ]
    o = plan.objective
    gain = plan.short_term_gain + plan.long_term_gain
    return json.loads(
        json.dumps(
            {
                "kind": "household",
                "household": plan.household,
                "members": sorted(summaries),
                "orders": flat,
                "accounts": accounts,
                "equity": str(check.equity),
                "gross_notional": str(plan.gross_notional),
                "trigger": {
                    "name": "household bands",
                    "fired": check.fired,
                    "reason": check.reason(),
                    "assets": list(check.assets),
                },
                "weights_before": {k: str(v) for k, v in plan.weights_before.items()},
                "weights_after": {k: str(v) for k, v in plan.weights_after.items()},
                "limits": {k: [str(lo), str(hi)] for k, (lo, hi) in plan.limits.items()},
                "estimates": {
                    "spread_cost": str(plan.estimated_cost),
                    "tax": str(plan.tax_payable),
                    "realised_gain": str(gain),
                },
                "objective": {
                    "tax": o.tax,
                    "cost_spread": o.cost_spread,
                    "cost_impact": o.cost_impact,
                    "location_penalty": o.location_penalty,
                    "drift_penalty": o.drift_penalty,
                    "band_slack_penalty": o.band_slack_penalty,
                    "risk": o.risk,
                    "total": o.total,
                },
                "binding": list(plan.binding),
                "notes": [*plan.notes, *notes],
                "children": {name: None for name in per_account},
            },
            default=str,
        )
    )


def explanation(plan: HouseholdPlan, check: AggregateCheck, notes: tuple[str, ...] = ()) -> str:
    """What ``rebalance-bot plan``, the log and the prompt show: why now, the trades, the objective term by
    term, tax and cost per account, the weights against their limits, and which constraints bound."""
    lines = [f"Household plan: {check.reason()}", plan.explain(), "  per account:"]
    per_account = account_orders(plan)
    for summary in plan.accounts:
        orders = per_account.get(summary.account, [])
        tax = sum((Decimal(o["est_tax"]) for o in orders), start=ZERO)
        cost = sum((Decimal(o["est_cost"]) for o in orders), start=ZERO)
        lines.append(
            f"    {summary.account:10} {len(orders)} orders, est. tax ${tax:,.2f}, est. cost ${cost:,.2f};"
            f" cash ${summary.cash_before:,.2f} -> ${summary.cash_after:,.2f}"
            f" (reserve ${summary.reserve:,.2f})"
        )
    lines += [f"  note: {n}" for n in notes]
    return "\n".join(lines)


# -- what the approval policy and the hard limits read ------------------------------------------------


@dataclass(frozen=True)
class OrderView:
    symbol: str
    side: Side
    est_notional: Decimal


@dataclass(frozen=True)
class PlanView:
    """The household total in the shape the approval policy and the hard limits read (``orders``,
    ``gross_notional``, ``equity``): one policy decision for the household, not one per account."""

    orders: tuple[OrderView, ...]
    gross_notional: Decimal
    equity: Decimal

    @classmethod
    def of(cls, details: Mapping[str, Any]) -> PlanView:
        return cls(
            tuple(
                OrderView(o["symbol"], Side(o["side"]), Decimal(o["est_notional"])) for o in details["orders"]
            ),
            Decimal(details["gross_notional"]),
            Decimal(details["equity"]),
        )


def child_details(details: Mapping[str, Any], plan_id: str, account: str) -> dict[str, Any]:
    """One account's child plan: its orders in the executor's format, and where it came from."""
    orders = details["accounts"][account]["orders"]
    gross = sum((Decimal(o["est_notional"]) for o in orders), start=ZERO)
    return {
        "household_plan": plan_id,
        "orders": orders,
        "gross_notional": str(gross),
        "equity": details["equity"],
        "trigger": {
            "name": "household bands",
            "fired": True,
            "reason": f"part of household plan {plan_id}",
            "assets": [],
        },
        "estimates": {
            "spread_cost": details["accounts"][account]["estimated_cost"],
            "tax": details["accounts"][account]["estimated_tax"],
        },
        "weights_before": {},
        "weights_after": {},
    }


def child_hash(child: Mapping[str, Any]) -> str:
    payload = [{k: o[k] for k in ("symbol", "side", "qty", "notional", "seq")} for o in child["orders"]]
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
