"""Executes a stored plan, step by step, so that a crash at any point resumes without sending anything twice.

The plan's orders live in the state database before anything is sent. Each order gets a deterministic
client_order_id (the plan id and its place in the plan); an *intent* row is written before the submit, and a
restarted bot looks every intent up at the broker by that id before it would ever send it. Sells go first;
buys wait until every sell is final, and are sized to what the sells actually freed, never above the amount
planned (and approved). Every call to ``advance`` does one round of that work and returns; the worker calls it
again on its next tick until the plan is done.

Order slicing (issue 6, :mod:`bot.slicing`): when the plan is first taken up, every planned order (a *parent*)
gets a policy - small against its symbol's average daily volume: one market order under the parent's own
client_order_id, exactly as before; large: a TWAP schedule of child orders ``<parent id>-c<k>`` - and the
arrival mid it will be measured against. Both are stored with the schedule (``exec_parents``,
``exec_children``) before any child is sent; each child is then an ordinary order of the plan with its own
write-ahead intent, so a restarted bot resumes the schedule, looks an unanswered child up instead of sending
it again, and sizes the next child from what is filled and working (never above the approved amount). A
sliced sell runs first like any sell; a sliced buy starts once every sell has started and takes only the cash
actually available. Each parent ends with an execution report (arrival mid, average fill, shortfall in bp,
participation), logged and stored for ``rebalance-bot history`` and for the backtester's cost model.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

import structlog

from bot.broker.alpaca import AlpacaBroker
from bot.broker.models import (
    BrokerError,
    BrokerUnavailable,
    OrderIntent,
    OrderState,
    SubmitOutcomeUnknown,
    cash_for_buys,
)
from bot.broker.rounding import MIN_NOTIONAL
from bot.clock import Clock
from bot.plan_outcome import final_reason
from bot.slicing.behaviour import (
    CancelChild,
    ChildState,
    Finish,
    MarketNow,
    ParentState,
    SendChild,
    SkipChild,
    SlicedExecution,
    child_order_id,
)
from bot.slicing.policies import SlicingSettings, TwapPolicy, choose_policy
from bot.slicing.report import average_price, plan_shortfall_bp, shortfall_bp
from bot.slicing.scheduler import expected_minute_volumes
from bot.slicing.volume import (
    SESSION_MINUTES,
    adv_from_bars,
    et_date,
    floor_minute,
    minute_profile,
    minutes_until,
    robust_volume,
    session_minute,
    volume_between,
)
from bot.state.store import (
    ExecChildRecord,
    ExecParentRecord,
    ExecutionReportRecord,
    OrderRecord,
    PlanRecord,
    StateStore,
)

log = structlog.get_logger(__name__)

FINAL_STATUSES = frozenset({"filled", "canceled", "expired", "rejected", "replaced"})
NOT_SENT = "intent"


def client_order_id(plan_id: str, seq: int) -> str:
    """Deterministic and unique per plan and position: what makes a resubmission recognisable."""
    return f"{plan_id}-{seq}"


CHILD_SEQ_BASE = 1_000_000
"""A child's ``seq`` in the orders table: ``CHILD_SEQ_BASE * (parent seq + 1) + k`` (unique per plan)."""
ALL = 1_000_000
"""Row limit when reading every order of one plan (children included)."""
ADV_LOOKBACK = timedelta(days=45)
PROFILE_LOOKBACK = timedelta(days=7)


def child_seq(parent_seq: int, k: int) -> int:
    return CHILD_SEQ_BASE * (parent_seq + 1) + k


