"""The slice schedule, as pure arithmetic: no clock, no broker, no I/O.

:func:`plan_slots` turns a parent order into timed child slots:

* one slot every ``interval`` from ``start``, ``children`` of them (the TWAP window), and more - up to the
  deadline - when the participation cap leaves the window too little room;
* a slot's capacity is ``participation_cap`` x the volume expected in its interval (from recent minute bars)
  and at most ``max_child_qty``;
* the parent's whole shares are spread as evenly as the capacities allow ("water filling": every slot gets
  the same size unless its capacity is lower, and what a small slot cannot take goes to the others);
* limit children are whole shares, so a fractional part of the parent is left as ``remainder`` (sent last as
  a market order, Alpaca's rule for fractional quantities); what no slot can take before the deadline is
  ``unscheduled`` and left for the next cycle.

:func:`child_qty` sizes a child when it is due, from what actually happened: the schedule's cumulative target
so far, what is already filled or working, what is left of the approved amount, and the cap applied to the
volume really traded in the last interval (so a child never takes more than the cap of the volume it was
sized on).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal

ZERO = Decimal(0)
ONE = Decimal(1)
MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class Slot:
    index: int
    at: datetime
    qty: Decimal
    """Planned whole shares."""
    capacity: Decimal
    """Participation cap x expected volume of the slot's interval (and the child cap), whole shares."""


@dataclass(frozen=True)
class Schedule:
    slots: tuple[Slot, ...]
    interval: timedelta
    remainder: Decimal
    """Fractional part of the parent, sent last as a market order."""
    unscheduled: Decimal
    """What the cap cannot fit before the deadline: left for the next cycle."""

    @property
    def planned(self) -> Decimal:
        return sum((s.qty for s in self.slots), ZERO) + self.remainder

    def target_by(self, when: datetime) -> Decimal:
        """Cumulative planned shares of the slots due at ``when``."""
        return sum((s.qty for s in self.slots if s.at <= when), ZERO)


def whole(qty: Decimal) -> Decimal:
    return qty.to_integral_value(rounding=ROUND_DOWN)


def plan_slots(
    qty: Decimal,
    start: datetime,
    deadline: datetime,
    *,
    interval: timedelta,
    children: int,
    participation_cap: Decimal,
    minute_volumes: Sequence[Decimal | float | int],
    max_child_qty: Decimal | None = None,
) -> Schedule:
    """The schedule of a parent of ``qty`` shares starting at ``start`` (see the module docstring).

    ``minute_volumes[i]`` is the volume expected in the minute starting at ``start + i`` minutes; minutes past
    its end count as no volume. ``interval`` is a whole number of minutes.
    """
    if qty < 0:
        raise ValueError("qty must be >= 0")
    if interval < MINUTE or interval % MINUTE:
        raise ValueError("interval must be a whole number of minutes, at least one")
    if children < 1:
        raise ValueError("children must be >= 1")
    step = interval // MINUTE
    minutes = max(0, int((deadline - start) // MINUTE))
    n_max = -(-minutes // step)  # slots that start before the deadline
    total = whole(qty)
    fraction = qty - total
    capacities = [
        _capacity(minute_volumes, i * step, min((i + 1) * step, minutes), participation_cap, max_child_qty)
        for i in range(n_max)
    ]
    n = min(children, n_max)
    while n < n_max and sum(capacities[:n], ZERO) < total:
        n += 1
    sizes = water_fill(total, capacities[:n])
    placed = sum(sizes, ZERO)
    unscheduled = total - placed
    if unscheduled > 0:  # the fraction would come after a parent that is not finished: next cycle too
        unscheduled, fraction = unscheduled + fraction, ZERO
    slots = tuple(
        Slot(i, start + i * interval, size, capacities[i]) for i, size in enumerate(sizes) if size > 0
    )
    return Schedule(slots, interval, fraction, unscheduled)


def _capacity(
    volumes: Sequence[Decimal | float | int], lo: int, hi: int, cap: Decimal, max_child: Decimal | None
) -> Decimal:
    volume = sum((Decimal(str(v)) for v in volumes[lo:hi]), ZERO)
    capacity = volume * cap
    if max_child is not None:
        capacity = min(capacity, max_child)
    return whole(max(capacity, ZERO))


def water_fill(total: Decimal, capacities: Sequence[Decimal]) -> list[Decimal]:
    """Whole-share sizes, each at most its capacity, summing to ``total`` (or to all the capacity there is),
    as equal as the capacities allow; the odd shares go to the earliest slots with room."""
    if not capacities:
        return []
    if sum(capacities, ZERO) <= total:
        return list(capacities)
    level = _level(total, capacities)
    sizes = [min(c, whole(level)) for c in capacities]
    left = total - sum(sizes, ZERO)
    for i, c in enumerate(capacities):
        if left <= 0:
            break
        if sizes[i] < c:
            sizes[i] += 1
            left -= 1
    return sizes


def _level(total: Decimal, capacities: Sequence[Decimal]) -> Decimal:
    """L such that sum(min(c, L)) == total (given sum(c) > total)."""
    remaining = total
    ordered = sorted(capacities)
    for j, c in enumerate(ordered):
        share = remaining / (len(ordered) - j)
        if c >= share:
            return share
        remaining -= c
    return remaining  # not reached when sum(capacities) > total


def expected_minute_volumes(
    profile: Mapping[int, float], first_minute_of_session: int, count: int, fallback: float
) -> list[float]:
    """Expected volume of ``count`` consecutive session minutes from ``first_minute_of_session`` (0 = the
    09:30 minute): the recent sessions' average at the same minute, ``fallback`` where there is none."""
    return [float(profile.get(first_minute_of_session + i, fallback)) for i in range(count)]


def child_qty(
    *,
    target: Decimal,
    committed: Decimal,
    approved_left: Decimal,
    participation_cap: Decimal,
    observed_volume: Decimal,
    recent_qty: Decimal,
    max_child_qty: Decimal | None = None,
) -> Decimal:
    """Whole shares for the child due now.

    ``target``: the schedule's cumulative shares due by now; ``committed``: shares filled by finished children
    plus the full size of working ones; ``approved_left``: shares the approved amount still allows;
    ``observed_volume``: the market volume of the last interval; ``recent_qty``: this parent's shares sent in
    that interval (they count against the same volume).
    """
    room = participation_cap * observed_volume - recent_qty
    size = min(target - committed, approved_left, room)
    if max_child_qty is not None:
        size = min(size, max_child_qty)
    return max(whole(size), ZERO)
