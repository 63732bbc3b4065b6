"""The sliced parent's decisions, from hand-built stored states: what is sent, canceled, skipped, finished."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from bot.slicing.behaviour import (
    CancelChild,
    ChildState,
    Finish,
    MarketNow,
    ParentState,
    SendChild,
    SkipChild,
    SlicedExecution,
)
from bot.slicing.policies import TwapPolicy

T0 = datetime(2019, 12, 17, 15, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
POLICY = TwapPolicy(window_minutes=10, children=5, participation_cap=D("0.1"), reprice_after_minutes=2)
"""A child every 2 minutes; limit children at mid -/+ 2 half-spreads, re-priced after 2 minutes."""
SELL_LIMIT, BUY_LIMIT = D("99.96"), D("100.04")  # quote 99.98 / 100.02: mid 100, half-spread 0.02


def parent(
    side: str = "sell", qty: str | None = "100", notional: str | None = None, **changes
) -> ParentState:
    return ParentState(
        parent_id="p-0",
        symbol="SPY",
        side=side,
        policy=changes.pop("policy", POLICY),
        qty=D(qty) if qty is not None else None,
        notional=D(notional) if notional is not None else None,
        arrival_mid=D(100),
        started_at=T0,
        deadline=T0 + timedelta(hours=1),
        **changes,
    )


def slot(k: int, qty: int = 20) -> ChildState:
    return ChildState(f"p-0-c{k}", k, "slice", T0 + (k - 1) * 2 * MIN, D(qty), "planned")


def sent(child: ChildState, status: str, qty, filled=0, price=None, at=None, limit=SELL_LIMIT, **kw):  # noqa: ANN001, ANN201
    return replace(
        child,
        schedule_status=kw.pop("schedule_status", "sent"),
        order_status=status,
        qty=D(str(qty)) if qty is not None else None,
        filled_qty=D(str(filled)),
        filled_avg_price=D(str(price)) if price is not None else None,
        submitted_at=at or child.planned_at,
        created_at=at or child.planned_at,
        limit_price=limit,
        **kw,
    )


def market(minutes: float, volume: int = 1000, **kw) -> MarketNow:
    return MarketNow(now=T0 + minutes * MIN, bid=D("99.98"), ask=D("100.02"), observed_volume=D(volume), **kw)


def five_slots() -> list[ChildState]:
    return [slot(k) for k in range(1, 6)]


def test_the_first_child_is_its_slot_at_the_collar():
    [send] = SlicedExecution(parent(), five_slots()).decide(market(0))
    assert isinstance(send, SendChild)
    assert (send.k, send.kind, send.order_type, send.qty, send.limit_price) == (
        1,
        "slice",
        "limit",
        20,
        SELL_LIMIT,
    )
    assert send.interval_volume == 1000 and send.replaces == ()


def test_one_working_child_at_a_time_and_a_stale_limit_is_canceled_to_reprice():
    kids = five_slots()
    kids[0] = sent(kids[0], "new", 20)
    behaviour = SlicedExecution(parent(), kids)
    assert behaviour.decide(market(1)) == []
    assert behaviour.next_child_due(T0 + MIN) == T0 + 2 * MIN  # the re-price
    # at 10:02 the second slot is due, but the first child still works: it is canceled first
    [cancel] = behaviour.decide(market(2))
    assert cancel == CancelChild("p-0-c1", "repricing", "not filled after 2 min")


def test_the_unfilled_rest_of_a_repriced_child_goes_out_with_the_next_child():
    kids = five_slots()
    kids[0] = sent(kids[0], "canceled", 20, filled=5, price="99.97", schedule_status="repricing")
    [send] = SlicedExecution(parent(), kids).decide(market(2))
    # target by 10:02: 40; filled 5 -> 35, and the canceled child is taken over
    assert (send.k, send.qty, send.replaces) == (2, 35, ("p-0-c1",))


def test_a_child_takes_at_most_the_cap_of_the_volume_traded_in_its_interval():
    kids = five_slots()
    kids[0] = sent(kids[0], "filled", 20, filled=20, price="99.97")
    assert SlicedExecution(parent(), kids).decide(market(2, volume=150))[0].qty == 15
    # a child sent inside the interval already used part of that volume: 15 - 12 = 3 shares of room left
    kids[0] = sent(kids[0], "filled", 12, filled=12, price="99.97", at=T0 + 1 * MIN)
    assert SlicedExecution(parent(), kids).decide(market(2, volume=150))[0].qty == 3
    kids[0] = sent(kids[0], "filled", 15, filled=15, price="99.97", at=T0 + 1 * MIN)
    assert SlicedExecution(parent(), kids).decide(market(2, volume=150)) == []  # no room: wait


def test_slots_missed_while_the_bot_was_down_are_merged_into_one_child():
    [send, *skips] = SlicedExecution(parent(), five_slots()).decide(market(5))
    assert (send.k, send.qty) == (1, 60)  # slots of 10:00, 10:02 and 10:04 are due
    assert skips == [SkipChild("p-0-c2", "merged into c1"), SkipChild("p-0-c3", "merged into c1")]


def test_nothing_is_sent_while_an_opposite_order_is_open_on_the_symbol():
    behaviour = SlicedExecution(parent(), five_slots())
    assert behaviour.decide(market(0, opposite_open=True)) == []
    assert behaviour.next_child_due(T0) == T0  # still due: sent as soon as the other order is gone


def test_at_the_deadline_working_children_are_canceled_then_the_parent_expires():
    kids = five_slots()
    kids[0] = sent(kids[0], "filled", 20, filled=20, price="99.97")
    kids[1] = sent(kids[1], "filled", 20, filled=20, price="99.97")
    kids[2] = sent(kids[2], "partially_filled", 20, filled=10)
    behaviour = SlicedExecution(parent(), kids)
    assert behaviour.decide(market(60)) == [
        CancelChild("p-0-c3", "deadline", "deadline reached"),
        SkipChild("p-0-c4", "deadline reached"),
        SkipChild("p-0-c5", "deadline reached"),
    ]
    kids[2] = sent(kids[2], "canceled", 20, filled=10, price="99.97", schedule_status="deadline")
    kids[3] = replace(kids[3], schedule_status="skipped")
    kids[4] = replace(kids[4], schedule_status="skipped")
    [finish] = SlicedExecution(parent(), kids).decide(market(61))
    assert finish.status == "expired" and "50 of 100 sh filled" in finish.reason
    assert "left for the next cycle" in finish.reason


def test_after_max_rejections_the_parent_gives_up():
    kids = five_slots()
    for i in range(3):
        kids[i] = sent(kids[i], "rejected", 20)
    behaviour = SlicedExecution(parent(), kids)
    assert behaviour.on_reject(kids[2])[0].status == "failed"
    actions = behaviour.decide(market(6))
    assert actions[:2] == [
        SkipChild("p-0-c4", "the parent gave up after rejections"),
        SkipChild("p-0-c5", "the parent gave up after rejections"),
    ]
    assert isinstance(actions[2], Finish) and actions[2].status == "failed"


def test_a_rejected_child_counts_for_nothing_and_the_next_slot_takes_its_share():
    kids = five_slots()
    kids[0] = sent(kids[0], "rejected", 20)
    assert SlicedExecution(parent(), kids).on_reject(kids[0]) == []
    [send] = SlicedExecution(parent(), kids).decide(market(2))
    assert (send.k, send.qty) == (2, 40)


def test_limit_buys_never_commit_more_than_the_approved_notional():
    # $1,000 at ~$100: 10 shares over five slots of 2; four slots filled at the limit ($800.32)
    kids = [slot(k, qty=2) for k in range(1, 6)]
    for i in range(4):
        kids[i] = sent(kids[i], "filled", 2, filled=2, price=BUY_LIMIT, limit=BUY_LIMIT)
    buy = parent(side="buy", qty=None, notional="1000")
    [send] = SlicedExecution(buy, kids).decide(market(8))
    # $199.68 left buys one share at the 100.04 limit, not the two the slot planned
    assert (send.k, send.qty, send.limit_price) == (5, 1, BUY_LIMIT)
    kids[4] = sent(kids[4], "filled", 1, filled=1, price=BUY_LIMIT, limit=BUY_LIMIT)
    [rest] = SlicedExecution(buy, kids).decide(market(9))
    # less than a share left: the rest as a notional market order (Alpaca: fractional orders are market/day)
    assert (rest.kind, rest.order_type, rest.notional, rest.qty) == ("remainder", "market", D("99.64"), None)
    assert sum(c.filled_qty * BUY_LIMIT for c in kids) + rest.notional <= 1000
    [limited] = SlicedExecution(buy, kids).decide(market(9, spendable=D("50.009")))
    assert limited.notional == D("50.00")


def test_a_buy_child_takes_only_the_cash_available():
    buy = parent(side="buy")
    [send] = SlicedExecution(buy, five_slots()).decide(market(0, spendable=D("1000.80")))
    assert (send.qty, send.limit_price) == (10, BUY_LIMIT)  # 1000.80 / 100.04 = 10.004
    assert SlicedExecution(buy, five_slots()).decide(market(0, spendable=D(99))) == []


def test_a_fractional_parent_ends_with_a_market_remainder_and_then_finishes():
    kids = [slot(k, qty=2) for k in range(1, 6)]
    for i in range(5):
        kids[i] = sent(kids[i], "filled", 2, filled=2, price="99.97")
    fractional = parent(qty="10.5")
    [rest] = SlicedExecution(fractional, kids).decide(market(9))
    assert (rest.k, rest.kind, rest.order_type, rest.qty, rest.limit_price) == (
        6,
        "remainder",
        "market",
        D("0.5"),
        None,
    )
    kids.append(
        sent(
            ChildState("p-0-c6", 6, "remainder", T0 + 9 * MIN, D("0.5"), "sent"),
            "filled",
            "0.5",
            "0.5",
            "99.9",
        )
    )
    [finish] = SlicedExecution(fractional, kids).decide(market(10))
    assert finish == Finish("filled", "10.5 of 10.5 sh filled")


def test_market_children_when_the_policy_has_no_collar():
    policy = replace(POLICY, collar_half_spreads=None)
    [sell] = SlicedExecution(parent(policy=policy), five_slots()).decide(market(0))
    assert (sell.order_type, sell.qty, sell.limit_price) == ("market", 20, None)
    buy = parent(side="buy", qty=None, notional="1000", policy=policy)
    [send] = SlicedExecution(buy, [slot(k, qty=2) for k in range(1, 6)]).decide(market(0))
    assert (send.order_type, send.qty, send.notional) == ("market", None, D("200.00"))  # 2 shares at the mid


def test_behind_after_the_last_slot_it_catches_up_one_interval_after_the_last_child():
    kids = five_slots()
    for i in range(5):  # the cap let only 12 of each 20 through
        kids[i] = sent(kids[i], "filled", 12, filled=12, price="99.97")
    behaviour = SlicedExecution(parent(), kids)
    assert behaviour.next_child_due(T0 + 9 * MIN) == T0 + 10 * MIN
    assert behaviour.decide(market(9)) == []
    [send] = behaviour.decide(market(10))
    assert (send.k, send.kind, send.qty) == (6, "catchup", 40)


def test_the_schedule_respects_the_child_notional_cap():
    policy = replace(POLICY, max_child_notional=D(1500))  # 15 shares at $100
    schedule = SlicedExecution.plan_children(
        policy, D(100), D(100), T0, T0 + timedelta(hours=1), [10_000] * 60
    )
    # seven children are needed; spread evenly: 100 = 15 + 15 + 5 x 14
    assert [s.qty for s in schedule.slots] == [D(15), D(15)] + [D(14)] * 5