@dataclass(frozen=True)
class ExecutionSettings:
    order_timeout: timedelta
    cash_buffer: Decimal
    slicing: Any = field(default_factory=SlicingSettings)
    """:class:`~bot.slicing.policies.SlicingSettings`, or the config's ``execution.slicing`` section."""

    def __post_init__(self) -> None:
        if self.slicing is None:
            object.__setattr__(self, "slicing", SlicingSettings())
        elif not isinstance(self.slicing, SlicingSettings):
            object.__setattr__(self, "slicing", SlicingSettings.from_config(self.slicing))


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
        self._newly_final: set[str] = set()
        """Orders of the plan that reached a final state in this round's refresh."""
        self._open_now: list[OrderState] | None = None
        """The broker's open orders as read by this round's refresh (None: not read)."""

    @property
    def slicing(self) -> SlicingSettings:
        return self.settings.slicing  # type: ignore[no-any-return]

    def advance(self, plan: PlanRecord, halted: bool = False) -> str:
        """One round of work on ``plan``; returns its status afterwards (executing, done or failed)."""
        structlog.contextvars.bind_contextvars(plan_id=plan.plan_id)
        try:
            records = self._refresh(plan)
            if halted:
                return plan.status
            specs = plan.details["orders"]
            parents = self._parents(plan, specs, records)
            sliced = {seq for seq, p in parents.items() if p.policy == TwapPolicy.name}
            sells = [s for s in specs if s["side"] == "sell"]
            buys = [s for s in specs if s["side"] == "buy"]
            single_sells = [s for s in sells if s["seq"] not in sliced]
            single_buys = [s for s in buys if s["seq"] not in sliced]
            self._send_missing(plan, single_sells, records)
            self._drive_sliced(plan, [parents[s["seq"]] for s in sells if s["seq"] in sliced])
            parents = {p.seq: p for p in self.store.exec_parents(plan_id=plan.plan_id)}
            records = self._singles(plan)
            singles_final = all(
                self._is_final(records.get(client_order_id(plan.plan_id, s["seq"]))) for s in single_sells
            )
            if singles_final and all(parents[s["seq"]].is_final for s in sells if s["seq"] in sliced):
                self._send_missing(plan, single_buys, records, size_buys=True)
            if singles_final and all(
                self._has_started(parents[s["seq"]]) for s in sells if s["seq"] in sliced
            ):
                self._drive_sliced(plan, [parents[s["seq"]] for s in buys if s["seq"] in sliced])
            records = self._singles(plan)
            singles = {client_order_id(plan.plan_id, s["seq"]) for s in specs if s["seq"] not in sliced}
            self._cancel_overdue(r for cid, r in records.items() if cid in singles)
            parents = {p.seq: p for p in self.store.exec_parents(plan_id=plan.plan_id)}
            if all(self._is_final(records.get(cid)) for cid in singles) and all(
                parents[seq].is_final for seq in sliced
            ):
                return self._finish(plan, records, parents)
            return "executing"
        finally:
            structlog.contextvars.unbind_contextvars("plan_id")

    def _singles(self, plan: PlanRecord) -> dict[str, OrderRecord]:
        """The order rows of the plan's orders themselves (``<plan_id>-<seq>``; children not included)."""
        out = {}
        for spec in plan.details["orders"]:
            record = self.store.get_order(client_order_id(plan.plan_id, spec["seq"]))
            if record is not None:
                out[record.client_order_id] = record
        return out

    # -- following orders -------------------------------------------------------------------------------
    def _refresh(self, plan: PlanRecord) -> dict[str, OrderRecord]:
        """Bring every non-final order of the plan (children included) up to date from the broker; resolve
        unsent intents. Returns the plan's own order rows (see ``_singles``)."""
        waiting = self.store.orders(plan_id=plan.plan_id, open_only=True, limit=ALL)
        open_now = {o.client_order_id: o for o in self.broker.open_orders()} if waiting else {}
        self._open_now = list(open_now.values()) if waiting else None
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
        self._newly_final = {
            r.client_order_id for r in waiting if self._is_final(self.store.get_order(r.client_order_id))
        }
        return self._singles(plan)

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
            if record is not None:  # written ahead by an earlier process: send exactly what it recorded
                self._submit(_recorded_intent(record), resumed=True)
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
            self._submit(intent, resumed=False)

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
        unrecorded = [s for s in specs if client_order_id(plan.plan_id, s["seq"]) not in records]
        planned = sum((Decimal(s["est_notional"]) for s in unrecorded), Decimal(0))
        if planned <= 0:
            return Decimal(1)
        # Intents already written ahead are sent as recorded; they come out of the cash first.
        committed = sum(
            (r.est_notional for r in records.values() if r.status == NOT_SENT and r.side == "buy"), Decimal(0)
        )
        account = self.broker.account()
        cash = cash_for_buys(account, self._open_now or ())  # never borrow on a margin account
        spendable = cash - account.equity * self.settings.cash_buffer - committed
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

    def _finish(
        self, plan: PlanRecord, records: dict[str, OrderRecord], parents: dict[int, ExecParentRecord]
    ) -> str:
        now = self.clock.now()
        singles = [p for p in parents.values() if p.policy != TwapPolicy.name and not p.is_final]
        bars = self._bars_for_reports([records[p.parent_id] for p in singles if p.parent_id in records])
        for parent in singles:
            order = records.get(parent.parent_id)
            outcome = order.status if order is not None else "canceled"
            parent = self.store.finish_parent(
                parent.parent_id, outcome, "", (order.final_at if order else None) or now
            )
            self._report(plan, parent, bars)
        finished = self.store.exec_parents(plan_id=plan.plan_id)
        filled = sum(1 for p in finished if p.status == "filled")
        reports = self.store.execution_reports(plan_id=plan.plan_id)
        status = "done"
        reason = final_reason(plan.details["orders"], finished, reports)
        self.store.set_plan_status(plan.plan_id, status, reason)
        plan_bp = plan_shortfall_bp(reports)
        log.info(
            "plan finished",
            outcome=reason,
            filled=filled,
            orders=len(plan.details["orders"]),
            shortfall_bp=round(plan_bp, 2) if plan_bp is not None else None,
        )
        return status

    # -- order slicing ------------------------------------------------------------------------------------
    def _parents(
        self, plan: PlanRecord, specs: list[dict], records: dict[str, OrderRecord]
    ) -> dict[int, ExecParentRecord]:
        """Each planned order's execution: chosen (and stored, with its schedule) when first seen."""
        parents = {p.seq: p for p in self.store.exec_parents(plan_id=plan.plan_id)}
        missing = [s for s in specs if s["seq"] not in parents]
        if not missing:
            return parents
        now = self.clock.now()
        symbols = sorted({s["symbol"] for s in missing})
        quotes = self.broker.latest_quotes(symbols)
        adv = self._adv(symbols, now) if self.slicing.policy != "single" else {}
        chosen = []
        for spec in missing:
            cid = client_order_id(plan.plan_id, spec["seq"])
            quote = quotes.get(spec["symbol"])
            est_price = Decimal(spec["est_price"])
            arrival = quote.mid if quote is not None and quote.is_two_sided else est_price
            qty = Decimal(spec["qty"]) if spec.get("qty") is not None else None
            notional = Decimal(spec["notional"]) if spec.get("notional") is not None else None
            shares = qty if qty is not None else (notional or Decimal(0)) / arrival
            if cid in records:  # sent as one order already (by a bot from before slicing, or one that died)
                choice = choose_policy(
                    SlicingSettings(policy="single"), shares, adv.get(spec["symbol"]), shares
                )
            else:
                choice = choose_policy(
                    self.slicing, shares, adv.get(spec["symbol"]), Decimal(spec["est_notional"])
                )
            chosen.append((spec, cid, arrival, qty, notional, shares, choice))
        sliced = [c for c in chosen if isinstance(c[6].policy, TwapPolicy)]
        start, close, profile = now, None, {}
        if sliced:
            clock = self.broker.clock()
            start, close = (now, clock.next_close) if clock.is_open else (clock.next_open, clock.next_close)
            bars = self.broker.bars(
                sorted({c[0]["symbol"] for c in sliced}), "1Min", now - PROFILE_LOOKBACK, now
            )
            profile = {symbol: minute_profile(b, et_date(start)) for symbol, b in bars.items()}
        for spec, cid, arrival, qty, notional, shares, choice in chosen:
            policy = choice.policy
            symbol = spec["symbol"]
            record = ExecParentRecord(
                parent_id=cid,
                plan_id=plan.plan_id,
                account=self.account,
                seq=spec["seq"],
                symbol=symbol,
                side=spec["side"],
                policy=policy.name,
                policy_config=policy.to_json(),
                policy_reason=choice.reason,
                qty=qty,
                notional=notional,
                arrival_mid=arrival,
                decision_price=Decimal(spec["est_price"]),
                adv=adv.get(symbol),
                started_at=now,
            )
            children: list[tuple[str, int, datetime, Decimal]] = []
            if isinstance(policy, TwapPolicy):
                assert close is not None
                deadline = close - timedelta(minutes=policy.deadline_minutes_before_close)
                symbol_adv = adv.get(symbol)
                fallback = float(symbol_adv) / SESSION_MINUTES if symbol_adv else 0.0
                volumes = expected_minute_volumes(
                    profile.get(symbol, {}), session_minute(start), minutes_until(start, deadline), fallback
                )
                schedule = SlicedExecution.plan_children(policy, shares, arrival, start, deadline, volumes)
                children = [
                    (child_order_id(cid, k), k, slot.at, slot.qty) for k, slot in enumerate(schedule.slots, 1)
                ]
                record = replace(record, deadline=deadline)
                log.info(
                    "order will be sliced",
                    client_order_id=cid,
                    symbol=symbol,
                    side=spec["side"],
                    reason=choice.reason,
                    arrival_mid=str(arrival),
                    children=len(children),
                    every_minutes=policy.interval // timedelta(minutes=1),
                    first=children[0][2].isoformat() if children else None,
                    last=children[-1][2].isoformat() if children else None,
                    participation_cap=str(policy.participation_cap),
                    collar_half_spreads=str(policy.collar_half_spreads),
                    unscheduled=str(schedule.unscheduled),
                    deadline=deadline.isoformat(),
                )
            else:
                log.info(
                    "order goes at once",
                    client_order_id=cid,
                    symbol=symbol,
                    side=spec["side"],
                    reason=choice.reason,
                    arrival_mid=str(arrival),
                )
            parents[spec["seq"]] = self.store.start_parent(record, children)
        return parents

    def _adv(self, symbols: list[str], now: datetime) -> dict[str, Decimal]:
        daily = self.broker.bars(symbols, "1Day", now - ADV_LOOKBACK, now)
        out = {}
        for symbol, bars in daily.items():
            value = adv_from_bars(bars, et_date(now))
            if value:
                out[symbol] = value
        return out

    def _has_started(self, parent: ExecParentRecord) -> bool:
        return parent.is_final or self.store.children_recorded(parent.parent_id) > 0

    def _drive_sliced(self, plan: PlanRecord, parents: list[ExecParentRecord]) -> None:
        """One round for each working sliced parent: resume unanswered children, react to children that
        ended, then decide (reading market data only for parents with something due)."""
        now = self.clock.now()
        due: list[tuple[ExecParentRecord, SlicedExecution]] = []
        for parent in parents:
            if parent.is_final:
                continue
            children = self.store.exec_children(parent.parent_id)
            if self._resume_intents(parent, children, now):
                children = self.store.exec_children(parent.parent_id)
            behaviour = SlicedExecution(_parent_state(parent), [_child_state(c) for c in children])
            actions = []
            for child in behaviour.children:
                if child.client_order_id not in self._newly_final:
                    continue
                self.store.settle_order_notional(
                    child.client_order_id, child.filled_value.quantize(Decimal("0.01"))
                )
                if child.order_status == "filled":
                    actions += behaviour.on_fill(child)
                elif child.order_status == "rejected":
                    actions += behaviour.on_reject(child)
                else:
                    actions += behaviour.on_cancel(child)
            if any(isinstance(a, Finish) for a in actions):
                self._apply(plan, parent, behaviour, actions, MarketNow(now))
                continue
            when = behaviour.next_child_due(now)
            if when is not None and when <= now:
                due.append((parent, behaviour))
        if not due:
            return
        symbols = sorted({p.symbol for p, _ in due})
        quotes = self.broker.latest_quotes(symbols)
        longest = max(b.policy.interval for _, b in due)
        minute = floor_minute(now)
        bars = self.broker.bars(symbols, "1Min", minute - longest, now)
        account = self.broker.account() if any(p.side == "buy" for p, _ in due) else None
        open_orders = self._open_now if self._open_now is not None else self.broker.open_orders()
        spendable = None
        if account is not None:  # never borrow on a margin account
            spendable = cash_for_buys(account, open_orders) - account.equity * self.settings.cash_buffer
        for parent, behaviour in due:
            quote = quotes.get(parent.symbol)
            market = MarketNow(
                now=now,
                bid=quote.bid if quote is not None else None,
                ask=quote.ask if quote is not None else None,
                observed_volume=robust_volume(
                    bars.get(parent.symbol, []), minute - behaviour.policy.interval, minute
                ),
                spendable=spendable if parent.side == "buy" else None,
                opposite_open=any(
                    o.symbol == parent.symbol and o.side != parent.side and o.is_open for o in open_orders
                ),
            )
            if market.opposite_open:
                log.info(
                    "child waits: an opposite order is open on the symbol", client_order_id=parent.parent_id
                )
            spent = self._apply(plan, parent, behaviour, behaviour.decide(market), market)
            if spendable is not None and parent.side == "buy":
                spendable -= spent

    def _resume_intents(
        self, parent: ExecParentRecord, children: list[ExecChildRecord], now: datetime
    ) -> bool:
        """Children recorded but maybe never sent (the bot died around the submit): look each one up; send it
        only if the broker does not have it and the deadline has not passed."""
        resumed = False
        for child in children:
            order = child.order
            if order is None or order.status != NOT_SENT:
                continue
            resumed = True
            assert parent.deadline is not None
            if now >= parent.deadline:
                state = self.broker.order_by_client_id(order.client_order_id)
                if state is None:
                    self.store.update_order(order.client_order_id, status="canceled", final_at=now)
                    log.info("unsent child dropped at the deadline", client_order_id=order.client_order_id)
                else:
                    self._record_state(state)
                continue
            intent = OrderIntent(
                client_order_id=order.client_order_id,
                symbol=order.symbol,
                side=order.side,
                qty=order.qty,
                notional=order.notional,
                type=order.order_type,
                limit_price=order.limit_price,
            )
            self._submit(intent, resumed=True)
        return resumed

    def _apply(
        self,
        plan: PlanRecord,
        parent: ExecParentRecord,
        behaviour: SlicedExecution,
        actions: list,
        market: MarketNow,
    ) -> Decimal:
        """Carry the behaviour's decisions out; returns the cash the buy children sent may use."""
        spent = Decimal(0)
        for action in actions:
            if isinstance(action, SkipChild):
                self.store.set_child_status(action.client_order_id, action.status, action.reason)
            elif isinstance(action, CancelChild):
                self.store.set_child_status(action.client_order_id, action.mark, action.reason)
                record = self.store.get_order(action.client_order_id)
                log.info("canceling child", client_order_id=action.client_order_id, reason=action.reason)
                if record is not None and record.broker_id and not record.is_final:
                    self.broker.cancel(record.broker_id)
            elif isinstance(action, SendChild):
                spent += self._send_child(plan, parent, action, market)
            elif isinstance(action, Finish):
                self._finish_parent(plan, parent, action)
        return spent

    def _send_child(
        self, plan: PlanRecord, parent: ExecParentRecord, action: SendChild, market: MarketNow
    ) -> Decimal:
        cid = child_order_id(parent.parent_id, action.k)
        now = self.clock.now()
        price = action.limit_price or market.mid or parent.arrival_mid or Decimal(0)
        est = action.notional if action.notional is not None else (action.qty or Decimal(0)) * price
        self.store.record_child_order(
            ExecChildRecord(
                client_order_id=cid,
                parent_id=parent.parent_id,
                k=action.k,
                kind=action.kind,
                planned_at=action.planned_at,
                planned_qty=action.qty,
                status="sent",
                interval_volume=action.interval_volume,
                note=action.reason,
                order=None,
            ),
            plan_id=plan.plan_id,
            account=self.account,
            seq=child_seq(parent.seq, action.k),
            symbol=parent.symbol,
            side=parent.side,
            qty=action.qty,
            notional=action.notional,
            order_type=action.order_type,
            limit_price=action.limit_price,
            est_notional=est.quantize(Decimal("0.01")),
            created_at=now,
            replaces=action.replaces,
        )
        log.info(
            "child order",
            client_order_id=cid,
            parent=parent.parent_id,
            kind=action.kind,
            qty=str(action.qty) if action.qty is not None else None,
            notional=str(action.notional) if action.notional is not None else None,
            limit_price=str(action.limit_price) if action.limit_price is not None else None,
            interval_volume=str(action.interval_volume) if action.interval_volume is not None else None,
        )
        self._submit(
            OrderIntent(
                client_order_id=cid,
                symbol=parent.symbol,
                side=parent.side,
                qty=action.qty,
                notional=action.notional,
                type=action.order_type,
                limit_price=action.limit_price,
            ),
            resumed=False,
        )
        if action.notional is not None:
            return action.notional
        if action.limit_price is not None:
            return (action.qty or Decimal(0)) * action.limit_price
        return (action.qty or Decimal(0)) * price * Decimal("1.02")

    def _finish_parent(self, plan: PlanRecord, parent: ExecParentRecord, action: Finish) -> None:
        parent = self.store.finish_parent(parent.parent_id, action.status, action.reason, self.clock.now())
        for child in self.store.exec_children(parent.parent_id):  # the daily limit counts what traded
            order = child.order
            if order is not None and order.is_final and order.submitted_at is not None:
                value = (order.filled_qty or Decimal(0)) * (order.filled_avg_price or Decimal(0))
                if value.quantize(Decimal("0.01")) != order.est_notional:
                    self.store.settle_order_notional(order.client_order_id, value.quantize(Decimal("0.01")))
        log.info(
            "sliced order finished",
            client_order_id=parent.parent_id,
            status=parent.status,
            reason=action.reason,
        )
        self._report(plan, parent)

    def _report(
        self, plan: PlanRecord, parent: ExecParentRecord, bars: dict[str, list] | None = None
    ) -> ExecutionReportRecord:
        """The execution report of a finished parent: stored, logged, returned. ``bars``: minute bars already
        read for the window (else they are read here)."""
        now = self.clock.now()
        children = self.store.exec_children(parent.parent_id) if parent.policy == TwapPolicy.name else []
        if children:
            orders = [c.order for c in children if c.order is not None]
        else:
            single = self.store.get_order(parent.parent_id)
            orders = [single] if single is not None else []
        filled_qty, avg = average_price((o.filled_qty or Decimal(0), o.filled_avg_price) for o in orders)
        sent = [o.submitted_at for o in orders if o.submitted_at is not None]
        start = min(sent) if sent else parent.started_at or now
        end = max(((o.final_at or now) for o in orders), default=now)
        volume = None
        if filled_qty:
            if bars is None:
                bars = self._bars_for_reports(orders)
            volume = volume_between(bars.get(parent.symbol, []), floor_minute(start), end) or None
        shares = [
            float(c.order.filled_qty / c.interval_volume)
            for c in children
            if c.order is not None and c.order.filled_qty and c.interval_volume
        ]
        report = ExecutionReportRecord(
            parent_id=parent.parent_id,
            plan_id=plan.plan_id,
            account=self.account,
            symbol=parent.symbol,
            side=parent.side,
            policy=parent.policy,
            arrival_mid=parent.arrival_mid,
            decision_price=parent.decision_price,
            planned_qty=parent.qty,
            planned_notional=parent.notional,
            filled_qty=filled_qty,
            avg_price=avg.quantize(Decimal("0.000001")) if avg is not None else None,
            filled_notional=(filled_qty * avg).quantize(Decimal("0.01")) if avg is not None else Decimal(0),
            shortfall_bp=shortfall_bp(parent.side, avg, parent.arrival_mid),
            participation=float(filled_qty / volume) if volume else None,
            max_child_participation=max(shares) if shares else None,
            market_volume=volume,
            children=len(orders) if children else 0,
            status=parent.status,
            started_at=parent.started_at or start,
            finished_at=parent.finished_at or now,
        )
        self.store.save_execution_report(report)
        log.info(
            "execution report",
            client_order_id=parent.parent_id,
            symbol=parent.symbol,
            side=parent.side,
            policy=parent.policy,
            status=parent.status,
            arrival_mid=str(parent.arrival_mid),
            avg_price=str(report.avg_price) if report.avg_price is not None else None,
            shortfall_bp=round(report.shortfall_bp, 2) if report.shortfall_bp is not None else None,
            filled_qty=str(filled_qty),
            planned=str(parent.qty if parent.qty is not None else parent.notional),
            participation=round(report.participation, 4) if report.participation is not None else None,
            children=report.children,
        )
        return report

    def _bars_for_reports(self, orders: list[OrderRecord]) -> dict[str, list]:
        """Minute bars over the orders' window, every symbol in one request ({} if they cannot be read: the
        reports then go without participation)."""
        sent = [o.submitted_at for o in orders if o.submitted_at is not None and o.filled_qty]
        if not sent:
            return {}
        start = floor_minute(min(sent))
        end = max((o.final_at or self.clock.now()) for o in orders)
        try:
            return self.broker.bars(
                sorted({o.symbol for o in orders}), "1Min", start, end - timedelta(seconds=1)
            )
        except (BrokerError, BrokerUnavailable) as exc:
            log.warning("no minute bars for the execution reports", error=str(exc))
            return {}


