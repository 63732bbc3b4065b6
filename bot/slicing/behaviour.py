"""The behaviour of a sliced parent order: its stored state in, actions out - no clock, broker or database.

One class, :class:`SlicedExecution`, with the lifecycle every policy shares:

1. ``plan_children`` - the schedule (slots with times and sizes, :mod:`bot.slicing.scheduler`), computed
   once when the parent starts and stored;
2. ``next_child_due(t)`` - when the parent next needs attention (a slot, a re-price, the deadline), so the
   executor reads market data only when something is due;
3. ``decide(market)`` - what to do now: send a child, cancel one (re-price, deadline), skip a slot, finish;
4. ``on_fill`` / ``on_cancel`` / ``on_reject`` - what a child reaching a final state means for the parent.

The executor rebuilds the behaviour from the state database on every tick, so everything it decides follows
from stored facts: a restarted bot decides exactly what the one that died would have.

Rules it keeps:

* one working child at a time: the next is sized only once the previous one is final, so what is filled plus
  what is working never exceeds the approved amount (limit buys count at their limit price);
* a child is whole shares at a collar price (limit), or a market order when the policy has no collar; the
  parent's fractional part goes last as a market order (Alpaca accepts fractional and notional quantities
  only on market day orders);
* a child takes at most the participation cap of the volume traded in the interval before it (minus what
  this parent already sent in that interval), at most ``max_child_notional``, and a buy at most the cash
  available above the buffer;
* no child is sent while an order on the other side of the same symbol is open (Alpaca would refuse it as a
  potential wash trade);
* at the deadline working children are canceled and the parent ends with what it got ("expired"); the next
  cycle plans what is still off target. After ``max_rejections`` rejected children it ends as "failed".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from bot.broker.rounding import MIN_NOTIONAL
from bot.slicing.collars import NoQuote, collar_price
from bot.slicing.policies import TwapPolicy
from bot.slicing.scheduler import Schedule, child_qty, plan_slots, whole

ZERO = Decimal(0)
CENT = Decimal("0.01")
FINAL = frozenset({"filled", "canceled", "expired", "rejected", "replaced"})
MARKET_BUY_MARGIN = Decimal("1.02")
"""Cash set aside for a market buy child above its quote (impact, a moving price)."""

# schedule statuses of a child row
PLANNED, SENT, SKIPPED, REPRICING, REPRICED, DEADLINE = (
    "planned", "sent", "skipped", "repricing", "repriced", "deadline",
)  # fmt: skip
# kinds of children
SLICE, REPRICE, CATCHUP, REMAINDER = "slice", "reprice", "catchup", "remainder"


@dataclass(frozen=True)
class ParentState:
    """A sliced parent as stored: what was approved and the rules it started with."""

    parent_id: str
    symbol: str
    side: str
    policy: TwapPolicy
    qty: Decimal | None
    """Approved shares (qty parents)."""
    notional: Decimal | None
    """Approved USD (notional parents: fractional buys)."""
    arrival_mid: Decimal
    started_at: datetime
    deadline: datetime
    status: str = "working"

    @property
    def is_final(self) -> bool:
        return self.status != "working"


@dataclass(frozen=True)
class ChildState:
    """A child: its schedule row and, once recorded as an order, that order's latest known state."""

    client_order_id: str
    k: int
    kind: str
    planned_at: datetime
    planned_qty: Decimal | None
    schedule_status: str
    order_status: str | None = None
    """None: not yet recorded as an order; "intent": recorded, maybe not at the broker yet."""
    qty: Decimal | None = None
    notional: Decimal | None = None
    limit_price: Decimal | None = None
    filled_qty: Decimal = ZERO
    filled_avg_price: Decimal | None = None
    submitted_at: datetime | None = None
    created_at: datetime | None = None
    interval_volume: Decimal | None = None

    @property
    def recorded(self) -> bool:
        return self.order_status is not None

    @property
    def is_final(self) -> bool:
        return self.order_status in FINAL

    @property
    def is_working(self) -> bool:
        return self.recorded and not self.is_final

    @property
    def filled_value(self) -> Decimal:
        return self.filled_qty * (self.filled_avg_price or ZERO)

    @property
    def sent_at(self) -> datetime | None:
        return self.submitted_at or self.created_at


