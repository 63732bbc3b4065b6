"""The starting config ``rebalance-bot init`` writes: hard limits sized to the account, and the YAML itself.

The example config's hard limits ($10k per order, $25k per plan) refuse the first investment of any normal
account (issue 16), so a config written for an account sizes them to it: each limit is large enough for the
account's first plan and for an ordinary rebalance after a large market move, with 10% to spare for prices
moving before the plan is made, and no larger, since a hard limit is there to stop a runaway. Each value is
written with the reason it has it, so the owner can judge it.

The file is built with ruamel.yaml (comments on each setting, sections in the example's order) and loaded
back with :func:`bot.config.load_config` before it is written: ``init`` never leaves a config behind that
``check-config`` would refuse.
"""

from __future__ import annotations

import io
import math
import os
import tempfile
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from bot.config import LIVE_API_URL, PAPER_API_URL, ConfigError, load_config
from bot.init_targets import StartingTargets

BROKERS = {"paper": "alpaca_paper", "live": "alpaca_live", "embedded": "embedded"}
"""``--broker`` answers -> the config's broker kinds (embedded: a running ``rebalance-bot paper-broker``)."""
DEFAULT_URLS = {"paper": PAPER_API_URL, "live": LIVE_API_URL}
TRACKING = {
    "tight": "tracking error 3% of the portfolio's volatility: trades more, follows the targets closely",
    "balanced": "tracking error 6% of the portfolio's volatility: the default",
    "relaxed": "tracking error 12% of the portfolio's volatility: trades least",
}
MARGIN = Decimal("1.10")
"""Room above the first plan: prices move between ``init`` and the plan."""
ORDINARY_PLAN = Decimal("0.25")
"""A rebalance after a large market move trades up to about a quarter of the account (buys plus sells)..."""
ORDINARY_ORDER = Decimal("0.125")
"""...half of it in one order at most (a two-asset account sells one and buys the other)."""


class InitError(ValueError):
    """An answer ``init`` cannot use; the message says what to give instead."""


@dataclass(frozen=True)
class Limit:
    value: int
    why: str


@dataclass(frozen=True)
class Answers:
    """Everything the written config says besides the defaults."""

    account: str
    broker: str
    """paper, live or embedded (see :data:`BROKERS`)."""
    base_url: str | None
    key_id_env: str
    secret_key_env: str
    targets: StartingTargets
    tracking: str
    approval_notional: int
    state_dir: str
    limits: dict[str, Limit]
    source: str
    """Where the targets and the account size came from, for the file's header."""


def size_limits(equity: Decimal, first_plan: Decimal, first_order: Decimal, first: str) -> dict[str, Limit]:
    """``limits.max_*_notional`` for an account of ``equity`` whose first plan trades ``first_plan`` in all
    and ``first_order`` at most in one order (``first`` says what that plan is). Each is rounded up to the
    next $1,000 and at most the next one, as the config requires."""
    order_floor, plan_floor = ORDINARY_ORDER * equity, ORDINARY_PLAN * equity
    order = _thousands(MARGIN * max(first_order, order_floor))
    plan = max(_thousands(MARGIN * max(first_plan, plan_floor)), order)
    daily = 2 * plan
    order_why = (
        f"the largest order of {first} (~{_dollars(first_order)})"
        if first_order >= order_floor
        else f"an ordinary rebalance's largest order (1/8 of the account, ~{_dollars(order_floor)})"
    )
    plan_why = (
        f"{first} (~{_dollars(first_plan)} of buys and sells)"
        if first_plan >= plan_floor
        else f"an ordinary rebalance after a large market move (1/4 of the account, ~{_dollars(plan_floor)})"
    )
    return {
        "max_order_notional": Limit(order, f"{order_why} + 10%, rounded up"),
        "max_plan_notional": Limit(plan, f"{plan_why} + 10%, rounded up"),
        "max_daily_notional": Limit(
            daily, "two such plans a day (a plan and its re-plan after a partial fill)"
        ),
    }


def _dollars(amount: Decimal) -> str:
    return f"${amount:,.0f}"


def _thousands(amount: Decimal) -> int:
    return max(1000, math.ceil(amount / 1000) * 1000)


def default_approval(equity: Decimal) -> int:
    """A plan above 5% of the account waits for a person (at least $1,000)."""
    return _thousands(equity * Decimal("0.05"))