def _parent_state(parent: ExecParentRecord) -> ParentState:
    assert parent.arrival_mid is not None and parent.deadline is not None and parent.started_at is not None
    return ParentState(
        parent_id=parent.parent_id,
        symbol=parent.symbol,
        side=parent.side,
        policy=TwapPolicy.from_json(parent.policy_config),
        qty=parent.qty,
        notional=parent.notional,
        arrival_mid=parent.arrival_mid,
        started_at=parent.started_at,
        deadline=parent.deadline,
        status=parent.status,
    )


def _child_state(child: ExecChildRecord) -> ChildState:
    order = child.order
    return ChildState(
        client_order_id=child.client_order_id,
        k=child.k,
        kind=child.kind,
        planned_at=child.planned_at,
        planned_qty=child.planned_qty,
        schedule_status=child.status,
        order_status=order.status if order is not None else None,
        qty=order.qty if order is not None else None,
        notional=order.notional if order is not None else None,
        limit_price=order.limit_price if order is not None else None,
        filled_qty=(order.filled_qty or Decimal(0)) if order is not None else Decimal(0),
        filled_avg_price=order.filled_avg_price if order is not None else None,
        submitted_at=order.submitted_at if order is not None else None,
        created_at=order.created_at if order is not None else None,
        interval_volume=child.interval_volume,
    )


def _recorded_intent(record: OrderRecord) -> OrderIntent:
    """The order an earlier process wrote ahead, rebuilt field for field: what was recorded is sent."""
    return OrderIntent(
        client_order_id=record.client_order_id,
        symbol=record.symbol,
        side=record.side,
        qty=record.qty,
        notional=record.notional,
        type=record.order_type,
        limit_price=record.limit_price,
    )


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
