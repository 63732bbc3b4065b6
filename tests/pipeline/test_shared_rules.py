"""The plan pipeline's rules hold alike for the account bot and the household bot (issue 19).

Each rule once lived in two near-copies (``bot/cycle.py`` and ``bot/household/cycle.py``); now both bots put
their plans through one pipeline (:mod:`bot.pipeline`). Each test runs one rule through both bots, each on
a real paper broker over HTTP with a real SQLite state, and checks what a person would see: the outcome,
the plan row, the audit trail, the alert and the prompt.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.broker.alpaca import AlpacaBroker
from bot.config import BotConfig
from bot.cycle import AccountBot, CycleOutcome
from bot.household import HouseholdBot
from bot.paper_broker.faults import FaultConfig
from bot.paper_broker.server import ClockConfig, PaperBroker, ServerConfig
from bot.state.store import StateStore
from bot.turn import PlanningTurn
from tests.bot.harness import KEY, SECRET, BrokerTime, bot_config, drifted_60_40
from tests.household_bot.common import HOUSEHOLD, NAMES, drifted_household, household_config

pytestmark = pytest.mark.slow  # Slow tier: each rule runs a whole bot twice against a paper broker

KINDS = ("account", "household")


@dataclass
class Owner:
    """One bot (an account's or a household's) on its own paper broker, with what it told people."""

    kind: str
    name: str
    broker: PaperBroker
    store: StateStore
    bot: PlanningTurn
    run_id: str
    prompts: list[str]
    alerts: list[tuple[str, list[str], str]]
    adapter: AlpacaBroker
    outcomes: list[CycleOutcome] = field(default_factory=list)

    def tick(self) -> CycleOutcome:
        outcome = self.bot.tick(self.adapter.clock(), self.run_id)
        self.outcomes.append(outcome)
        self.broker.advance(minutes=5)
        return outcome

    def cycle(self) -> CycleOutcome:
        """Tick every five simulated minutes until the bot does something other than wait for its turn."""
        for _ in range(100):
            outcome = self.tick()
            if outcome.action != "idle":
                return outcome
        raise AssertionError(f"no cycle ran: {self.outcomes[-3:]}")

    def plans(self) -> list:
        return self.store.plans(account=self.name, limit=50)

    def audit(self, event: str) -> list:
        return self.store.audit_trail(limit=100, event=event, account=self.name)


def _paper(tmp_path: Path, accounts: Any) -> PaperBroker:
    return PaperBroker(
        ServerConfig(
            accounts=accounts,
            clock=ClockConfig(start=date(2019, 12, 17)),
            database=tmp_path / "broker.sqlite",
            faults=FaultConfig(rate_limit_per_minute=None),
        )
    ).start()


def _account_config(url: str, state: Path, approval: dict, limits: dict | None) -> BotConfig:
    overrides: dict[str, Any] = {"approval": approval}
    if limits is not None:
        overrides["limits"] = limits
    return bot_config(url, state, **overrides)


def _household_config(url: str, state: Path, approval: dict, limits: dict | None) -> BotConfig:
    raw = household_config(url, state)
    raw["approval"] = {**raw["approval"], **approval}
    if limits is not None:
        raw["limits"] = limits
    return BotConfig.model_validate(raw)


@pytest.fixture(params=KINDS)
def make_owner(request, tmp_path: Path) -> Iterator[Callable[..., Owner]]:
    """``make_owner(approval={...}, limits={...}, on_held=...)``: the parametrised kind of bot."""
    made: list[Owner] = []

    def make(
        approval: dict | None = None,
        limits: dict | None = None,
        on_held: Callable[[str], None] | None = None,
    ) -> Owner:
        kind = request.param
        prompts: list[str] = []
        alerts: list[tuple[str, list[str], str]] = []
        store = StateStore(tmp_path / "state" / "bot.sqlite")
        held = on_held or prompts.append

        def alert(title: str, lines: Sequence[str], topic: str) -> None:
            alerts.append((title, list(lines), topic))

        if kind == "account":
            broker = _paper(tmp_path, drifted_60_40())
            config = _account_config(broker.url, tmp_path / "state", approval or {}, limits)
            adapter = AlpacaBroker(KEY, SECRET, trading_url=broker.url)
            bot: PlanningTurn = AccountBot(
                config, config.accounts[0], adapter, store, BrokerTime(broker), on_held=held, on_alert=alert
            )
            name = "main"
        else:
            broker = _paper(tmp_path, drifted_household())
            config = _household_config(broker.url, tmp_path / "state", approval or {}, limits)
            adapters = {n: AlpacaBroker(f"{n}-key", f"{n}-secret", trading_url=broker.url) for n in NAMES}
            adapter = adapters[NAMES[0]]
            bot = HouseholdBot(config, adapters, store, BrokerTime(broker), on_held=held, on_alert=alert)
            name = HOUSEHOLD
        owner = Owner(kind, name, broker, store, bot, store.start_run("test", "x"), prompts, alerts, adapter)
        made.append(owner)
        return owner

    yield make
    for owner in made:
        owner.broker.stop()
        owner.store.close()


ALWAYS = {"mode": "always"}
SMALL_LIMITS = {"max_order_notional": 500, "max_plan_notional": 1000, "max_daily_notional": 2000}


def test_a_plan_over_a_hard_limit_is_refused_with_the_same_reason_and_one_alert(make_owner) -> None:
    owner = make_owner(limits=SMALL_LIMITS)
    outcome = owner.cycle()
    assert outcome.action == "refused", owner.outcomes
    plan = owner.store.get_plan(outcome.plan_id)
    assert plan is not None and plan.status == "refused"
    # the same words in both: which limit, by how much, and what to set it to
    assert re.match(
        r"plan refused by a hard limit: .*plan ~\$[\d,.]+ exceeds limits\.max_plan_notional \$1,000\.00.*"
        r" - to let it through, set .*limits\.max_plan_notional: \d+.* in the config",
        plan.status_reason,
    ), plan.status_reason
    assert outcome.detail == plan.status_reason
    assert owner.store.get_flag(f"limits:{owner.name}") == plan.status_reason  # what ``status`` shows
    [refused] = owner.audit("plan_refused")
    assert refused.plan_id == plan.plan_id
    assert [a[0] for a in owner.alerts] == [f"{owner.name}: plan refused by a hard limit"]

    again = owner.cycle()  # the same cause next cycle: refused again, told once
    assert again.action == "refused" and again.plan_id != outcome.plan_id
    assert len(owner.alerts) == 1 and owner.prompts == []


def test_a_rejected_plan_is_not_asked_again_until_the_drift_moves(make_owner) -> None:
    owner = make_owner(approval=ALWAYS)
    held = owner.cycle()
    assert held.action == "held for approval" and held.detail == "approval.mode is always"
    assert owner.prompts == [held.plan_id]
    plan = owner.store.get_plan(held.plan_id)
    owner.store.decide_approval(
        held.plan_id, "rejected", "tester", "cli", "not now", content_hash=plan.content_hash
    )

    again = owner.cycle()
    assert again.action == "rejected; not asking again until the drift changes"
    assert again.plan_id == held.plan_id
    assert [p.plan_id for p in owner.plans()] == [held.plan_id]  # nothing new stored, nobody asked
    assert owner.prompts == [held.plan_id]


def test_a_held_plan_stands_and_is_asked_once_with_a_version_bound_id(make_owner) -> None:
    owner = make_owner(approval=ALWAYS)
    held = owner.cycle()
    assert held.action == "held for approval"
    for _ in range(2):
        assert owner.cycle() == CycleOutcome("held, waiting for approval", held.plan_id)
    plan = owner.store.get_plan(held.plan_id)
    prefix = {"account": "rb", "household": "hh"}[owner.kind]
    minute = plan.created_at.strftime("%Y%m%d%H%M")
    assert plan.plan_id == f"{prefix}-{owner.name}-{minute}-{plan.content_hash[:8]}"
    [requested] = owner.audit("approval_requested")
    assert requested.fields["content_hash"] == plan.content_hash
    assert requested.fields["reasons"] == ["approval.mode is always"]
    assert plan.details["approval_reasons"] == ["approval.mode is always"]
    assert owner.store.get_approval(plan.plan_id).status == "pending"
    assert owner.prompts == [held.plan_id]


def test_the_first_plan_waits_for_a_person(make_owner) -> None:
    owner = make_owner(approval={"first_plan": True, "max_plan_notional": 10**6, "max_plan_fraction": 1.0})
    held = owner.cycle()
    assert held == CycleOutcome(
        "held for approval", held.plan_id, "it is the account's first plan (approval.first_plan)"
    )


def test_a_held_plan_expires_at_the_close_without_a_decision(make_owner) -> None:
    owner = make_owner(approval=ALWAYS)
    held = owner.cycle()
    close = owner.adapter.clock().next_close
    owner.broker.advance_to(close + timedelta(minutes=1))
    assert owner.tick().action == "idle"
    assert owner.store.get_plan(held.plan_id).status == "expired"
    [expired] = owner.audit("approval_expired")
    assert (expired.plan_id, expired.fields["state"]) == (held.plan_id, "held")


def test_a_prompt_that_cannot_be_sent_leaves_the_plan_held(make_owner) -> None:
    def broken(plan_id: str) -> None:
        raise ConnectionError("notifier down")

    owner = make_owner(approval=ALWAYS, on_held=broken)
    held = owner.cycle()
    assert held.action == "held for approval"
    assert owner.store.get_plan(held.plan_id).status == "held"
    assert owner.cycle().action == "held, waiting for approval"


def _approve(owner: Owner, plan_id: str) -> None:
    plan = owner.store.get_plan(plan_id)
    now = owner.adapter.clock().timestamp
    owner.store.decide_approval(plan_id, "approved", "tester", "cli", content_hash=plan.content_hash, now=now)


def test_an_approved_plan_that_stands_on_fresh_quotes_starts_without_asking_again(make_owner) -> None:
    owner = make_owner(approval=ALWAYS)
    held = owner.cycle()
    _approve(owner, held.plan_id)
    started = owner.tick()
    assert started.plan_id == held.plan_id and started.action.startswith("plan "), started
    assert owner.store.get_plan(held.plan_id).status in ("executing", "done")
    assert owner.prompts == [held.plan_id] and owner.audit("approved_plan_superseded") == []


def test_an_approved_plan_that_could_not_start_before_the_close_expires(make_owner) -> None:
    owner = make_owner(approval=ALWAYS)
    held = owner.cycle()
    clock = owner.adapter.clock()
    owner.broker.advance_to(clock.next_close - timedelta(minutes=2))
    _approve(owner, held.plan_id)  # a minute before the request lapses
    owner.broker.advance_to(clock.next_close + timedelta(minutes=1))
    assert owner.tick() == CycleOutcome("waiting for the open", held.plan_id)
    owner.broker.advance_to(owner.adapter.clock().next_open + timedelta(minutes=1))
    assert owner.tick() == CycleOutcome("approval expired", held.plan_id)
    plan = owner.store.get_plan(held.plan_id)
    assert (plan.status, plan.status_reason) == (
        "expired",
        "approved, but the market closed before it could start",
    )
    [expired] = owner.audit("approval_expired")
    assert (expired.plan_id, expired.fields["state"]) == (held.plan_id, "approved")
    assert owner.store.orders() == []  # nothing was sent
