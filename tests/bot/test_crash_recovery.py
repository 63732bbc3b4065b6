"""Crash test: the bot is SIGKILLed at every step of a multi-order rebalance and restarted each time.

For every kill point, on a fresh paper broker and a fresh state directory:

1. the bot runs in its own process (``tests/bot/crash_child.py``) and kills itself with SIGKILL at the chosen
   call (the k-th submit, order lookup, open-orders read, account read or state write), before or after it;
2. a new bot process starts on the same state directory (at once, or after a minute of simulated time in
   which the market went on filling orders) and runs until the plan is done and a later cycle finds the
   account within its bands;
3. then: no client_order_id was ever POSTed twice (counted at the broker's HTTP door, so refused duplicates
   count too), every order at the broker is in the bot's state database with its broker id and final status,
   and the account holds exactly its starting positions plus the plan's orders, every weight inside its band.

Two variants, each killed at every step of its plan: no faults, restarting a minute later (an order sent just
before the kill has filled meanwhile and is found by lookup, not among the open orders); and the paper
broker losing the response to an accepted order half of the time, restarting at once (an order sent just
before the kill is found among the open orders).

The bot steps the broker's simulated time itself, by a fixed amount after each tick, so a run is the same
sequence of calls every time: ``test_kill_points_are_every_step_of_the_plan`` checks that the kill points
listed here are exactly the watched calls of an uninterrupted run, from the plan's creation to its end.
Bot processes are forked from a multiprocessing forkserver that has imported the bot once (a fresh
interpreter per run would spend most of this module's time importing).
"""

from __future__ import annotations

import json
import multiprocessing
import signal
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from bot.broker.alpaca import AlpacaBroker
from bot.paper_broker.accounts import AccountsFile, AccountSpec, StartingLot, StartingPosition
from bot.paper_broker.faults import FaultConfig
from bot.paper_broker.server import ClockConfig, PaperBroker, ServerConfig
from bot.state.store import StateStore
from tests.bot import crash_child
from tests.bot.crash_child import BAND, FILL_TRACKING, KEY, SECRET, STATE_WRITES, SUBMIT, TARGETS

pytestmark = pytest.mark.slow

START = datetime(2019, 12, 17, 14, 44, tzinfo=UTC)
"""A minute before the first cycle of the day is due (15 minutes after the 09:30 New York open)."""
START_CASH = Decimal(10000)
START_POSITIONS = {
    "SPY": (Decimal(250), Decimal(250)),
    "GLD": (Decimal(100), Decimal(120)),
    "AGG": (Decimal(100), Decimal(105)),
}
"""Bought in 2018: by Dec 2019 SPY and GLD are far above their targets, AGG below, VEA not held at all, so
the first cycle (14:45) plans four orders: sell GLD, sell SPY, then buy AGG and VEA."""
SYMBOLS = ("SPY", "GLD", "AGG", "VEA")
MAX_MINUTE_PARTICIPATION = 0.01
"""Of a minute's volume: small enough that the AGG buy fills over several minutes (partial fills to follow),
large enough that it fills before the 10-minute order timeout."""
CHILD_TIMEOUT = 60.0

