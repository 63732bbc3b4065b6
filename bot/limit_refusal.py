"""A plan refused by a hard limit, told to people once, with the setting to change.

The example config's limits ($10k per order, $25k per plan) are smaller than a first investment in a normal
account, so a new user's first plan is refused. Said only in a log line each cycle, that looks like a bot
that never trades. Instead the refusal sets a state flag that ``status`` shows, and alerts once; the alert is
sent again only when the set of limits broken changes (the amounts move with prices every cycle, the cause
does not). The line names each limit and the least value that lets the plan through, consistent with the
rule that each limit may not exceed the next one. A plan that passes the limits (or nothing to trade) clears
the flag.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal

import structlog

from bot.config import BotConfig, LimitsConfig
from bot.guards import GuardVerdict
from bot.state.store import StateStore
from strategies.plan import RebalancePlan

log = structlog.get_logger(__name__)

FLAG = "limits:{owner}"
"""The state flag ``status`` shows while an owner's latest plan is refused by a hard limit."""
ORDER = ("limits.max_order_notional", "limits.max_plan_notional", "limits.max_daily_notional")
_SETTING = re.compile(r"limits\.max_\w+_notional")


def suggested_limits(limits: LimitsConfig, verdict: GuardVerdict) -> dict[str, int]:
    """The settings to raise, each to the least round value (next $1,000) that lets the plan through; a
    later limit is raised too where the rule "each at most the next" needs it."""
    current = [limits.max_order_notional, limits.max_plan_notional, limits.max_daily_notional]
    needed = dict(verdict.needed)
    out: dict[str, int] = {}
    floor = Decimal(0)
    for name, value in zip(ORDER, current, strict=True):
        want = max(needed.get(name, Decimal(0)), floor)
        if want > value:
            out[name] = math.ceil(want / 1000) * 1000
        floor = Decimal(out[name]) if name in out else value
    return out


def fix_line(limits: LimitsConfig, verdict: GuardVerdict) -> str:
    """What to change in the config, e.g. ``set limits.max_plan_notional: 104000 in the config``."""
    raise_to = suggested_limits(limits, verdict)
    settings = ", ".join(f"{name}: {value}" for name, value in raise_to.items())
    return (
        f"to let it through, set {settings} in the config (the approval policy still applies), "
        "or trade the difference yourself"
    )


def refusal_line(limits: LimitsConfig, verdict: GuardVerdict) -> str:
    """One line: which limits, by how much, and the setting to change."""
    return "plan refused by a hard limit: " + "; ".join(verdict.reasons) + " - " + fix_line(limits, verdict)


def refuse_on_limits(
    store: StateStore,
    owner: str,
    limits: LimitsConfig,
    verdict: GuardVerdict,
    alert: Callable[[str, Sequence[str], str], None],
) -> str:
    """Flag the refusal for ``status`` and alert once per set of limits broken; returns the line."""
    line = refusal_line(limits, verdict)
    flag = FLAG.format(owner=owner)
    before = store.get_flag(flag)
    store.set_flag(flag, line)
    broken = sorted(name for name, _ in verdict.needed)
    if before is None or sorted(set(_SETTING.findall(before.split(" - to let")[0]))) != broken:
        store.audit("limits_alerted", account=owner, limits=broken)
        fix = fix_line(limits, verdict)
        alert(
            f"{owner}: plan refused by a hard limit",
            [
                *verdict.reasons,
                fix[0].upper() + fix[1:] + ".",
                "Nothing is traded until then. The bot keeps checking, and tells you again only if another "
                "limit is hit.",
            ],
            "limits",
        )
    return line


def clear_limits(store: StateStore, owner: str) -> None:
    """The latest plan passed the hard limits (or nothing needs trading): ``status`` stops showing it."""
    flag = FLAG.format(owner=owner)
    if store.get_flag(flag) is not None:
        store.set_flag(flag, None)
        log.info("hard limits no longer refuse the plan", owner=owner)


def preview_lines(config: BotConfig, owner: str, plan: RebalancePlan, day: date) -> list[str]:
    """For ``rebalance-bot plan``: what the hard limits would do with the plan now (nothing when it passes).
    What was already traded today comes from the bot's state, when it has one."""
    from bot.guards import check_limits
    from bot.state.location import state_exists, state_target

    traded = Decimal(0)
    if state_exists(config):
        with StateStore(state_target(config)) as store:
            traded = store.submitted_notional_on(owner, day)
    verdict = check_limits(plan, config.limits, traded)
    if verdict.allowed:
        return []
    return [
        "REFUSED if run now, by a hard limit: " + "; ".join(verdict.reasons),
        "  " + fix_line(config.limits, verdict),
    ]
