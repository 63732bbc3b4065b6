"""Order slicing: how one planned order (a *parent*) is executed, at once or as timed child orders.

The pieces, in the style of hummingbot's executors and nautilus_trader's exec algorithms:

* ``policies``: a frozen config model per policy (:class:`SingleOrderPolicy`, :class:`TwapPolicy`) and the
  per-order choice between them from the order's size against the symbol's volume (:func:`choose_policy`);
* ``scheduler``: pure arithmetic - child times and sizes from the parent's size, the window, the number of
  children, the participation cap on expected minute volumes and the maximum child notional;
* ``collars``: pure limit-price arithmetic (mid +/- k half-spreads, rounded the way Alpaca accepts);
* ``behaviour``: :class:`SlicedExecution`, one behaviour class with a uniform lifecycle -
  ``plan_children`` -> ``next_child_due(t)`` -> ``on_fill`` / ``on_cancel`` / ``on_reject`` - that turns the
  stored state of a parent and its children into actions (send, cancel, finish); it performs no I/O;
* ``report``: execution reports (arrival mid, average fill, implementation shortfall, participation) and
  :func:`execution_costs`, the realised costs per symbol for the backtester's cost model.

``bot/execution.py`` is the I/O side: it persists the schedule, sends and follows the children with the same
write-ahead intents and lookup-before-resend as every other order, and writes the reports.
"""

from bot.slicing.behaviour import (
    Action,
    CancelChild,
    ChildState,
    Finish,
    MarketNow,
    ParentState,
    SendChild,
    SkipChild,
    SlicedExecution,
)
from bot.slicing.collars import collar_price
from bot.slicing.policies import SingleOrderPolicy, SlicingSettings, TwapPolicy, choose_policy
from bot.slicing.report import ShortfallStats, execution_costs, shortfall_bp
from bot.slicing.scheduler import Schedule, Slot, plan_slots

__all__ = [
    "Action",
    "CancelChild",
    "ChildState",
    "Finish",
    "MarketNow",
    "ParentState",
    "Schedule",
    "SendChild",
    "ShortfallStats",
    "SingleOrderPolicy",
    "SkipChild",
    "SlicedExecution",
    "SlicingSettings",
    "Slot",
    "TwapPolicy",
    "choose_policy",
    "collar_price",
    "execution_costs",
    "plan_slots",
    "shortfall_bp",
]