# The watched calls of an uninterrupted run, from the plan's creation to its completion (method#k: the k-th
# call of that method in the process; open_orders#1/#2 and account#1 come before, from the reconciliation at
# start and the cycle's read of the account). One tick per simulated minute; the AGG buy fills over 6 minutes.
PLAN_STEPS = (
    "save_plan#1",  # 14:45 the plan, stored as "planned"
    "set_plan_status#1",  # -> executing
    "record_order#1",  # intent: sell GLD
    "submit#1",
    "update_order#1",  # accepted
    "record_order#2",  # intent: sell SPY
    "submit#2",
    "update_order#2",
    "open_orders#3",  # 14:46 the sells are no longer open...
    "order_by_client_id#1",  # ...so each is looked up: filled
    "update_order#3",
    "order_by_client_id#2",
    "update_order#4",
    "account#2",  # buying power, to size the buys to what the sells freed
    "record_order#3",  # intent: buy AGG
    "submit#3",
    "update_order#5",
    "record_order#4",  # intent: buy VEA
    "submit#4",
    "update_order#6",
    "open_orders#4",  # 14:47 AGG partly filled
    "update_order#7",
    "order_by_client_id#3",  # VEA filled
    "update_order#8",
    "open_orders#5",  # 14:48 .. 14:51 AGG fills on
    "update_order#9",
    "open_orders#6",
    "update_order#10",
    "open_orders#7",
    "update_order#11",
    "open_orders#8",
    "update_order#12",
    "open_orders#9",  # 14:52 AGG filled
    "order_by_client_id#4",
    "update_order#13",
    "set_plan_status#2",  # -> done
)
# Half the responses to accepted orders lost (seed 3: those of the first and the third submit): the adapter
# looks those two orders up by client_order_id from inside submit; the rest is as above.
PLAN_STEPS_LOST_RESPONSES = (
    "save_plan#1",
    "set_plan_status#1",
    "record_order#1",
    "submit#1",
    "order_by_client_id#1",  # inside submit#1: its response was lost, the order is found
    "update_order#1",
    "record_order#2",
    "submit#2",
    "update_order#2",
    "open_orders#3",
    "order_by_client_id#2",  # 14:46 each lookup's number is shifted by one
    "update_order#3",
    "order_by_client_id#3",
    "update_order#4",
    "account#2",
    "record_order#3",
    "submit#3",
    "order_by_client_id#4",  # inside submit#3
    "update_order#5",
    "record_order#4",
    "submit#4",
    "update_order#6",
    "open_orders#4",
    "update_order#7",
    "order_by_client_id#5",
    "update_order#8",
    "open_orders#5",
    "update_order#9",
    "open_orders#6",
    "update_order#10",
    "open_orders#7",
    "update_order#11",
    "open_orders#8",
    "update_order#12",
    "open_orders#9",
    "order_by_client_id#6",  # shifted by two
    "update_order#13",
    "set_plan_status#2",
)


@dataclass(frozen=True)
class Variant:
    faults: FaultConfig
    steps: tuple[str, ...]
    downtime_minutes: int
    """Simulated time between the kill and the restart."""


VARIANTS = {
    "no-faults": Variant(FaultConfig(rate_limit_per_minute=None), PLAN_STEPS, downtime_minutes=1),
    "lost-responses": Variant(
        FaultConfig(rate_limit_per_minute=None, drop_after_accept_rate=0.5, seed=3),
        PLAN_STEPS_LOST_RESPONSES,
        downtime_minutes=0,
    ),
}
PHASES = ("before", "after")
KILL_POINTS = [
    pytest.param(name, step, phase, id=f"{name}-{step}-{phase}")
    for name, variant in VARIANTS.items()
    for step in variant.steps
    for phase in PHASES
]


# -- the broker, in this process -----------------------------------------------------------------------------
class OrderPostRecorder:
    """ASGI middleware in front of the paper broker: the client_order_id of every ``POST /v2/orders`` that
    reaches it, accepted or not. The body is read and handed on unchanged."""

    def __init__(self, app) -> None:  # noqa: ANN001 - an ASGI app
        self.app = app
        self.client_order_ids: list[str | None] = []

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001 - ASGI signature
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/v2/orders":
            await self.app(scope, receive, send)
            return
        messages, body = [], b""
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        try:
            self.client_order_ids.append(json.loads(body).get("client_order_id"))
        except (ValueError, AttributeError):
            self.client_order_ids.append(None)

        async def replay() -> dict:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


def starting_account() -> AccountsFile:
    positions = tuple(
        StartingPosition(symbol=symbol, lots=(StartingLot(qty=qty, price=price, date=date(2018, 1, 2)),))
        for symbol, (qty, price) in START_POSITIONS.items()
    )
    return AccountsFile(
        accounts=(
            AccountSpec(name="main", key_id=KEY, secret_key=SECRET, cash=START_CASH, positions=positions),
        )
    )


def start_broker(tmp_path: Path, faults: FaultConfig) -> tuple[PaperBroker, OrderPostRecorder]:
    broker = PaperBroker(
        ServerConfig(
            accounts=starting_account(),
            clock=ClockConfig(start=START, mode="manual"),
            database=tmp_path / "broker.sqlite",
            symbols=SYMBOLS,
            matching={"max_minute_participation": MAX_MINUTE_PARTICIPATION},
            faults=faults,
        )
    )
    recorder = OrderPostRecorder(broker.app)
    broker.app = recorder
    broker.start()
    return broker, recorder


