"""Which target symbols the broker cannot trade, and the bot's refusal to plan around them.

A target the broker does not know (a typo, a share class it spells another way, a crypto pair) has no
quote, so the planner would leave its weight in cash without a word. The bot refuses instead: the
cycle plans nothing, the log and an alert name the symbols, and ``status`` shows them until they are fixed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import structlog

from bot.broker.models import AssetInfo
from bot.state.store import StateStore

log = structlog.get_logger(__name__)

FLAG = "untradable:{owner}"
"""The state flag that ``status`` shows while an owner's targets include untradable symbols."""


def untradable(symbols: Iterable[str], assets: Mapping[str, AssetInfo]) -> dict[str, str]:
    """Symbol -> why the broker cannot trade it, for those of ``symbols`` it cannot."""
    out: dict[str, str] = {}
    for symbol in symbols:
        info = assets.get(symbol.upper())
        if info is None or info.status == "not_found":
            out[symbol] = "is unknown to the broker"
        elif not info.tradable:
            out[symbol] = f"is not tradable at the broker (status {info.status or 'unknown'})"
    return out


def refuse_untradable(
    store: StateStore,
    owner: str,
    problems: Mapping[str, str],
    alert: Callable[[str, Sequence[str], str], None],
) -> str:
    """Record (flag, audit, log) and alert once that ``owner``'s targets cannot be traded; returns the
    one-line reason. The alert is sent again only when the set of symbols changes."""
    reason = "targets the broker cannot trade: " + "; ".join(f"{s} {why}" for s, why in problems.items())
    reason += " - fix the targets (nothing is traded until then)"
    flag = FLAG.format(owner=owner)
    if store.get_flag(flag) != reason:
        store.set_flag(flag, reason)
        store.audit("targets_untradable", account=owner, symbols=sorted(problems))
        alert(f"{owner}: targets the broker cannot trade", [reason], "targets")
    log.error("cycle refused: untradable targets", symbols=sorted(problems))
    return reason


def clear_untradable(store: StateStore, owner: str) -> None:
    """The targets are tradable (again): ``status`` stops showing the refusal."""
    flag = FLAG.format(owner=owner)
    if store.get_flag(flag) is not None:
        store.set_flag(flag, None)
