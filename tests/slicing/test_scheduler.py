"""The slice schedule and child sizing: pure arithmetic, checked against hand-computed numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from bot.slicing.scheduler import child_qty, plan_slots, water_fill

START = datetime(2019, 12, 17, 15, 0, tzinfo=UTC)  # 10:00 New York
FIVE = timedelta(minutes=5)


def slots_of(schedule):  # noqa: ANN001, ANN201
    return [(s.at - START, s.qty) for s in schedule.slots]


def test_twap_spreads_the_parent_evenly_over_the_window():
    # 1,000 shares a minute, 10% cap: a 5-minute slot could take 500; 1,200 shares over 12 slots = 100 each.
    schedule = plan_slots(
        D(1200), START, START + timedelta(hours=5), interval=FIVE, children=12,
        participation_cap=D("0.1"), minute_volumes=[1000] * 300,
    )  # fmt: skip
    assert slots_of(schedule) == [(i * FIVE, D(100)) for i in range(12)]
    assert schedule.remainder == 0 and schedule.unscheduled == 0 and schedule.planned == 1200
    assert all(s.capacity == 500 for s in schedule.slots)


def test_the_participation_cap_stretches_the_window():
    # 9,000 shares at 500 a slot need 18 slots, not the 12 of the nominal window: each slot at the cap.
    schedule = plan_slots(
        D(9000), START, START + timedelta(hours=5), interval=FIVE, children=12,
        participation_cap=D("0.1"), minute_volumes=[1000] * 300,
    )  # fmt: skip
    assert slots_of(schedule) == [(i * FIVE, D(500)) for i in range(18)]
    assert schedule.unscheduled == 0


def test_what_the_cap_cannot_fit_before_the_deadline_is_left_for_the_next_cycle():
    # An hour to the deadline: 12 slots x 500 = 6,000 of 9,000.5 shares; the rest (and the fraction) is left.
    schedule = plan_slots(
        D("9000.5"), START, START + timedelta(hours=1), interval=FIVE, children=12,
        participation_cap=D("0.1"), minute_volumes=[1000] * 300,
    )  # fmt: skip
    assert [q for _, q in slots_of(schedule)] == [D(500)] * 12
    assert schedule.unscheduled == D("3000.5") and schedule.remainder == 0


def test_a_fractional_parent_leaves_its_fraction_as_the_remainder():
    schedule = plan_slots(
        D("100.5"), START, START + timedelta(hours=1), interval=FIVE, children=4,
        participation_cap=D("0.1"), minute_volumes=[1000] * 60,
    )  # fmt: skip
    assert [q for _, q in slots_of(schedule)] == [D(25)] * 4
    assert schedule.remainder == D("0.5") and schedule.planned == D("100.5")


def test_the_child_notional_cap_adds_children():
    # at most 30 shares a child: 100 shares need 4 children of 25, not the 2 of the window
    schedule = plan_slots(
        D(100), START, START + timedelta(hours=1), interval=FIVE, children=2,
        participation_cap=D("0.1"), minute_volumes=[1000] * 60, max_child_qty=D(30),
    )  # fmt: skip
    assert [q for _, q in slots_of(schedule)] == [D(25)] * 4


def test_quiet_minutes_get_smaller_children_and_no_volume_no_child():
    # slot volumes 1,000 / 4,000 / 0 / 4,000 (cap 100 / 400 / 0 / 400): 700 shares -> 100, 300, -, 300
    volumes = [200] * 5 + [800] * 5 + [0] * 5 + [800] * 5
    schedule = plan_slots(
        D(700), START, START + timedelta(minutes=20), interval=FIVE, children=4,
        participation_cap=D("0.1"), minute_volumes=volumes,
    )  # fmt: skip
    assert slots_of(schedule) == [(0 * FIVE, D(100)), (1 * FIVE, D(300)), (3 * FIVE, D(300))]


def test_water_fill_by_hand():
    assert water_fill(D(1000), [D(100), D(400), D(400), D(400)]) == [D(100), D(300), D(300), D(300)]
    # the odd share goes to the first slot with room (the first is full)
    assert water_fill(D(1001), [D(100), D(400), D(400), D(400)]) == [D(100), D(301), D(300), D(300)]
    assert water_fill(D(10), [D(3), D(3)]) == [D(3), D(3)]  # not enough room: every slot full
    assert water_fill(D(7), []) == []


def test_a_deadline_already_past_schedules_nothing():
    schedule = plan_slots(
        D(100), START, START - timedelta(minutes=1), interval=FIVE, children=4,
        participation_cap=D("0.1"), minute_volumes=[],
    )  # fmt: skip
    assert schedule.slots == () and schedule.unscheduled == 100


def test_intervals_are_whole_minutes():
    with pytest.raises(ValueError):
        plan_slots(
            D(1), START, START + FIVE, interval=timedelta(seconds=90), children=1,
            participation_cap=D("0.1"), minute_volumes=[1],
        )  # fmt: skip


def test_a_child_is_the_smallest_of_schedule_approval_volume_and_notional_cap():
    base = dict(target=D(300), committed=D(120), approved_left=D(500), participation_cap=D("0.1"))
    # room: 10% of 1,000 traded in the last interval, less the 40 this parent already sent in it
    assert child_qty(**base, observed_volume=D(1000), recent_qty=D(40)) == 60
    assert child_qty(**base, observed_volume=D(1000), recent_qty=D(40), max_child_qty=D(50)) == 50
    assert child_qty(**base, observed_volume=D(10_000), recent_qty=D(0)) == 180  # behind the schedule by 180
    assert child_qty(**{**base, "approved_left": D("75.9")}, observed_volume=D(10_000), recent_qty=D(0)) == 75
    assert child_qty(**base, observed_volume=D(100), recent_qty=D(40)) == 0  # the cap is used up
