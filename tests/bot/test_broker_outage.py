"""A broker that is down, errs or refuses the keys (issue 17, item 10): the bot waits and says why, nothing
leaves a scheduler tick, and it trades once the broker answers, sending nothing twice.

The broker is the real paper broker over HTTP; its outage is real too (nothing listens on its port until it is
started, its fault injector answers 5xx, wrong keys get its 401). Simulated time is stepped, the bot's pause
between tries runs on an injected wall clock, and the adapter's retry sleeps are no-ops: nothing sleeps.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from rich.console import Console

from bot.broker.alpaca import AlpacaBroker
from bot.notify import Notifier
from bot.paper_broker.faults import FaultConfig
from bot.paper_broker.server import ClockConfig, PaperBroker, ServerConfig
from bot.reports import print_status
from bot.state.store import StateStore
from bot.worker import Bot
from tests.approval.receiver import Receiver
from tests.bot.harness import KEY, OPEN_TIME, SECRET, BrokerTime, bot_config, drifted_60_40
from tests.bot.test_slicing_e2e import OrderPostRecorder

# Slow tier: bots and CLI processes against a broker that is down, restarted or refusing
# (CI runs the slow tier; the README's quick command skips it.)
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
FIRST_CYCLE = OPEN_TIME + timedelta(minutes=15)


class Wall:
    """The bot's wall clock for its pause between tries: stepped by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def receiver():  # noqa: ANN201
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def outage(tmp_path: Path, receiver: Receiver):  # noqa: ANN201
    """A bot whose paper broker is built (port fixed, every order POST recorded) but not started."""
    port = free_port()
    broker = PaperBroker(
        ServerConfig(
            port=port,
            accounts=drifted_60_40(),
            clock=ClockConfig(start=FIRST_CYCLE),
            database=tmp_path / "broker.sqlite",
            faults=FaultConfig(rate_limit_per_minute=None),
        )
    )
    broker.recorder = OrderPostRecorder(broker.app)
    broker.app = broker.recorder
    config = bot_config(f"http://127.0.0.1:{port}", tmp_path / "state")
    adapter = AlpacaBroker(
        KEY, SECRET, trading_url=config.accounts[0].base_url, max_attempts=2, sleep=_no_sleep
    )
    store = StateStore(tmp_path / "state" / "bot.sqlite")
    wall = Wall()
    bot = Bot(
        config,
        {"main": adapter},
        store,
        clock=BrokerTime(broker),
        notifier=Notifier([receiver.url()], retries=0),
        wall=wall,
    )
    yield broker, bot, store, adapter, wall
    bot.notifier.close(timeout=5)
    broker.stop()


def _no_sleep(_seconds: float) -> None:
    """The adapter's retry pause: the test does not wait on real time."""


def _status(config, store) -> str:  # noqa: ANN001
    out = io.StringIO()
    print_status(config, store, Console(file=out, width=200))
    return out.getvalue()


def test_a_bot_started_with_the_broker_down_waits_then_trades_when_it_comes_up_sending_nothing_twice(
    outage, receiver
):
    broker, bot, store, adapter, wall = outage
    bot.start("run")  # no exception: the bot starts and waits
    assert store.get_flag("broker").startswith(
        f"cannot reach the broker at {bot.config.accounts[0].base_url}"
    )
    assert "BROKER: cannot reach the broker" in _status(bot.config, store)
    sent = adapter.request_count
    outcome = bot.tick()["main"]
    assert outcome.action == "waiting for the broker" and "cannot reach" in outcome.detail
    assert adapter.request_count == sent  # pausing: no request until the pause is over
    wall.now += 15
    assert bot.tick()["main"].action == "waiting for the broker"
    assert adapter.request_count > sent  # tried again, and failed again
    tried = adapter.request_count
    wall.now += 29  # the pause doubled to 30 s
    bot.tick()
    assert adapter.request_count == tried
    # a minute later the broker is up
    broker.start()
    wall.now += 60
    outcome = bot.tick()["main"]
    assert outcome.action.startswith("plan"), outcome
    assert store.get_flag("broker") is None
    assert "BROKER" not in _status(bot.config, store)
    for _ in range(30):
        broker.advance(minutes=1)
        bot.tick()
    [plan] = store.plans(account="main")
    assert plan.status == "done", (plan.status, plan.status_reason)
    posts = Counter(broker.recorder.client_order_ids)
    assert posts and all(n == 1 for n in posts.values()), posts
    bot.notifier.flush(timeout=10)
    titles = [m.get("title", "") + m.get("message", "") for m in receiver.messages]
    assert any("cannot be used; the bot is waiting" in t for t in titles), titles
    assert any("answers again" in t for t in titles), titles
    assert sum("cannot be used" in t for t in titles) == 1  # one alert per outage, not one per tick


