"""The unattended bot: brokers, state, reconciliation at start-up, and the scheduler loop.

``Bot`` owns one broker adapter per account, the state database and the clock that follows the broker. At
start it takes the state directory's lock (one bot per directory), reconciles with the broker (open orders
matched by client_order_id, unknown ones reported, half-executed plans resumed on the next tick) and then lets
APScheduler call ``tick`` every few wall seconds. Each tick reads the broker's clock once and gives every
account its turn; whether a cycle is due is decided on the broker's time, not on wall time.

The bot also speaks to people through :class:`bot.notify.Notifier`: a prompt with signed approve/reject links
when a plan is held, and alerts for what needs a person (a halt, repeated order rejections by the broker,
open orders it does not know at start-up, the bot stopping), plus an optional daily summary after the close.
With a ``telegram`` section, prompts (with Approve / Reject buttons) and alerts also go to the allowed chats,
through :class:`bot.chat.service.TelegramService`, which takes decisions from there too.
Services such as the web dashboard start after the state lock is taken and stop with the bot.

With a ``household`` section (issue 9) the member accounts get no cycle of their own: a
:class:`bot.household.HouseholdBot` takes its turn after the other accounts', plans them together, asks for
one approval and sends each account's orders through that account's own adapter. Accounts outside the
household keep their own cycles.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import structlog
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.adapters import adapter_for
from bot.approval.links import LinkSigner, approval_links
from bot.banner import next_check
from bot.broker.alpaca import AlpacaBroker
from bot.broker.models import BrokerClock, BrokerUnavailable
from bot.broker_watch import BROKER_FAILURES, BrokerWatch, KeysRefused, describe, keys_refused
from bot.broker_watch import FLAG as BROKER_FLAG
from bot.clock import BrokerFollowingClock, Clock
from bot.config import BotConfig, resolve_credentials, resolve_notification_urls
from bot.cycle import AccountBot, CycleOutcome
from bot.household import HouseholdBot
from bot.live_picture import read_picture, record_session, remember
from bot.notify import Notifier, render_alert, render_daily_summary, render_prompt
from bot.state.equity_history import EquityHistory
from bot.state.lock import StateLock
from bot.state.store import StateStore
from bot.trade_notices import fill_notices, plan_summary, wanted
from bot.turn import NEW_YORK

if TYPE_CHECKING:
    from bot.chat.service import TelegramService

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
        brokers[account.name] = adapter_for(account, credentials)
    return Connections(brokers, embedded, secrets)


def start_embedded(config: BotConfig, speed: bool = True):  # noqa: ANN201 - PaperBroker (imported lazily)
    """Start the paper broker in-process, hosting one account per ``embedded`` account of the config."""
    from bot.paper_broker.accounts import AccountsFile
    from bot.paper_broker.faults import FaultConfig
    from bot.paper_broker.server import ClockConfig, PaperBroker, ServerConfig

    embedded = config.embedded
    specs = tuple(
        _embedded_spec(config, a.name)
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


def _embedded_spec(config: BotConfig, name: str):  # noqa: ANN202 - AccountSpec (imported lazily)
    """One embedded account: its keys, and its starting cash and lots from ``embedded.accounts``."""
    from bot.paper_broker.accounts import AccountSettings, AccountSpec, StartingLot, StartingPosition

    own = config.embedded.accounts.get(name)
    cash = own.cash if own is not None and own.cash is not None else config.embedded.cash
    positions = tuple(
        StartingPosition(
            symbol=symbol,
            lots=tuple(StartingLot(qty=lot.qty, price=lot.price, date=lot.date) for lot in lots),
        )
        for symbol, lots in (own.positions if own is not None else {}).items()
    )
    return AccountSpec(
        name=name,
        key_id=EMBEDDED_KEY.format(name=name),
        secret_key=EMBEDDED_SECRET.format(name=name),
        cash=cash,
        positions=positions,
        settings=AccountSettings(account_type=config.household_type(name)),
    )


def build_notifier(config: BotConfig, environ: Mapping[str, str] | None = None) -> tuple[Notifier, list[str]]:
    """The notifier for the config's Apprise URLs (``${VAR}`` resolved), and the values to redact from
    logs."""
    urls, secrets = resolve_notification_urls(config.notifications.urls, environ)
    return Notifier(urls, retries=config.notifications.retries), secrets


class Bot:
    """All accounts of one config, ticked together on the broker's time."""

    def __init__(
        self,
        config: BotConfig,
        brokers: Mapping[str, AlpacaBroker],
        store: StateStore,
        clock: Clock | None = None,
        notifier: Notifier | None = None,
        signer: LinkSigner | None = None,
        base_url: str | None = None,
        wall: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.brokers = dict(brokers)
        self.store = store
        self.clock = clock or BrokerFollowingClock()
        self.notifier = notifier or Notifier([])
        self.signer = signer
        """Signs the approve/reject links in prompts (and the dashboard's sessions)."""
        self.base_url = base_url
        """The dashboard's URL as people reach it; None: prompts carry CLI instructions instead of links."""
        self.chat: TelegramService | None = None
        """The Telegram front-end while it runs (``telegram`` in the config): prompts with buttons, alerts."""
        members = set(config.household.names) if config.household is not None else set()
        self.accounts = {
            a.name: AccountBot(
                config, a, self.brokers[a.name], store, self.clock, on_held=self.prompt, on_alert=self.alert
            )
            for a in config.accounts
            if a.name not in members
        }
        """The accounts kept on target on their own (a household's members are not: they are planned
        together by ``household``)."""
        self.household: HouseholdBot | None = None
        if config.household is not None:
            self.household = HouseholdBot(
                config,
                {name: self.brokers[name] for name in members},
                store,
                self.clock,
                on_held=self.prompt,
                on_alert=self.alert,
            )
        self.run_id: str | None = None
        self.tick_seconds: float | None = None
        self.last_tick: float | None = None
        """Wall time (Unix) the last tick finished, for the health check."""
        self._halt_alerted = False
        self._audit_seen = 0
        self._rejections: dict[tuple[str, date], int] = {}
        self._was_open: bool | None = None
        self._session_day: date | None = None
        """The New York date of the session last seen open: the day its close is recorded under."""
        self._market_seen: bool | None = None
        self._reconciled = False
        self.watch = BrokerWatch(config, store, self.alert, wall)
        """Whether the broker answers; the pause before the next try while it does not."""

    @property
    def primary(self) -> AlpacaBroker:
        return self.brokers[self.config.accounts[0].name]

    def start(self, kind: str = "run") -> str:
        self.run_id = self.store.start_run(kind, config_fingerprint(self.config))
        latest = self.store.audit_trail(limit=1)
        self._audit_seen = latest[0].id if latest else 0
        try:
            self.reconcile()
        except BROKER_FAILURES as exc:
            if keys_refused(exc):  # nothing changes until a person fixes the keys: stop, saying which
                line = describe(exc, self.config)
                log.error("broker: " + line)
                self.finish("failed", {"reason": line})
                raise KeysRefused(line) from exc
            self.watch.failed(exc)  # the bot starts and waits; the tick reconciles once the broker answers
        return self.run_id

    def reconcile(self) -> None:
        """Match the broker's open orders with ours; report the ones we do not know (log, audit, alert)."""
        unknown: list[str] = []
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
                    unknown.append(f"{name}: {order.client_order_id} {order.side} {order.symbol}")
                else:
                    known += 1
            unfinished = self.store.unfinished_plans(name)
            log.info(
                "reconciled with the broker",
                account=name,
                open_orders_known=known,
                plans_to_resume=[p.plan_id for p in unfinished],
            )
        if unknown:
            self.alert(
                "open orders the bot does not know",
                [
                    "At start-up the broker has open orders the bot did not send (by hand, or by another",
                    "program). The bot leaves them alone, but they change what it plans. Check them:",
                    *[f"  {line}" for line in unknown],
                ],
                topic="reconciliation",
            )
        self._reconciled = True

    def tick(self) -> dict[str, CycleOutcome]:
        """One turn for every account, on one reading of the broker's clock. Nothing raises out of a tick
        (APScheduler would only log it): a broker that does not answer makes the bot wait, anything else is
        logged and the next tick tries again."""
        try:
            return self._tick()
        except KeysRefused as exc:  # keys refused after the start: wait like for any outage, and say so
            self.watch.failed(exc.__cause__ or exc)
            return self._waiting()
        except Exception as exc:  # noqa: BLE001 - see the docstring
            log.exception("tick failed", error=str(exc))
            return {}
        finally:
            self.last_tick = time.time()

    def _waiting(self) -> dict[str, CycleOutcome]:
        names = [*self.accounts, *([self.household.name] if self.household is not None else [])]
        return {
            name: CycleOutcome("waiting for the broker", detail=self.watch.reason or "") for name in names
        }

    def _tick(self) -> dict[str, CycleOutcome]:
        if self.run_id is None:
            self.start()
        if not self.watch.due():
            return self._waiting()
        try:
            if not self._reconciled:
                self.reconcile()
            broker_clock = self.primary.clock()
        except BROKER_FAILURES as exc:
            self.watch.failed(exc)
            return self._waiting()
        self.watch.answered()
        observe = getattr(self.clock, "observe", None)
        if observe is not None:
            observe(broker_clock.timestamp, broker_clock.is_open)
        if broker_clock.is_open != self._market_seen:  # the heartbeat: say when the market opens or closes
            self._market_seen = broker_clock.is_open
            log.info(
                "market open; cycles run on the schedule"
                if broker_clock.is_open
                else "market closed; waiting",
                next_check=next_check(self.config, broker_clock),
            )
        outcomes = {}
        turns = [(name, account_bot.tick) for name, account_bot in self.accounts.items()]
        if self.household is not None:
            turns.append((self.household.name, self.household.tick))
        for name, turn in turns:
            try:
                outcomes[name] = turn(broker_clock, self.run_id or "")
            except BROKER_FAILURES as exc:
                if not (isinstance(exc, BrokerUnavailable) or keys_refused(exc)):
                    log.exception("tick failed", account=name, error=str(exc))
                    outcomes[name] = CycleOutcome("error", detail=str(exc))
                    continue
                # the broker went away mid-turn: an outage like one seen at the clock (flag, alert, pause)
                outcomes[name] = CycleOutcome("waiting for the broker", detail=self.watch.failed(exc))
            except Exception as exc:  # one account's failure must not stop the others or the bot
                log.exception("tick failed", account=name, error=str(exc))
                outcomes[name] = CycleOutcome("error", detail=str(exc))
        for outcome in outcomes.values():
            if outcome.plan_id and outcome.action in ("plan executing", "plan done"):
                self.plan_moved(outcome.plan_id)
        closed_now = bool(self._was_open) and not broker_clock.is_open
        self._was_open = broker_clock.is_open
        if broker_clock.is_open:
            self._session_day = broker_clock.timestamp.astimezone(NEW_YORK).date()
        elif closed_now and self._session_day is not None:
            self.record_session(self._session_day)
        try:
            self._watch(broker_clock, closed_now)
        except Exception as exc:  # noqa: BLE001 - alerts are a courtesy; trading goes on without them
            log.error("alert check failed", error=str(exc))
        return outcomes

    def plan_moved(self, plan_id: str) -> None:
        """A plan traded this tick: tell people about its completed orders (``notifications.fills``) and,
        once it is done, send its summary and keep a fresh picture of its accounts for ``status``."""
        plan = self.store.get_plan(plan_id)
        if plan is None:
            return
        try:
            if self.notifier.enabled and wanted(self.config, "fill"):
                for message in fill_notices(self.store, plan):
                    self.notifier.send(message)
            if plan.status != "done":
                return
            if self.notifier.enabled and wanted(self.config, "plan"):
                message = plan_summary(self.store, plan)
                if message is not None:
                    self.notifier.send(message)
            for name in self._accounts_of(plan.account):
                remember(self.store, read_picture(self.config, name, self.brokers[name]))
        except Exception as exc:  # noqa: BLE001 - a message or a picture is not a reason to stop trading
            log.error("could not report on the plan", plan_id=plan_id, error=str(exc))

    def _accounts_of(self, owner: str) -> list[str]:
        if self.household is not None and owner == self.household.name:
            return list(self.config.household.names)  # type: ignore[union-attr]
        return [owner] if owner in self.brokers else []

    def record_session(self, day: date) -> None:
        """The session's row of the equity history, per account, read from the broker just after the close
        (once per session: a row already there is kept). A broker failing here costs the row, not a tick."""
        for name, broker in self.brokers.items():
            try:
                picture = read_picture(self.config, name, broker)
                if record_session(self.store, picture, day):
                    log.info(
                        "session recorded", account=name, day=day.isoformat(), equity=str(picture.equity)
                    )
            except Exception as exc:  # noqa: BLE001 - the history is a record, not a reason to stop
                log.error("could not record the session's equity", account=name, error=str(exc))

    # -- people --------------------------------------------------------------------------------------------
    def prompt(self, plan_id: str) -> None:
        """Send the approval prompt for a held plan, with signed approve/reject links when the dashboard
        runs."""
        plan = self.store.get_plan(plan_id)
        if plan is None:
            return
        approval = self.store.get_approval(plan_id)
        links = None
        if self.signer is not None and self.base_url:
            links = approval_links(
                self.signer, self.base_url, plan_id, plan.content_hash, self.config.web.link_hours * 3600
            )
        channels = 0
        if self.chat is not None:  # with Approve / Reject buttons (bot/chat/service.py says why not Apprise)
            self.chat.prompt(plan_id)
            channels += len(self.chat.settings.allowed_chats)
        if self.notifier.enabled:
            self.notifier.send(render_prompt(plan, approval, links, self.base_url))
            channels += len(self.notifier.urls)
        if not channels:
            log.info(
                "no notification channel configured; decide on the dashboard or with the CLI", plan_id=plan_id
            )
            return
        self.store.audit("approval_prompted", account=plan.account, plan_id=plan_id, channels=channels)

    def alert(self, title: str, lines: Sequence[str], topic: str, kind: str = "warning") -> None:
        """An alert that needs a person, on every notification channel (and in the log); a kind switched
        off in ``notifications`` (refusals) goes to the log only."""
        log.warning("alert", topic=topic, title=title)
        if not wanted(self.config, topic):
            log.info("alert not sent: its kind is switched off in notifications", topic=topic)
            return
        self.notifier.send(render_alert(title, lines, kind, topic))
        if self.chat is not None:
            self.chat.alert(title, lines)

    def _watch(self, broker_clock: BrokerClock, closed_now: bool) -> None:
        """Alerts that come from the state: a halt, repeated rejections; the daily summary after the close."""
        halted = self.store.get_flag("halted")
        if halted and not self._halt_alerted:
            self.alert(
                "halted",
                [
                    f"The bot is halted ({halted}): it sends nothing and cancels its open orders.",
                    "Undo with: rebalance-bot resume",
                ],
                topic="halt",
                kind="failure",
            )
        self._halt_alerted = bool(halted)
        # this bot's accounts only: a fleet's households share one state, each alerts about its own
        rejected = self.store.audit_trail(limit=200, event="order_rejected", account=tuple(self.brokers))
        fresh = [e for e in rejected if e.id > self._audit_seen]
        latest = self.store.audit_trail(limit=1)
        self._audit_seen = max(self._audit_seen, latest[0].id if latest else 0)
        day = broker_clock.timestamp.date()
        threshold = self.config.notifications.rejections_alert
        for event in fresh:
            key = (event.account or "", day)
            self._rejections[key] = self._rejections.get(key, 0) + 1
            if self._rejections[key] == threshold:
                self.alert(
                    f"the broker rejected {threshold} orders of {event.account} today",
                    [
                        f"The broker has rejected {threshold} orders of account {event.account} today; the",
                        f"latest: {event.client_order_id}: {event.fields.get('error', '')}",
                        "Look at: rebalance-bot logs --level warning",
                    ],
                    topic="rejections",
                )
        if closed_now and self.config.notifications.daily_summary:
            self.send_daily_summary(day)

    def send_daily_summary(self, day: date) -> None:
        """The day in a few lines; each account's equity, P&L and weights from the close just recorded (the
        equity history), not from the last cycle's reading, which may predate the day's trades."""
        # this bot's own plans, orders and approvals: a fleet's households share one state
        owners = tuple(self.brokers) + ((self.household.name,) if self.household is not None else ())
        plans = [p for p in self.store.plans(account=owners, limit=200) if p.created_at.date() == day]
        orders = [
            o
            for o in self.store.orders(account=tuple(self.brokers), limit=500)
            if o.submitted_at is not None and o.submitted_at.date() == day
        ]
        held = {p.plan_id for p in self.store.plans(account=owners, status="held", limit=1000)}
        pending = [a for a in self.store.pending_approvals() if a.plan_id in held]
        history = EquityHistory(self.store)
        closes = [
            d for a in self.brokers for d in history.days(account=a, limit=1) if d.day == self._session_day
        ]
        message = render_daily_summary(day, plans, orders, pending, closes, self.store.get_flag("halted"))
        self.notifier.send(message)

    def health(self) -> dict:
        """For the dashboard's /health: is the scheduler ticking, and can it trade? A bot that ticks while
        its broker does not answer is ``broker down`` (with the reason ``status`` shows), so a service
        monitor sees the outage as well as the person who got the alert."""
        age = None if self.last_tick is None else time.time() - self.last_tick
        limit = max(60.0, 10 * (self.tick_seconds or 15.0))
        ticking = age is not None and age <= limit
        broker_down = self.store.get_flag(BROKER_FLAG)
        return {
            "status": "stale" if not ticking else "broker down" if broker_down else "ok",
            "last_tick_seconds_ago": None if age is None else round(age, 1),
            "broker": {"up": broker_down is None, "problem": broker_down},
            "halted": bool(self.store.get_flag("halted")),
            "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }

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


class Service(Protocol):
    """Something that runs beside the bot (the web dashboard): started after the lock, stopped at the end."""

    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...


def _shut_down_on(stop: threading.Event, scheduler: BlockingScheduler) -> None:
    """Stop ``scheduler`` once ``stop`` is set, also when it is set before the scheduler has started."""
    stop.wait()
    for _ in range(600):  # the scheduler starts right after its job is added; give up after 30 s
        if scheduler.running:
            scheduler.shutdown(wait=False)
            return
        time.sleep(0.05)


def run_forever(
    bot: Bot,
    state_dir: Path,
    every: float,
    stop: threading.Event | None = None,
    services: Sequence[Service] = (),
    on_started: Callable[[], None] | None = None,
) -> None:
    """Run the bot under APScheduler until SIGINT/SIGTERM (or ``stop``), holding the state dir's lock.
    ``on_started`` runs once the bot and its services have started (``run`` prints its banner there)."""
    with StateLock(state_dir, database=bot.store.db):
        scheduler = BlockingScheduler(timezone="UTC")
        stopping: dict[str, str | None] = {"signal": None}

        def _stop(signum, _frame) -> None:  # noqa: ANN001
            stopping["signal"] = signal.Signals(signum).name
            log.info("stopping on signal", signal=stopping["signal"])
            if scheduler.running:
                scheduler.shutdown(wait=False)

        # handlers first: a SIGTERM while the bot starts (e.g. waiting for a broker that is down) must stop it
        # cleanly, not kill it before it has recorded that it stopped
        in_main_thread = threading.current_thread() is threading.main_thread()
        previous = (
            {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
            if in_main_thread
            else {}
        )
        bot.tick_seconds = every
        started: list[Service] = []
        try:
            bot.start("run")
        except BaseException:
            # nothing started (e.g. the broker refused the keys): the caller says why in one line
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            raise
        try:
            for service in services:
                if stopping["signal"]:
                    break
                try:
                    service.start()
                    started.append(service)
                except Exception as exc:  # noqa: BLE001 - the bot trades without its dashboard
                    log.error(
                        "service did not start; the bot runs without it", service=service.name, error=str(exc)
                    )
                    bot.alert(f"{service.name} did not start", [f"{service.name}: {exc}"], topic="service")
            if on_started is not None and not stopping["signal"]:
                on_started()
            scheduler.add_job(
                bot.tick,
                IntervalTrigger(seconds=every),
                max_instances=1,
                coalesce=True,
                id="tick",
                misfire_grace_time=None,
            )
            if stop is not None:
                threading.Thread(target=_shut_down_on, args=(stop, scheduler), daemon=True).start()
            if not stopping["signal"] and not (stop is not None and stop.is_set()):
                log.info("bot running", tick_seconds=every, accounts=list(bot.accounts))
                scheduler.start()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            bot.finish("stopped", {"signal": stopping["signal"]})
            log.info("bot stopped")
            bot.alert(
                "the bot stopped",
                [f"rebalance-bot stopped ({stopping['signal'] or 'on request'}): nothing trades now"],
                topic="stopped",
            )
            for service in reversed(started):
                try:
                    service.stop()
                except Exception as exc:  # noqa: BLE001
                    log.error("service did not stop cleanly", service=service.name, error=str(exc))
            bot.notifier.close(timeout=15)