@dataclass(frozen=True)
class MarketNow:
    """What the executor read for a decision."""

    now: datetime
    bid: Decimal | None = None
    ask: Decimal | None = None
    observed_volume: Decimal | None = None
    """Market volume of the last ``policy.interval`` (complete minute bars)."""
    spendable: Decimal | None = None
    """Buys: buying power above the cash buffer. None for sells."""
    opposite_open: bool = False

    @property
    def mid(self) -> Decimal | None:
        if self.bid is None or self.ask is None or self.bid <= 0 or self.ask < self.bid:
            return None
        return (self.bid + self.ask) / 2


@dataclass(frozen=True)
class SendChild:
    k: int
    kind: str
    planned_at: datetime
    order_type: str
    qty: Decimal | None
    notional: Decimal | None
    limit_price: Decimal | None
    interval_volume: Decimal | None
    reason: str
    replaces: tuple[str, ...] = ()
    """Children canceled for re-pricing that this one takes over (marked ``repriced``)."""

    @property
    def planned_qty(self) -> Decimal | None:
        return self.qty


@dataclass(frozen=True)
class CancelChild:
    client_order_id: str
    mark: str
    """The schedule status the child gets: ``repricing`` or ``deadline``."""
    reason: str


@dataclass(frozen=True)
class SkipChild:
    client_order_id: str
    reason: str
    status: str = SKIPPED


@dataclass(frozen=True)
class Finish:
    status: str
    """``filled``, ``expired`` (deadline) or ``failed`` (rejections)."""
    reason: str


Action = SendChild | CancelChild | SkipChild | Finish