def test_a_burst_of_server_errors_mid_plan_never_leaves_a_tick_and_the_plan_completes_once(outage):
    broker, bot, store, adapter, wall = outage
    broker.start()
    assert bot.tick()["main"].action.startswith("plan")
    broker.faults.configure(FaultConfig(rate_limit_per_minute=None, error_next=40))
    outcomes = []
    for _ in range(10):
        broker.advance(minutes=1)
        wall.now += 300
        outcomes.append(bot.tick().get("main"))  # returns: no exception leaves the tick
    assert any(o is not None and o.action == "waiting for the broker" for o in outcomes), outcomes
    assert "BROKER" in _status(bot.config, store)
    broker.faults.configure(FaultConfig(rate_limit_per_minute=None))
    for _ in range(30):
        broker.advance(minutes=1)
        wall.now += 300
        bot.tick()
    [plan] = store.plans(account="main")
    assert plan.status == "done"
    assert store.get_flag("broker") is None
    posts = Counter(broker.recorder.client_order_ids)
    assert posts and all(n == 1 for n in posts.values()), posts


def test_keys_refused_during_a_tick_make_the_bot_wait_naming_the_key_variables(tmp_path):
    broker = PaperBroker(
        ServerConfig(
            accounts=drifted_60_40(),
            clock=ClockConfig(start=FIRST_CYCLE),
            database=tmp_path / "broker.sqlite",
            faults=FaultConfig(rate_limit_per_minute=None),
        )
    ).start()
    try:
        config = bot_config(broker.url, tmp_path / "state")
        adapter = AlpacaBroker("wrong", "keys", trading_url=broker.url, max_attempts=1, sleep=_no_sleep)
        store = StateStore(tmp_path / "state" / "bot.sqlite")
        bot = Bot(config, {"main": adapter}, store, clock=BrokerTime(broker), wall=Wall())
        outcome = bot.tick()["main"]
        assert outcome.action == "waiting for the broker"
        assert "refused the API keys" in outcome.detail
        assert "APCA_API_KEY_ID and APCA_API_SECRET_KEY (account main)" in outcome.detail
        assert store.orders() == []
    finally:
        broker.stop()


def test_run_with_keys_the_broker_refuses_stops_with_one_line_naming_the_variables_and_logs_it(tmp_path):
    broker = PaperBroker(
        ServerConfig(
            accounts=drifted_60_40(),
            clock=ClockConfig(start=FIRST_CYCLE),
            database=tmp_path / "broker.sqlite",
            faults=FaultConfig(rate_limit_per_minute=None),
        )
    ).start()
    try:
        state = tmp_path / "state"
        config = tmp_path / "bot.yaml"
        config.write_text(
            "accounts:\n"
            f"  - {{name: main, broker: embedded, base_url: '{broker.url}', key_id_env: RB_KEY,"
            " secret_key_env: RB_SECRET}\n"
            "targets: {SPY: 0.6, AGG: 0.4}\n"
            f"state_dir: {state}\n"
            "web: {enabled: false}\n"
        )
        env = {**os.environ, "RB_KEY": "not-the-key", "RB_SECRET": "not-the-secret", "PYTHONPATH": str(ROOT)}
        done = subprocess.run(
            [sys.executable, "-m", "bot.cli", "run", "-c", str(config)],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
        )
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        [line] = [x for x in done.stderr.splitlines() if x.startswith("error:")]
        assert "refused the API keys" in line and "RB_KEY and RB_SECRET (account main)" in line
        assert "not-the-key" not in done.stderr + done.stdout
        log = (state / "bot.log").read_text()
        assert "refused the API keys" in log and "not-the-key" not in log
    finally:
        broker.stop()


