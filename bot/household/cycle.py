"""The household's turn in each tick: one plan for every member account, one approval, orders per account.

``HouseholdBot.tick`` mirrors the single-account cycle (:class:`bot.cycle.AccountBot`) for a household:

1. What is in flight goes first: an executing household plan is advanced (each account's child plan by that
   account's executor, :mod:`bot.household.execution`); an approved one is re-checked on fresh quotes and
   then fanned out, or superseded by a fresh plan that is asked again when a price moved beyond its
   volatility-scaled tolerance (:mod:`bot.approval.recheck`, the same re-check as an account's; at most
   ``approval.max_reasks_per_day`` re-asks a day, :mod:`bot.approval.reask_cap`).
2. Otherwise, when a cycle is due, every member is read through its own client and the lot ledger refreshed
   (:mod:`bot.household.gather`). If the AGGREGATE weights are inside their bands (and every account's cash
   covers its reserve and what it must pay out) nothing is planned. Else ONE optimization
   (:func:`strategies.household.optimize_household`) chooses the trades of every account together.
3. The plan is stored as one row (:mod:`bot.household.record`), refused if it breaks a hard limit, and put
   to the approval policy as a whole (sizes, tax and the rest measured on the household's total): held for
   one decision, or started at once. These steps are the pipeline an account's plan goes through too
   (:mod:`bot.pipeline`); :class:`bot.household.proposal.HouseholdProposal` describes the plan to it.

Like the single-account bot, a held plan is not asked again every cycle: it stands until a fresh plan
differs materially (an order appears or disappears in some account, or one moves more than
``approval.change_tolerance`` of the gross), and a rejected plan is not asked again until some aggregate
drift moves by ``approval.reask_drift_change``. While any member has open orders the household waits:
positions and cash in flux are not a reading to plan on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

import structlog

from bot.approval.recheck import Recheck, recheck_approved
from bot.broker.alpaca import AlpacaBroker
from bot.clock import Clock
from bot.config import BotConfig, ScheduleConfig
from bot.household import inputs
from bot.household.execution import HouseholdExecutor
from bot.household.gather import AssetCache, HouseholdReading, read_household
from bot.household.objective import ObjectivePlanner, objective_reason
from bot.household.proposal import HouseholdProposal
from bot.household.record import AggregateCheck, aggregate_check, explanation
from bot.pipeline import Notices, PlanPipeline, Replacement, stages
from bot.state.store import PlanRecord, StateStore
from bot.tradable import untradable
from bot.turn import CycleOutcome, PlanningTurn
from strategies.household import HouseholdInfeasible, HouseholdPlan, optimize_household

log = structlog.get_logger(__name__)


HouseholdOutcome = CycleOutcome
"""What one household tick did (the same record as an account's, so the worker reports both alike)."""


class HouseholdBot(PlanningTurn):
    """Keeps a household of accounts on one aggregate target."""

    def __init__(
        self,
        config: BotConfig,
        brokers: Mapping[str, AlpacaBroker],
        store: StateStore,
        clock: Clock,
        on_held: Callable[[str], None] | None = None,
        on_alert: Callable[[str, Sequence[str], str], None] | None = None,
    ) -> None:
        household = inputs.household_of(config)
        self.config = config
        self.name = household.name
        self.brokers = {name: brokers[name] for name in household.names}
        self.store = store
        self.clock = clock
        self.notices = Notices(on_held, on_alert)
        self.executor = HouseholdExecutor(config, self.brokers, store, clock)
        self.pipeline = PlanPipeline(
            owner=household.name,
            id_prefix="hh",
            noun="household plan",
            members=tuple(self.brokers),
            manual=any(config.account(n).manual for n in self.brokers),
            store=store,
            clock=clock,
            notices=self.notices,
            approval=config.approval,
            limits=config.limits,
            executor=self.executor,
            next_close=lambda: next(iter(self.brokers.values())).clock().next_close,
        )
        """What happens to the household's plans (:mod:`bot.pipeline`): the same stages as an account's."""
        self.assets = AssetCache()
        self.objective = ObjectivePlanner.of(config)
        """Set under a ``policy`` of kind objective: the risk term then decides, not the bands."""
        self.last_check: dict | None = None
        """The latest aggregate reading (time, equity, per-asset weight/target/drift), for the dashboard."""
        self._last_cycle: datetime | None = None
        self._infeasible_alerted: str | None = None
        self._previous: HouseholdPlan | None = None
        """This process's last bands-mode plan: the next solve may start from it (issue 19, item 4)."""

    # -- the turn (bot.turn.PlanningTurn) --------------------------------------------------------------------
    log_key = "household"

    @property
    def schedule(self) -> ScheduleConfig:
        return self.config.schedule

    def _halted(self) -> CycleOutcome:
        """Halted: send nothing, and cancel the bot's own open orders in every member account."""
        canceled = stages.cancel_open_orders(self.store, self.brokers)
        for plan in self.store.unfinished_plans(self.name):
            if plan.status == "executing":
                self.executor.advance(plan, halted=True)
        return CycleOutcome("halted", detail=f"canceled {canceled} open orders")

    def resume_start(self, plan: PlanRecord, run_id: str) -> bool:
        """The children were saved before a crash: they are the approved plan; finish starting it."""
        if not any(child is not None for child in self.executor.children(plan).values()):
            return False
        self.executor.start(plan, run_id, expected="approved")
        return True

    def recheck(self, plan: PlanRecord, run_id: str) -> tuple[Recheck, Replacement]:
        """The approved plan's prices re-checked on fresh quotes; if it no longer stands, a fresh cycle
        replaces it with a plan that is asked again."""
        symbols = sorted({o["symbol"] for o in plan.details["orders"]})
        broker = next(iter(self.brokers.values()))
        quotes = broker.latest_quotes(symbols)
        mids = {s: q.mid for s, q in quotes.items() if q.is_two_sided}
        check = recheck_approved(broker, self.config.approval, plan, mids, self.clock.now())
        return check, lambda: self.run_cycle(run_id, reask=check)

    def start_approved(self, plan: PlanRecord, run_id: str, check: Recheck) -> None:
        """The approved plan stands: fan it out into its accounts' child plans."""
        log.info(
            "approved household plan stands on fresh quotes",
            tolerances={s: f"{t.value:.2%}" for s, t in check.tolerances.items()},
        )
        self.executor.start(plan, run_id, expected="approved")

    # -- the cycle -------------------------------------------------------------------------------------------
    def read(self) -> HouseholdReading:
        return read_household(self.config, self.brokers, self.store, self.trade_date(), self.assets)

    def untradable_targets(self) -> dict[str, str]:
        """Target symbols the broker cannot trade (symbol -> why), asked before any reading: a symbol with no
        quote would otherwise stop the reading itself, with a pricing error instead of the reason."""
        targets = list((self.config.household.targets or self.config.targets).weights)
        first = self.brokers[self.config.household.accounts[0].account]
        return untradable(targets, self.assets.get(first, targets))

    def make_plan(
        self, reading: HouseholdReading, *, every_check: bool = False
    ) -> tuple[AggregateCheck, HouseholdPlan | None, tuple[str, ...]]:
        """The aggregate check, the optimizer's plan when the check fires (None inside the bands), and notes
        on how far it trades back (see :func:`bot.household.inputs.planning_limits`). Under the objective
        the plan is the objective's whenever it decides (None between its decisions; the last note says
        why), whatever the bands say; ``every_check``: decide now even if the session's decision was made
        (a preview, or a replacement for an approved plan that prices moved under)."""
        check = aggregate_check(reading.household)
        self.last_check = {
            "at": self.clock.now().isoformat(),
            "equity": str(check.equity),
            "assets": list(check.assets),
        }
        settings = inputs.optimizer_settings(self.config)
        fallback = ""
        if self.objective is not None:
            first = next(iter(self.brokers.values()))  # daily bars are the same through any member
            plan, how, fall_back = self.objective.plan(
                reading.household, settings, first, self.store, self.name, self.clock.now(),
                every_check=every_check,
            )  # fmt: skip
            if not fall_back:
                return check, plan, (*reading.notes, how)
            fallback = how
        base = (*reading.notes, *filter(None, [fallback]))
        if not check.fired:
            return check, None, base
        limits, how = inputs.planning_limits(self.config, reading.household, settings)
        if limits is not None:
            try:
                plan = optimize_household(reading.household, settings, limits=limits, previous=self._previous)
                self._previous = plan
                return check, plan, (*base, how)
            except HouseholdInfeasible as exc:
                how = f"{how} is out of reach ({exc.problems[0]}); planned to the band edges instead"
        plan = optimize_household(reading.household, settings, previous=self._previous)
        self._previous = plan
        return check, plan, (*base, how)

    def preview(self) -> str:
        """A dry run (``rebalance-bot plan``): the plan that would be made now, explained; nothing stored."""
        problems = self.untradable_targets()
        if problems:
            return f"Household {self.name}: refused, targets the broker cannot trade: " + "; ".join(
                f"{s} {why}" for s, why in problems.items()
            )
        reading = self.read()
        try:
            check, plan, notes = self.make_plan(reading, every_check=True)
        except HouseholdInfeasible as exc:
            return f"Household {self.name}: no plan meets every constraint:\n" + "\n".join(
                f"  - {p}" for p in exc.problems
            )
        if plan is None:
            return f"Household {self.name}: {check.reason()}; nothing to trade"
        return explanation(plan, check, notes)

    def run_cycle(self, run_id: str, reask: Recheck | None = None) -> CycleOutcome:
        """``reask``: the re-check that voided an approved plan; the fresh plan replaces it, asked again."""
        held = self.pipeline.holding()
        if held is not None:
            return held
        refused = self.pipeline.untradable(self.untradable_targets())
        if refused is not None:
            return refused
        reading = self.read()
        busy = reading.open_orders
        if busy:
            detail = ", ".join(f"{name}: {len(orders)}" for name, orders in busy.items())
            log.info("household waits: open orders in member accounts", open_orders=detail)
            return CycleOutcome("open orders; waiting", detail=detail)
        try:
            check, plan, notes = self.make_plan(reading, every_check=reask is not None)
        except HouseholdInfeasible as exc:
            return self._infeasible(exc)
        self._infeasible_alerted = None
        log.info("household cycle", fired=check.fired, reason=check.reason(), equity=str(check.equity))
        if plan is None or not plan.trades:
            why = objective_reason(plan, notes) or check.reason()
            return self.pipeline.nothing_to_trade("within bands" if plan is None else "nothing to trade", why)
        proposal = HouseholdProposal(self.name, plan, check, notes, self.executor)
        return self.pipeline.gate(proposal, run_id, reask.reask(proposal.orders) if reask else None)

    def _infeasible(self, exc: HouseholdInfeasible) -> CycleOutcome:
        text = "; ".join(exc.problems)
        log.error("household plan infeasible", problems=list(exc.problems))
        if self._infeasible_alerted != text:
            self._infeasible_alerted = text
            self.notices.alert(
                f"household {self.name}: no plan meets every constraint",
                [f"- {p}" for p in exc.problems],
                "household",
            )
        return CycleOutcome("infeasible", detail=text)
