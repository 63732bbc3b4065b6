"""Executes a stored plan, step by step, so that a crash at any point resumes without sending anything twice.

The plan's orders live in the state database before anything is sent. Each order gets a deterministic
client_order_id (the plan id and its place in the plan); an *intent* row is written before the submit, and a
restarted bot looks every intent up at the broker by that id before it would ever send it. Sells go first;
buys wait until every sell is final, and are sized to what the sells actually freed, never above the amount
planned (and approved). Every call to ``advance`` does one round of that work and returns; the worker calls it
again on its next tick until the plan is done.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_DOWN, Decimal

import structlog

from bot.broker.alpaca import AlpacaBroker
from bot.broker.models import BrokerError, OrderIntent, OrderState, SubmitOutcomeUnknown
from bot.broker.rounding import MIN_NOTIONAL
from bot.clock import Clock
from bot.state.store import OrderRecord, PlanRecord, StateStore

log = structlog.get_logger(__name__)

FINAL_STATUSES = frozenset({"filled", "canceled", "expired", "rejected", "replaced"})
NOT_SENT = "intent"


def client_order_id(plan_id: str, seq: int) -> str:
    """Deterministic and unique per plan and position: what makes a resubmission recognisable."""
    return f"{plan_id}-{seq}"


@dataclass(frozen=True)
class ExecutionSettings:
    order_timeout: timedelta
    cash_buffer: Decimal


class PlanExecutor:
    """Drives one account's plans through submit, follow-up and completion."""

    def __init__(
        self, account: str, broker: AlpacaBroker, store: StateStore, clock: Clock, settings: ExecutionSettings
    ) -> None:
        self.account = account
        self.broker = broker
        self.store = store
        self.clock = clock
        self.settings = settings

    def advance(self, plan: PlanRecord, halted: bool = False) -> str:
        """One round of work on ``plan``; returns its status afterwards (executing, done or failed)."""
        structlog.contextvars.bind_contextvars(plan_id=plan.plan_id)
        try:
            records = self._refresh(plan)
            if halted:
                return plan.status
            specs = plan.details["orders"]
            sells = [s for s in specs if s["side"] == "sell"]
            buys = [s for s in specs if s["side"] == "buy"]
            self._send_missing(plan, sells, records)
            if all(self._is_final(records.get(client_order_id(plan.plan_id, s["seq"]))) for s in sells):
                self._send_missing(plan, buys, records, size_buys=True)
            records = {r.client_order_id: r for r in self.store.orders(plan_id=plan.plan_id)}
            self._cancel_overdue(records.values())
            if len(records) == len(specs) and all(self._is_final(r) for r in records.values()):
                return self._finish(plan, records.values())
            return "executing"
        finally:
            structlog.contextvars.unbind_contextvars("plan_id")

    # -- following orders -------------------------------------------------------------------------------
    def _refresh(self, plan: PlanRecord) -> dict[str, OrderRecord]:
        """Bring every non-final order of the plan up to date from the broker; resolve unsent intents."""
        records = {r.client_order_id: r for r in self.store.orders(plan_id=plan.plan_id)}
        waiting = [r for r in records.values() if not self._is_final(r)]
        open_now = {o.client_order_id: o for o in self.broker.open_orders()} if waiting else {}
        for record in waiting:
            if record.client_order_id in open_now:
                if (
                    open_now[record.client_order_id].filled_qty != record.filled_qty
                    or record.status == NOT_SENT
                ):
                    self._record_state(open_now[record.client_order_id])
                continue
            state = self.broker.order_by_client_id(record.client_order_id)
            if state is None:
                if record.status == NOT_SENT:
                    continue  # never reached the broker: _send_missing will send it
                self.store.update_order(record.client_order_id, status="rejected", final_at=self.clock.now())
                log.warning("order vanished at the broker", client_order_id=record.client_order_id)
                continue
            self._record_state(state)
        return {r.client_order_id: r for r in self.store.orders(plan_id=plan.plan_id)}

    def _record_state(self, state: OrderState) -> None:
        final = state.status in FINAL_STATUSES
        self.store.update_order(
            state.client_order_id,
            broker_id=state.id,
            status=state.status,
            filled_qty=state.filled_qty,
            filled_avg_price=state.filled_avg_price,
            submitted_at=state.submitted_at,
            final_at=state.updated_at if final else None,
        )
        if final:
            log.info(
                "order final",
                client_order_id=state.client_order_id,
                status=state.status,
                symbol=state.symbol,
                side=state.side,
                filled_qty=str(state.filled_qty),
                filled_avg_price=str(state.filled_avg_price) if state.filled_avg_price else None,
            )

    @staticmethod
    def _is_final(record: OrderRecord | None) -> bool:
        return record is not None and record.status in FINAL_STATUSES

    def _cancel_overdue(self, records) -> None:  # noqa: ANN001 - iterable of OrderRecord
        now = self.clock.now()
        for record in records:
            if self._is_final(record) or record.status == NOT_SENT or record.submitted_at is None:
                continue
            if now - record.submitted_at > self.settings.order_timeout and record.broker_id:
                log.warning("order timed out; canceling", client_order_id=record.client_order_id)
                self.broker.cancel(record.broker_id)

    # -- sending ---------------------------------------------------------------------------------------------
    def _send_missing(
        self, plan: PlanRecord, specs: list[dict], records: dict[str, OrderRecord], size_buys: bool = False
    ) -> None:
        budget = self._buy_budget(plan, specs, records) if size_buys else None
        for spec in specs:
            cid = client_order_id(plan.plan_id, spec["seq"])
            record = records.get(cid)
            if record is not None and record.status != NOT_SENT:
                continue
            intent = self._intent(cid, spec, budget)
            if intent is None:
                self._record_skip(plan, cid, spec, record)
                continue
            if record is None:
                self.store.record_order(
                    cid,
                    plan.plan_id,
                    self.account,
                    spec["seq"],
                    spec["symbol"],
                    spec["side"],
                    intent.qty,
                    intent.notional,
                    intent.type,
                    intent.limit_price,
                    est_notional=Decimal(spec["est_notional"]),
                    created_at=self.clock.now(),
                )
            self._submit(intent, resumed=record is not None)

    def _submit(self, intent: OrderIntent, resumed: bool) -> None:
        """Send one order. A resumed intent (written by an earlier process) is looked up first: that process
        may have sent it and died before it could record the answer."""
        structlog.contextvars.bind_contextvars(client_order_id=intent.client_order_id)
        try:
            existing = self.broker.order_by_client_id(intent.client_order_id) if resumed else None
            state = existing or self.broker.submit(intent)
            log.info(
                "order submitted" if existing is None else "order found at the broker, not resent",
                symbol=intent.symbol,
                side=intent.side,
                qty=str(intent.qty) if intent.qty is not None else None,
                notional=str(intent.notional) if intent.notional is not None else None,
                status=state.status,
            )
            self._record_state(state)
        except BrokerError as exc:
            log.error("order refused by the broker", error=str(exc))
            self.store.update_order(intent.client_order_id, status="rejected", final_at=self.clock.now())
            self.store.audit(
                "order_rejected", account=self.account, client_order_id=intent.client_order_id, error=str(exc)
            )
        except SubmitOutcomeUnknown as exc:
            log.warning("order outcome unknown; will look it up next tick", error=str(exc))
        finally:
            structlog.contextvars.unbind_contextvars("client_order_id")

    def _intent(self, cid: str, spec: dict, budget: Decimal | None) -> OrderIntent | None:
        qty = Decimal(spec["qty"]) if spec.get("qty") is not None else None
        notional = Decimal(spec["notional"]) if spec.get("notional") is not None else None
        if budget is not None and spec["side"] == "buy":
            qty, notional = _fit_to_budget(qty, notional, Decimal(spec["est_price"]), budget)
            if (qty is not None and qty <= 0) or (notional is not None and notional < MIN_NOTIONAL):
                return None
        return OrderIntent(
            client_order_id=cid, symbol=spec["symbol"], side=spec["side"], qty=qty, notional=notional
        )

    def _buy_budget(self, plan: PlanRecord, specs: list[dict], records: dict[str, OrderRecord]) -> Decimal:
        """Share of the cash actually available that each unsent buy may spend (1 = as planned)."""
        unsent = [
            s
            for s in specs
            if client_order_id(plan.plan_id, s["seq"]) not in records
            or records[client_order_id(plan.plan_id, s["seq"])].status == NOT_SENT
        ]
        planned = sum((Decimal(s["est_notional"]) for s in unsent), Decimal(0))
        if planned <= 0:
            return Decimal(1)
        account = self.broker.account()
        spendable = account.buying_power - account.equity * self.settings.cash_buffer
        return max(Decimal(0), min(Decimal(1), spendable / planned))

    def _record_skip(self, plan: PlanRecord, cid: str, spec: dict, record: OrderRecord | None) -> None:
        if record is None:
            self.store.record_order(
                cid,
                plan.plan_id,
                self.account,
                spec["seq"],
                spec["symbol"],
                spec["side"],
                None,
                None,
                "market",
                None,
                est_notional=Decimal(0),
                status="canceled",
                created_at=self.clock.now(),
            )
        else:
            self.store.update_order(cid, status="canceled", final_at=self.clock.now())
        log.info("buy skipped: the sells freed too little cash", client_order_id=cid, symbol=spec["symbol"])

    def _finish(self, plan: PlanRecord, records) -> str:  # noqa: ANN001 - iterable of OrderRecord
        filled = [r for r in records if r.status == "filled"]
        status = "done"
        self.store.set_plan_status(
            plan.plan_id, status, f"{len(filled)} of {len(plan.details['orders'])} filled"
        )
        log.info("plan finished", filled=len(filled), orders=len(plan.details["orders"]))
        return status


def _fit_to_budget(
    qty: Decimal | None, notional: Decimal | None, est_price: Decimal, share: Decimal
) -> tuple[Decimal | None, Decimal | None]:
    """Scale a buy down by ``share`` (never up): whole shares stay whole, notionals round down to the cent."""
    if share >= 1:
        return qty, notional
    if notional is not None:
        return None, (notional * share).quantize(Decimal("0.01"), ROUND_DOWN)
    assert qty is not None
    whole = qty == qty.to_integral_value()
    scaled = qty * share
    return (
        scaled.to_integral_value(ROUND_DOWN) if whole else scaled.quantize(Decimal("1e-9"), ROUND_DOWN)
    ), None