# -- the bot, in child processes -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def processes() -> multiprocessing.context.ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tests.bot.crash_child"])
    return context


@dataclass
class BotRuns:
    """The bot processes of one case: their events (one file, appended to by each) and their logs."""

    context: multiprocessing.context.ForkServerContext
    url: str
    root: Path
    exit_codes: list[int | None] = field(default_factory=list)

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def events(self) -> Path:
        return self.root / "events.log"

    def run(self, kill_at: str | None = None, phase: str = "before") -> int | None:
        argv = ["--url", self.url, "--state-dir", str(self.state_dir), "--events", str(self.events)]
        if kill_at is not None:
            argv += ["--kill-at", kill_at, "--phase", phase]
        output = self.root / f"bot-{len(self.exit_codes) + 1}.log"
        process = self.context.Process(target=crash_child.run, args=(argv, str(output)), daemon=True)
        process.start()
        process.join(CHILD_TIMEOUT)
        if process.is_alive():
            process.kill()
            process.join(10)
            self.exit_codes.append(None)
            raise AssertionError(f"bot process still running after {CHILD_TIMEOUT}s\n{self.explain()}")
        self.exit_codes.append(process.exitcode)
        return process.exitcode

    def event_lines(self) -> list[str]:
        return self.events.read_text().splitlines() if self.events.exists() else []

    def explain(self, log_lines: int = 25) -> str:
        parts = [f"exit codes: {self.exit_codes}", "events: " + " | ".join(self.event_lines()[-60:])]
        for log in sorted(self.root.glob("bot-*.log")):
            tail = log.read_text(errors="replace").splitlines()[-log_lines:]
            parts.append(f"--- {log.name} (last {log_lines} lines)\n" + "\n".join(tail))
        return "\n".join(parts)


def plan_window(events: list[str]) -> list[str]:
    """The watched calls from the first save_plan to the set_plan_status that closed the plan."""
    calls = [line.split()[1] for line in events if line[0].isdigit()]
    first = next(i for i, call in enumerate(calls) if call.startswith("save_plan#"))
    last = max(i for i, call in enumerate(calls) if call.startswith("set_plan_status#"))
    return calls[first : last + 1]


# -- the tests -----------------------------------------------------------------------------------------------
def test_kill_points_cover_submit_fill_tracking_and_state_writes():
    for variant in VARIANTS.values():
        methods = {step.split("#")[0] for step in variant.steps}
        assert methods & set(SUBMIT)
        assert methods & set(FILL_TRACKING) == set(FILL_TRACKING)
        assert methods & set(STATE_WRITES) == set(STATE_WRITES)
        assert len(set(variant.steps)) == len(variant.steps) >= 20
    assert len(KILL_POINTS) >= 2 * 20


@pytest.mark.parametrize("name", VARIANTS)
def test_kill_points_are_every_step_of_the_plan(tmp_path, processes, name):
    """An uninterrupted run makes exactly the listed calls, in order: each kill point is a distinct step."""
    variant = VARIANTS[name]
    broker, recorder = start_broker(tmp_path, variant.faults)
    try:
        runs = BotRuns(processes, broker.url, tmp_path)
        assert runs.run() == 0, runs.explain()
        assert plan_window(runs.event_lines()) == list(variant.steps), runs.explain()
        check_outcome(broker, recorder, runs)
    finally:
        broker.stop()


@pytest.mark.parametrize("name, kill_at, phase", KILL_POINTS)
def test_killed_bot_restarts_sends_nothing_twice_and_ends_where_the_plan_said(
    tmp_path, processes, name, kill_at, phase
):
    variant = VARIANTS[name]
    broker, recorder = start_broker(tmp_path, variant.faults)
    try:
        runs = BotRuns(processes, broker.url, tmp_path)
        code = runs.run(kill_at, phase)
        assert code == -signal.SIGKILL, runs.explain()
        assert runs.event_lines()[-1] == f"KILL {kill_at} {phase}", runs.explain()
        broker.advance(minutes=variant.downtime_minutes)
        assert runs.run() == 0, runs.explain()
        check_outcome(broker, recorder, runs)
    finally:
        broker.stop()


