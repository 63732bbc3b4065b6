"""What a finished plan traded, in one line for its final status (``status``, ``history``, the dashboard).

A plan is ``done`` once every order is final, but final is not filled: a sliced order can reach its deadline,
a single one its timeout, a child be rejected. The plan's status reason then says so, with the money, e.g.
``expired after 2 of 5 (partly filled: $206,800 of $372,000)``, instead of a count of fully filled orders
that reads as if nothing had traded. What is left is planned afresh by a later cycle; nothing of the
finished plan is ever sent again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

from bot.state.store import ExecParentRecord, ExecutionReportRecord


def final_reason(
    specs: Sequence[dict], parents: Iterable[ExecParentRecord], reports: Iterable[ExecutionReportRecord]
) -> str:
    """``N of N filled``, or how the plan ended short: expired, failed or canceled after K of N, and the
    dollars traded against the dollars planned."""
    statuses = [p.status for p in parents]
    total = len(specs)
    filled = statuses.count("filled")
    if filled == total:
        return f"{total} of {total} filled"
    planned = sum((Decimal(str(s["est_notional"])) for s in specs), Decimal(0))
    traded = sum((r.filled_notional for r in reports), Decimal(0))
    if "expired" in statuses:
        ended = "expired"
    elif "failed" in statuses or "rejected" in statuses:
        ended = "failed"
    else:
        ended = "canceled"
    if traded > 0:
        money = f"partly filled: {_usd(traded)} of {_usd(planned)}"
    else:
        money = f"nothing traded of {_usd(planned)}"
    return f"{ended} after {filled} of {total} ({money})"


def _usd(amount: Decimal) -> str:
    return f"${amount:,.0f}"