class SlicedExecution:
    """Decisions for one sliced parent (see the module docstring)."""

    def __init__(self, parent: ParentState, children: Sequence[ChildState]) -> None:
        self.parent = parent
        self.policy = parent.policy
        self.children = sorted(children, key=lambda c: c.k)

    # -- 1. plan -----------------------------------------------------------------------------------------
    @staticmethod
    def plan_children(
        policy: TwapPolicy,
        shares: Decimal,
        price: Decimal,
        start: datetime,
        deadline: datetime,
        minute_volumes: Sequence[Decimal | float | int],
    ) -> Schedule:
        """The schedule of a parent of ``shares`` (at about ``price``) from ``start`` to ``deadline``."""
        max_child = (
            whole(policy.max_child_notional / price) if policy.max_child_notional and price > 0 else None
        )
        return plan_slots(
            shares,
            start,
            deadline,
            interval=policy.interval,
            children=policy.children,
            participation_cap=policy.participation_cap,
            minute_volumes=minute_volumes,
            max_child_qty=max_child,
        )

    # -- accounting --------------------------------------------------------------------------------------
    @property
    def working(self) -> list[ChildState]:
        return [c for c in self.children if c.is_working]

    @property
    def planned(self) -> list[ChildState]:
        return [c for c in self.children if not c.recorded and c.schedule_status == PLANNED]

    @property
    def filled_qty(self) -> Decimal:
        return sum((c.filled_qty for c in self.children if c.recorded), ZERO)

    @property
    def filled_value(self) -> Decimal:
        return sum((c.filled_value for c in self.children if c.recorded), ZERO)

    @property
    def rejections(self) -> int:
        return sum(1 for c in self.children if c.order_status == "rejected")

    def committed_qty(self) -> Decimal:
        """Shares filled by final children plus the full size of working ones."""
        total = ZERO
        for c in self.children:
            if c.is_final:
                total += c.filled_qty
            elif c.is_working:
                if c.qty is not None:
                    total += c.qty
                elif c.notional is not None:
                    total += max(c.filled_qty, c.notional / self.parent.arrival_mid)
        return total

    def committed_notional(self) -> Decimal:
        """USD spent by final children plus what working ones may spend (limit x qty, or their notional)."""
        total = ZERO
        for c in self.children:
            if c.is_final:
                total += c.filled_value
            elif c.is_working:
                if c.notional is not None:
                    total += c.notional
                elif c.qty is not None:
                    price = c.limit_price or self.parent.arrival_mid * MARKET_BUY_MARGIN
                    total += c.qty * price
        return total

    def shares_left(self, price: Decimal) -> Decimal:
        """What the approved amount still allows, in shares (at ``price`` for a notional parent)."""
        if self.parent.qty is not None:
            return max(self.parent.qty - self.committed_qty(), ZERO)
        assert self.parent.notional is not None
        return max((self.parent.notional - self.committed_notional()) / price, ZERO) if price > 0 else ZERO

    def notional_left(self) -> Decimal:
        assert self.parent.notional is not None
        return max(self.parent.notional - self.committed_notional(), ZERO)

    def _slice_target(self, now: datetime) -> Decimal:
        return sum(
            (c.planned_qty or ZERO for c in self.children if c.kind == SLICE and c.planned_at <= now), ZERO
        )

    def _scheduled_total(self) -> Decimal:
        return sum((c.planned_qty or ZERO for c in self.children if c.kind == SLICE), ZERO)

    def _whole_part_done(self, price: Decimal) -> bool:
        return whole(self.shares_left(price)) < 1

    def _remainder_sent(self) -> bool:
        return any(c.kind == REMAINDER and c.recorded for c in self.children)

    def _complete(self, price: Decimal) -> bool:
        if self.working:
            return False
        if self.parent.qty is not None:
            left = self.shares_left(price)
            return left <= 0 or (left < 1 and self._remainder_sent())
        return self.notional_left() < MIN_NOTIONAL or (
            self._whole_part_done(price) and self._remainder_sent()
        )

    def _next_k(self) -> int:
        return max((c.k for c in self.children), default=0) + 1

    def _cid(self, k: int) -> str:
        return child_order_id(self.parent.parent_id, k)

    # -- 2. when ---------------------------------------------------------------------------------------------
    def next_child_due(self, now: datetime) -> datetime | None:
        """When this parent next needs a decision (a time at or before ``now`` means: decide now)."""
        if self.parent.is_final:
            return None
        due = [self.parent.deadline]
        working = self.working
        if working:
            reprice = timedelta(minutes=self.policy.reprice_after_minutes)
            due += [
                c.sent_at + reprice
                for c in working
                if c.limit_price is not None and c.schedule_status == SENT and c.sent_at is not None
            ]
            return min(due)
        if any(c.schedule_status == REPRICING for c in self.children):
            return now
        price = self.parent.arrival_mid
        if self._complete(price) or self.rejections >= self.policy.max_rejections:
            return now
        planned = self.planned
        if planned:
            due.append(min(c.planned_at for c in planned))
        elif not self._whole_part_done(price):
            last = max(
                (c.sent_at for c in self.children if c.sent_at is not None), default=self.parent.started_at
            )
            due.append(last + self.policy.interval)
        elif not self._remainder_sent():
            due.append(now)
        return min(due)

    # -- 3. decide -------------------------------------------------------------------------------------------
    def decide(self, market: MarketNow) -> list[Action]:
        if self.parent.is_final:
            return []
        now = market.now
        if now >= self.parent.deadline:
            return self._at_deadline()
        actions: list[Action] = []
        price = self._price(market)
        if self.rejections >= self.policy.max_rejections and not self.working:
            return [
                *self._skip_planned("the parent gave up after rejections"),
                Finish("failed", f"{self.rejections} children rejected; the rest is left for the next cycle"),
            ]
        if price is not None and self._complete(price):
            return [*self._skip_planned("nothing left to send"), Finish("filled", self._summary())]
        reprice = timedelta(minutes=self.policy.reprice_after_minutes)
        for c in self.working:
            if (
                c.limit_price is not None
                and c.schedule_status == SENT
                and c.sent_at is not None
                and now - c.sent_at >= reprice
            ):
                actions.append(
                    CancelChild(
                        c.client_order_id,
                        REPRICING,
                        f"not filled after {self.policy.reprice_after_minutes} min",
                    )
                )
        if self.working:
            return actions  # one working child at a time
        if price is None:
            return actions  # no usable quote: wait
        send = self._next_child(market, price)
        return actions + send

    def _at_deadline(self) -> list[Action]:
        actions: list[Action] = [
            CancelChild(c.client_order_id, DEADLINE, "deadline reached")
            for c in self.working
            if c.schedule_status != DEADLINE
        ]
        actions += self._skip_planned("deadline reached")
        if not self.working:
            price = self.parent.arrival_mid
            if self._complete(price):
                actions.append(Finish("filled", self._summary()))
            else:
                actions.append(
                    Finish(
                        "expired",
                        f"deadline {self.parent.deadline:%Y-%m-%d %H:%M} UTC reached: {self._summary()}; "
                        "the rest is left for the next cycle",
                    )
                )
        return actions

    def _skip_planned(self, reason: str) -> list[Action]:
        return [SkipChild(c.client_order_id, reason) for c in self.planned]

    def _price(self, market: MarketNow) -> Decimal | None:
        """The price a share is sized at: the limit a child would get, or the mid for market children."""
        mid = market.mid
        if mid is None:
            return None
        if self.policy.collar_half_spreads is None:
            return mid
        try:
            return collar_price(self.parent.side, market.bid, market.ask, self.policy.collar_half_spreads)  # type: ignore[arg-type]
        except NoQuote:
            return None

    def _next_child(self, market: MarketNow, price: Decimal) -> list[Action]:
        now = market.now
        repricing = tuple(c.client_order_id for c in self.children if c.schedule_status == REPRICING)
        if self._whole_part_done(price):
            return [
                *self._skip_planned("nothing left to send"),
                *self._mark(repricing),
                *self._remainder(market),
            ]
        due = sorted((c for c in self.planned if c.planned_at <= now), key=lambda c: c.k)
        committed = self.committed_qty()
        if due:
            k, kind, planned_at, target = due[0].k, SLICE, due[0].planned_at, self._slice_target(now)
        elif repricing:
            k, kind, planned_at, target = self._next_k(), REPRICE, now, self._slice_target(now)
        elif not self.planned:
            last = max(
                (c.sent_at for c in self.children if c.sent_at is not None), default=self.parent.started_at
            )
            if now < last + self.policy.interval:
                return []
            k, kind, planned_at = self._next_k(), CATCHUP, now
            target = committed + self.shares_left(price)  # everything that is left, within the cap
        else:
            return []
        merged: list[Action] = [SkipChild(c.client_order_id, f"merged into c{k}") for c in due[1:]]
        if target - committed < 1:
            # on schedule already (earlier children took this share): nothing is due now
            skip = [SkipChild(due[0].client_order_id, "on schedule: nothing due")] if due else []
            return [*skip, *merged, *self._mark(repricing)]
        if market.opposite_open or market.observed_volume is None:
            return []  # wait: Alpaca refuses an order opposite to an open one on the same symbol
        max_child = (
            whole(self.policy.max_child_notional / price)
            if self.policy.max_child_notional is not None
            else None
        )
        qty = child_qty(
            target=target,
            committed=committed,
            approved_left=self.shares_left(price),
            participation_cap=self.policy.participation_cap,
            observed_volume=market.observed_volume,
            recent_qty=self._recent_qty(now),
            max_child_qty=max_child,
        )
        if self.parent.side == "buy" and market.spendable is not None:
            unit = price if self.policy.uses_limits else price * MARKET_BUY_MARGIN
            qty = min(qty, whole(max(market.spendable, ZERO) / unit))
        if qty < 1:
            return []  # the cap, the cash or the volume leaves no room yet: try again on the next tick
        return [self._order(k, kind, planned_at, qty, price, market, repricing), *merged]

    def _mark(self, replaces: tuple[str, ...]) -> list[Action]:
        return [SkipChild(cid, "re-priced: nothing left to re-send", status=REPRICED) for cid in replaces]

    def _order(
        self,
        k: int,
        kind: str,
        planned_at: datetime,
        qty: Decimal,
        price: Decimal,
        market: MarketNow,
        replaces: tuple[str, ...],
    ) -> SendChild:
        volume = market.observed_volume
        if self.policy.uses_limits:
            return SendChild(
                k, kind, planned_at, "limit", qty, None, price, volume, f"{kind} at {price}", replaces
            )
        if self.parent.notional is not None:
            notional = min(qty * price, self.notional_left()).quantize(CENT, rounding=ROUND_DOWN)
            return SendChild(k, kind, planned_at, "market", None, notional, None, volume, f"{kind}", replaces)
        return SendChild(k, kind, planned_at, "market", qty, None, None, volume, f"{kind}", replaces)

    def _remainder(self, market: MarketNow) -> list[Action]:
        """The fractional rest as a market order (Alpaca: fractional and notional orders are market/day)."""
        if self._remainder_sent() or market.opposite_open:
            return []
        k = self._next_k()
        if self.parent.qty is not None:
            left = self.shares_left(self.parent.arrival_mid)
            if left <= 0:
                return []
            return [
                SendChild(
                    k,
                    REMAINDER,
                    market.now,
                    "market",
                    left,
                    None,
                    None,
                    market.observed_volume,
                    "fractional remainder",
                )
            ]
        notional = self.notional_left()
        if market.spendable is not None:
            notional = min(notional, max(market.spendable, ZERO))
        notional = notional.quantize(CENT, rounding=ROUND_DOWN)
        if notional < MIN_NOTIONAL:
            return []
        return [
            SendChild(
                k,
                REMAINDER,
                market.now,
                "market",
                None,
                notional,
                None,
                market.observed_volume,
                "notional remainder",
            )
        ]

    def _recent_qty(self, now: datetime) -> Decimal:
        """Shares of this parent's children sent in the last interval (they used the same volume)."""
        since = now - self.policy.interval
        total = ZERO
        for c in self.children:
            if c.recorded and c.sent_at is not None and c.sent_at > since and c.order_status != "rejected":
                total += c.filled_qty if c.is_final else (c.qty if c.qty is not None else c.filled_qty)
        return total

    def _summary(self) -> str:
        if self.parent.qty is not None:
            return f"{_num(self.filled_qty)} of {_num(self.parent.qty)} sh filled"
        return f"${self.filled_value:,.2f} of ${self.parent.notional:,.2f} filled"

    # -- 4. events -------------------------------------------------------------------------------------------
    def on_fill(self, child: ChildState) -> list[Action]:
        """A child filled (completely): the parent may be complete."""
        price = self.parent.arrival_mid
        return [Finish("filled", self._summary())] if self._complete(price) else []

    def on_cancel(self, child: ChildState) -> list[Action]:
        """A child canceled or expired: its unfilled part returns to the parent (re-sent at the next
        decision if it was canceled to re-price, else by the next slot)."""
        return []

    def on_reject(self, child: ChildState) -> list[Action]:
        """A child refused by the broker: nothing of it counts; too many and the parent gives up."""
        if self.rejections >= self.policy.max_rejections and not self.working:
            return [
                Finish("failed", f"{self.rejections} children rejected; the rest is left for the next cycle")
            ]
        return []


def child_order_id(parent_id: str, k: int) -> str:
    """``<parent client_order_id>-c<k>``: derived from the parent, so a child is never sent twice."""
    cid = f"{parent_id}-c{k}"
    if len(cid) > 128:
        raise ValueError(f"child client_order_id longer than 128 characters: {cid}")
    return cid


def _num(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text