def test_an_intent_resumed_an_hour_later_is_sent_as_recorded(tmp_path, processes):
    """Killed right after writing the AGG buy's intent, restarted an hour later when buying power has moved:
    the executor sends the amount it wrote ahead, not a re-sized one, so the database says what was sent."""
    broker, recorder = start_broker(tmp_path, VARIANTS["no-faults"].faults)
    try:
        runs = BotRuns(processes, broker.url, tmp_path)
        assert runs.run("record_order#3", "after") == -signal.SIGKILL, runs.explain()
        broker.advance(minutes=60)
        assert runs.run() == 0, runs.explain()
        with StateStore(runs.state_dir / "bot.sqlite") as store:
            (agg,) = [r for r in store.orders(account="main") if r.symbol == "AGG"]
        assert agg.notional == broker.engine.orders[agg.broker_id].notional
        check_outcome(broker, recorder, runs)
    finally:
        broker.stop()


# -- what must hold after the restart ---------------------------------------------------------------------
def check_outcome(broker: PaperBroker, recorder: OrderPostRecorder, runs: BotRuns) -> None:
    why = runs.explain()
    # 1. No client_order_id was sent twice.
    sent = Counter(recorder.client_order_ids)
    assert sent, why
    assert {cid: n for cid, n in sent.items() if n > 1} == {}, why

    with StateStore(runs.state_dir / "bot.sqlite") as store:
        plans = store.plans(account="main")
        done = [p for p in plans if p.status == "done"]
        assert len(done) == 1, ([(p.plan_id, p.status, p.status_reason) for p in plans], why)
        plan = done[0]
        # A plan stored but killed before the approval gate is superseded at restart, having sent nothing.
        for other in plans:
            if other is not plan:
                assert other.status == "superseded", (other, why)
                assert store.orders(plan_id=other.plan_id) == [], why
        records = {r.client_order_id: r for r in store.orders(account="main")}
        unknown_reported = store.audit_trail(event="unknown_open_order")

    # 2. No order is unknown to the bot, and the bot knows how each one ended.
    at_broker = {
        o.client_order_id: o
        for o in broker.engine.orders.values()
        if not o.client_order_id.startswith("starting-lot-")
    }
    assert set(sent) == set(at_broker), why
    assert set(at_broker) <= set(records), why
    assert unknown_reported == [], why
    for cid, order in at_broker.items():
        record = records[cid]
        assert (record.symbol, record.side, record.qty, record.notional) == (
            order.symbol,
            order.side,
            order.qty,
            order.notional,
        ), (record, order, why)
        assert (record.broker_id, record.status, record.filled_qty) == (
            order.id,
            order.status,
            order.filled_qty,
        ), (record, order, why)

    # 3. The account ends where the plan said: each planned order filled once, as planned.
    specs = plan.details["orders"]
    assert len(specs) == 4, why
    assert set(at_broker) == {f"{plan.plan_id}-{spec['seq']}" for spec in specs}, why
    expected = {symbol: qty for symbol, (qty, _price) in START_POSITIONS.items()}
    for spec in specs:
        order = at_broker[f"{plan.plan_id}-{spec['seq']}"]
        assert (order.symbol, order.side, order.status) == (spec["symbol"], spec["side"], "filled"), why
        if spec["side"] == "sell":
            assert order.qty == order.filled_qty == Decimal(spec["qty"]), (spec, order, why)
            expected[spec["symbol"]] -= order.filled_qty
        else:
            planned = Decimal(spec["notional"])
            # sized to what the sells freed, never above what was planned (and approved)
            assert planned * Decimal("0.98") <= order.notional <= planned, (spec, order, why)
            assert abs(order.filled_value - order.notional) <= Decimal("0.01"), (order, why)
            expected[spec["symbol"]] = expected.get(spec["symbol"], Decimal(0)) + order.filled_qty

    adapter = AlpacaBroker(KEY, SECRET, trading_url=broker.url)
    positions = {p.symbol: p for p in adapter.positions()}
    assert {s: p.qty for s, p in positions.items()} == expected, why
    assert adapter.open_orders() == [], why
    equity = adapter.account().equity
    for symbol, target in TARGETS.items():
        weight = positions[symbol].market_value / equity
        assert abs(weight - Decimal(str(target))) <= BAND, (symbol, weight, why)