def test_plan_with_an_unset_key_variable_or_a_closed_port_exits_2_with_one_line(tmp_path):
    port = free_port()
    config = tmp_path / "bot.yaml"
    config.write_text(
        "accounts:\n"
        f"  - {{name: main, broker: embedded, base_url: 'http://127.0.0.1:{port}', key_id_env: RB_KEY,"
        " secret_key_env: RB_SECRET}\n"
        "targets: {SPY: 0.6, AGG: 0.4}\n"
        f"state_dir: {tmp_path / 'state'}\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("RB_KEY", "RB_SECRET")}
    env["PYTHONPATH"] = str(ROOT)
    run = lambda extra: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "bot.cli", "plan", "-c", str(config)],
        capture_output=True,
        text=True,
        env={**env, **extra},
        cwd=tmp_path,
        timeout=120,
    )
    unset = run({})
    assert unset.returncode == 2 and "Traceback" not in unset.stderr
    assert "RB_KEY is not set" in unset.stderr
    closed = run({"RB_KEY": "k", "RB_SECRET": "s"})
    assert closed.returncode == 2 and "Traceback" not in closed.stderr
    [line] = [x for x in closed.stderr.splitlines() if x.startswith("error:")]
    assert f"cannot reach the broker at http://127.0.0.1:{port}" in line


