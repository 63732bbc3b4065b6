"""The unattended bot: brokers, state, reconciliation at start-up, and the scheduler loop.

``Bot`` owns one broker adapter per account, the state database and the clock that follows the broker. At
start it takes the state directory's lock (one bot per directory), reconciles with the broker (open orders
matched by client_order_id, unknown ones reported, half-executed plans resumed on the next tick) and then lets
APScheduler call ``tick`` every few wall seconds. Each tick reads the broker's clock once and gives every
account its turn; whether a cycle is due is decided on the broker's time, not on wall time.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import structlog
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.broker.alpaca import AlpacaBroker
from bot.clock import BrokerFollowingClock, Clock
from bot.config import BotConfig, resolve_credentials
from bot.cycle import AccountBot, CycleOutcome
from bot.state.lock import StateLock
from bot.state.store import StateStore

log = structlog.get_logger(__name__)

# A tick still running when the next is due is skipped on purpose (max_instances=1); APScheduler would log
# each skip as a warning, which at sub-second ticks buries everything else in the log.
logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)

EMBEDDED_KEY = "embedded-{name}-key"
EMBEDDED_SECRET = "embedded-{name}-secret"


@dataclass
class Connections:
    """Broker adapters per account, and the embedded paper broker when the bot started one."""

    brokers: dict[str, AlpacaBroker]
    embedded: object | None = None
    secrets: list[str] = field(default_factory=list)

    def close(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()


def connect(config: BotConfig, environ: Mapping[str, str] | None = None, speed: bool = True) -> Connections:
    """Build an adapter per account; start the embedded paper broker if an account needs it."""
    brokers: dict[str, AlpacaBroker] = {}
    secrets: list[str] = []
    embedded = None
    for account in config.accounts:
        if account.broker == "embedded" and account.base_url is None:
            if embedded is None:
                embedded = start_embedded(config, speed=speed)
            key, secret = EMBEDDED_KEY.format(name=account.name), EMBEDDED_SECRET.format(name=account.name)
            brokers[account.name] = AlpacaBroker(key, secret, trading_url=embedded.url)
            continue
        credentials = resolve_credentials(account, environ)
        secrets += [credentials.key_id, credentials.secret_key]
        brokers[account.name] = AlpacaBroker(
            credentials.key_id,
            credentials.secret_key,
            trading_url=account.trading_url,
            paper=account.broker != "alpaca_live",
        )
    return Connections(brokers, embedded, secrets)


def start_embedded(config: BotConfig, speed: bool = True):  # noqa: ANN201 - PaperBroker (imported lazily)
    """Start the paper broker in-process, hosting one account per ``embedded`` account of the config."""
    from bot.paper_broker.accounts import AccountsFile, AccountSpec
    from bot.paper_broker.faults import FaultConfig
    from bot.paper_broker.server import ClockConfig, PaperBroker, ServerConfig

    embedded = config.embedded
    specs = tuple(
        AccountSpec(
            name=a.name,
            key_id=EMBEDDED_KEY.format(name=a.name),
            secret_key=EMBEDDED_SECRET.format(name=a.name),
            cash=embedded.cash,
        )
        for a in config.accounts
        if a.broker == "embedded" and a.base_url is None
    )
    server = ServerConfig(
        accounts=AccountsFile(accounts=specs),
        # Alpaca's 200 requests/minute counts wall minutes, while the embedded market runs hours per wall
        # second: the limit would throttle a bot that is far below it in market time. Tests cover the limit.
        faults=FaultConfig(rate_limit_per_minute=None),
        database=embedded.database or Path(config.state_dir) / "paper-broker.sqlite",
        clock=ClockConfig(
            mode="speed" if speed else "manual",
            start=embedded.start,
            session_seconds=embedded.session_seconds,
            closed_seconds=embedded.closed_seconds,
        ),
    )
    return PaperBroker(server).start()


class Bot:
    """All accounts of one config, ticked together on the broker's time."""

    def __init__(
        self,
        config: BotConfig,
        brokers: Mapping[str, AlpacaBroker],
        store: StateStore,
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self.brokers = dict(brokers)
        self.store = store
        self.clock = clock or BrokerFollowingClock()
        self.accounts = {
            a.name: AccountBot(config, a, self.brokers[a.name], store, self.clock) for a in config.accounts
        }
        self.run_id: str | None = None

    @property
    def primary(self) -> AlpacaBroker:
        return self.brokers[self.config.accounts[0].name]

    def start(self, kind: str = "run") -> str:
        self.run_id = self.store.start_run(kind, config_fingerprint(self.config))
        self.reconcile()
        return self.run_id

    def reconcile(self) -> None:
        """Match the broker's open orders with ours; report the ones we do not know."""
        for name, broker in self.brokers.items():
            known = 0
            for order in broker.open_orders():
                record = self.store.get_order(order.client_order_id)
                if record is None:
                    log.warning(
                        "open order unknown to the bot",
                        account=name,
                        client_order_id=order.client_order_id,
                        symbol=order.symbol,
                        side=order.side,
                    )
                    self.store.audit(
                        "unknown_open_order",
                        account=name,
                        client_order_id=order.client_order_id,
                        symbol=order.symbol,
                        side=order.side,
                    )
                else:
                    known += 1
            unfinished = self.store.unfinished_plans(name)
            log.info(
                "reconciled with the broker",
                account=name,
                open_orders_known=known,
                plans_to_resume=[p.plan_id for p in unfinished],
            )

    def tick(self) -> dict[str, CycleOutcome]:
        """One turn for every account, on one reading of the broker's clock."""
        if self.run_id is None:
            self.start()
        broker_clock = self.primary.clock()
        observe = getattr(self.clock, "observe", None)
        if observe is not None:
            observe(broker_clock.timestamp, broker_clock.is_open)
        outcomes = {}
        for name, account_bot in self.accounts.items():
            try:
                outcomes[name] = account_bot.tick(broker_clock, self.run_id or "")
            except Exception as exc:  # one account's failure must not stop the others or the bot
                log.exception("tick failed", account=name, error=str(exc))
                outcomes[name] = CycleOutcome("error", detail=str(exc))
        return outcomes

    def finish(self, status: str, summary: dict | None = None) -> None:
        if self.run_id is not None:
            self.store.finish_run(self.run_id, status, summary or {})


def config_fingerprint(config: BotConfig) -> str:
    import hashlib

    return hashlib.sha256(config.model_dump_json().encode()).hexdigest()[:16]


def tick_seconds(config: BotConfig, connections: Connections) -> float:
    """How often the scheduler wakes (wall seconds): often enough to see every cycle on the broker's time."""
    if connections.embedded is None:
        return 15.0
    session_minutes = 390
    cycles = max(session_minutes / config.schedule.interval_minutes, 1)
    return min(15.0, max(0.05, config.embedded.session_seconds / cycles / 4))


def run_forever(bot: Bot, state_dir: Path, every: float, stop: threading.Event | None = None) -> None:
    """Run the bot under APScheduler until SIGINT/SIGTERM (or ``stop``), holding the state dir's lock."""
    with StateLock(state_dir):
        bot.start("run")
        scheduler = BlockingScheduler(timezone="UTC")
        scheduler.add_job(
            bot.tick,
            IntervalTrigger(seconds=every),
            max_instances=1,
            coalesce=True,
            id="tick",
            misfire_grace_time=None,
        )
        stopping = {"signal": None}

        def _stop(signum, _frame) -> None:  # noqa: ANN001
            stopping["signal"] = signal.Signals(signum).name
            log.info("stopping on signal", signal=stopping["signal"])
            scheduler.shutdown(wait=False)

        in_main_thread = threading.current_thread() is threading.main_thread()
        previous = (
            {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
            if in_main_thread
            else {}
        )
        if stop is not None:
            threading.Thread(
                target=lambda: (stop.wait(), scheduler.shutdown(wait=False)), daemon=True
            ).start()
        try:
            log.info("bot running", tick_seconds=every, accounts=list(bot.accounts))
            scheduler.start()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            bot.finish("stopped", {"signal": stopping["signal"]})
            log.info("bot stopped")