def render(answers: Answers, today: date) -> str:
    """The config as commented YAML (ruamel.yaml), in the example config's section order."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    account = CommentedMap(name=answers.account, broker=BROKERS[answers.broker])
    if answers.base_url is not None:
        account["base_url"] = answers.base_url
    account["key_id_env"] = answers.key_id_env
    account["secret_key_env"] = answers.secret_key_env
    notes = {
        "broker": _broker_note(answers.broker),
        "key_id_env": "the NAME of the variable holding the key id, never the key",
        "secret_key_env": "...and of the one holding the secret key",
    }
    _comment(account, notes, indent=4)
    accounts = CommentedSeq([account])

    targets = CommentedMap((s, _plain(w)) for s, w in sorted(answers.targets.weights.items()))
    targets["cash"] = _plain(answers.targets.cash)
    _comment(targets, {s: _percent(w) for s, w in _all_weights(answers.targets).items()})

    policy = CommentedMap(kind="objective", tracking=answers.tracking)
    _comment(
        policy,
        {"kind": "one objective: tracking risk against trading cost", "tracking": TRACKING[answers.tracking]},
    )

    approval = CommentedMap(mode="policy", max_plan_notional=answers.approval_notional)
    approval["max_plan_fraction"] = 0.10
    approval["first_plan"] = True
    notes = {
        "mode": "a plan waits when any rule below applies",
        "max_plan_notional": "USD: a plan bigger than this waits for your approval",
        "max_plan_fraction": "...and so does one bigger than this share of the account",
        "first_plan": "the account's first plan waits for you in any case",
    }
    _comment(approval, notes)

    limits = CommentedMap((name, limit.value) for name, limit in answers.limits.items())
    _comment(limits, {name: limit.why for name, limit in answers.limits.items()})

    doc = CommentedMap()
    doc["accounts"] = accounts
    doc["targets"] = targets
    doc["policy"] = policy
    doc["approval"] = approval
    doc["limits"] = limits
    doc["state_dir"] = answers.state_dir
    doc.yaml_add_eol_comment("the bot's state and log; relative to where it runs", "state_dir", column=30)
    for key, text in _section_notes(answers, today).items():
        doc.yaml_set_comment_before_after_key(key, before=text)

    yaml = YAML()
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue()


def _comment(section: object, notes: dict[str, str], indent: int = 2) -> None:
    """End-of-line comments on ``section``'s keys, lined up one column after its longest line."""
    width = max(len(f"{k}: {v}") for k, v in section.items())  # type: ignore[attr-defined]
    for key, text in notes.items():
        section.yaml_add_eol_comment(text, key, column=indent + width + 2)  # type: ignore[attr-defined]


def _all_weights(targets: StartingTargets) -> dict[str, Decimal]:
    return {**dict(sorted(targets.weights.items())), "cash": targets.cash}


def _percent(weight: Decimal) -> str:
    return f"{weight * 100:.1f}".removesuffix(".0") + "%"


def _plain(weight: Decimal) -> float:
    """A weight as YAML writes it (0.35): the config reads it back as an exact Decimal."""
    return float(weight.normalize())


def _broker_note(broker: str) -> str:
    return {
        "paper": "Alpaca paper trading",
        "live": "Alpaca LIVE trading: real money",
        "embedded": "a running `rebalance-bot paper-broker` (offline, simulated)",
    }[broker]


def _section_notes(answers: Answers, today: date) -> dict[str, str]:
    dropped = answers.targets.dropped
    return {
        "accounts": (
            f"rebalance-bot config written by `rebalance-bot init` on {today.isoformat()}\n"
            f"({answers.source}).\n"
            "Check it with `rebalance-bot check-config -c FILE`, then `rebalance-bot plan -c FILE`\n"
            "(a dry run). Every other setting has its default; config/example.yaml in the project explains\n"
            "each one (bands, schedule, execution, taxes, notifications, the web dashboard).\n"
            "Secrets never go in this file: the account names the environment VARIABLES holding its keys,\n"
            "read from the environment or from a .env file where the bot runs."
        ),
        "targets": (
            "\nsymbol: weight, as fractions of the whole account (0.35 = 35%); `cash` is the cash target.\n"
            "All of them sum to exactly 1. A holding not listed has a target of 0: the bot sells it."
            + (f"\nNot listed (under half a step today, so sold): {', '.join(dropped)}." if dropped else "")
        ),
        "policy": (
            "\nHow closely to track the targets: tight, balanced or relaxed (see config/example.yaml)."
        ),
        "approval": "\nWhen a plan waits for a person (rebalance-bot approve / reject, or the dashboard).",
        "limits": (
            "\nHard limits (USD): a plan that breaks one is refused outright, approved or not; each at most\n"
            "the next. Sized to this account: large enough for its first plan and for an ordinary\n"
            "rebalance, small enough to stop a runaway. Raise them if you add money."
        ),
    }


def validate(text: str, near: Path) -> None:
    """Load ``text`` as the bot would; :class:`InitError` naming every problem when it would refuse it."""
    folder = near.parent if near.parent.is_dir() else Path.cwd()
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", dir=folder, delete=False) as handle:
        handle.write(text)
        scratch = Path(handle.name)
    try:
        load_config(scratch)
    except ConfigError as exc:
        raise InitError("the config would not be valid: " + "; ".join(exc.problems)) from exc
    finally:
        scratch.unlink(missing_ok=True)


def write(path: Path, text: str, force: bool) -> None:
    """Write the file, never over an existing one without ``force`` (then atomically: old or new, never
    half of each)."""
    if path.exists() and not force:
        raise InitError(f"{path} already exists; nothing written (give --force to replace it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(path.name + ".tmp")
    scratch.write_text(text, encoding="utf-8")
    os.replace(scratch, path)