class DownAfterNextOrder:
    """ASGI middleware: once armed, the first order POST reaches the broker (which accepts it and, with
    ``drop_after_accept_next``, loses its response); from then on every request gets 503, as from a broker
    going down that very moment, so the bot cannot look the order up before the broker is stopped."""

    def __init__(self, app) -> None:  # noqa: ANN001 - an ASGI app
        self.app = app
        self.armed = False
        self.down = False

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001 - ASGI
        if scope["type"] == "http" and self.down:
            await send({"type": "http.response.start", "status": 503, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        order_post = scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == "/v2/orders"
        try:
            await self.app(scope, receive, send)
        finally:
            if self.armed and order_post:
                self.down = True


def test_a_broker_restarted_on_its_database_mid_plan_is_resumed_and_nothing_is_sent_twice(tmp_path, receiver):
    """The paper broker goes down mid-plan right after accepting a child whose response is lost, and is
    restarted on the same database file and port: the bot waits while it is gone, then finds that child on
    the broker's disk (looked up, not resent), carries on with the schedule, and the plan ends filled within
    what it approved."""
    from tests.bot.harness import Harness
    from tests.bot.test_slicing_e2e import SLICING, check_within_approved

    port = free_port()
    server = ServerConfig(
        port=port,
        accounts=drifted_60_40(),
        clock=ClockConfig(start=FIRST_CYCLE),
        database=tmp_path / "broker.sqlite",
        faults=FaultConfig(rate_limit_per_minute=None),
    )

    def started() -> PaperBroker:
        broker = PaperBroker(server)
        broker.recorder = OrderPostRecorder(broker.app)
        broker.blackout = DownAfterNextOrder(broker.recorder)
        broker.app = broker.blackout
        return broker.start()

    first = started()
    config = bot_config(f"http://127.0.0.1:{port}", tmp_path / "state", execution={"slicing": SLICING})
    adapter = AlpacaBroker(
        KEY, SECRET, trading_url=config.accounts[0].base_url, max_attempts=2, sleep=_no_sleep
    )
    store = StateStore(tmp_path / "state" / "bot.sqlite")
    wall, clock = Wall(), BrokerTime(first)
    notifier = Notifier([receiver.url()], retries=0)
    bot = Bot(config, {"main": adapter}, store, clock=clock, notifier=notifier, wall=wall)
    second = None
    try:
        bot.start("run")
        assert bot.tick()["main"].action.startswith("plan")
        [plan] = store.plans(account="main")
        first.advance(minutes=1)
        bot.tick()  # the first children are out, the rest of the schedule is not
        first.faults.configure(FaultConfig(rate_limit_per_minute=None, drop_after_accept_next=1))
        first.blackout.armed = True
        first.advance(minutes=1)
        gone = bot.tick()["main"]  # down mid-turn: the bot waits (flag, alert), not an "error" outcome
        assert gone.action == "waiting for the broker" and "503" in gone.detail, gone
        in_doubt = first.recorder.client_order_ids[-1]
        assert in_doubt in {o.client_order_id for o in first.engine.orders.values()}  # accepted...
        assert store.get_order(in_doubt).status not in ("filled", "new", "accepted")  # ...unknown to the bot
        assert store.get_plan(plan.plan_id).status == "executing"
        first.stop()

        for _ in range(3):  # gone: every tick waits, none raises
            wall.now += 300
            assert bot.tick()["main"].action == "waiting for the broker"
        assert store.get_flag("broker").startswith("cannot reach the broker")
        assert len(store.audit_trail(event="broker_down")) == 1  # one outage, told once

        second = started()  # same database file, same port
        assert second.now == first.now
        clock.broker = second
        second.advance(minutes=2)
        wall.now += 300
        for _ in range(40):
            bot.tick()
            if store.get_plan(plan.plan_id).status == "done":
                break
            second.advance(minutes=1)
        done = store.get_plan(plan.plan_id)
        assert (done.status, done.status_reason) == ("done", f"{len(plan.details['orders'])} of 2 filled")
        assert store.get_flag("broker") is None
        posts = Counter(first.recorder.client_order_ids + second.recorder.client_order_ids)
        assert posts and all(n == 1 for n in posts.values()), posts  # nothing sent twice, across the restart
        assert in_doubt not in second.recorder.client_order_ids
        assert store.get_order(in_doubt).status == "filled"
        check_within_approved(Harness(second, bot, store, adapter), plan.plan_id)
    finally:
        notifier.close(timeout=5)
        if second is not None:
            second.stop()
        first.stop()


def test_run_started_while_the_broker_is_unreachable_keeps_running_and_says_it_waits(tmp_path):
    """``rebalance-bot run`` itself (a child process, as under systemd) with nothing listening at its broker's
    URL: it does not exit, the log says it waits for the broker, and SIGTERM ends it cleanly. (That it then
    trades once the broker answers is the stepped-clock test above.)"""
    import signal
    import time

    port = free_port()
    state = tmp_path / "state"
    config = tmp_path / "bot.yaml"
    config.write_text(
        "accounts:\n"
        f"  - {{name: main, broker: embedded, base_url: 'http://127.0.0.1:{port}', key_id_env: RB_KEY,"
        " secret_key_env: RB_SECRET}\n"
        "targets: {SPY: 0.6, AGG: 0.4}\n"
        f"state_dir: {state}\n"
        "web: {enabled: false}\n"
    )
    # keys long enough that the log's secret redaction does not mask letters of every line
    env = {
        **os.environ,
        "RB_KEY": "rb-test-key-0123",
        "RB_SECRET": "rb-test-secret-0123",
        "PYTHONPATH": str(ROOT),
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "-c", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        log = state / "bot.log"
        deadline = time.monotonic() + 90
        while not (log.exists() and "cannot reach the broker" in log.read_text()):
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "no line saying the bot waits for the broker"
            time.sleep(0.2)  # waiting for another process to start, not stepping market time
        assert child.poll() is None  # still running: it waits instead of exiting
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 0, err
    assert "Traceback" not in err + out + log.read_text()
    [line] = [x for x in log.read_text().splitlines() if "cannot reach the broker" in x and "waits" in x]
    assert f"http://127.0.0.1:{port}" in line
