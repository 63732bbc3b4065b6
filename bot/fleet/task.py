"""One household's visit, as a Dask task: lock it, tick the same bot the single bot runs, store the outcome.

A worker process keeps, per household, the :class:`bot.worker.Bot` it built (its HouseholdBot's caches of
assets and of the last plan carry over to the next visit) and one :class:`bot.state.store.StateStore` per
database. Nothing else survives between visits that the bot needs: when its last cycle ran comes from the
shared database (:mod:`bot.fleet.tables`), so any worker can take any household's next visit, and a worker
that is killed is replaced by one that starts from the database, as a restarted single bot does (the bot's
start-up reconciliation runs on the first visit a process makes to a household).

A visit never raises: whatever goes wrong is the household's outcome (``error`` set), stored on its row and
returned, so the fleet's other households go on. Keys are read from the worker's own environment.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from bot.adapters import adapter_for
from bot.broker.alpaca import AlpacaBroker
from bot.config import BotConfig, resolve_credentials
from bot.fleet.lock import household_lock
from bot.fleet.ratelimit import KeyBudget, key_hash
from bot.fleet.tables import ensure_tables, household_row, save_visit
from bot.household.gather import AssetCache
from bot.state.store import StateStore
from bot.worker import Bot, config_fingerprint

log = structlog.get_logger(__name__)

BUSY = "busy: another worker is visiting it"


@dataclass(frozen=True)
class HouseholdJob:
    """What a worker needs to visit one household (no secret: keys come from the worker's environment)."""

    name: str
    config: BotConfig
    rate_limit_per_minute: int | None = 200
    """None: no shared budget (a benchmark of the planning alone, or a broker with no limit)."""


@dataclass(frozen=True)
class Visit:
    """What one visit did, small enough to send back through the scheduler."""

    household: str
    action: str
    detail: str = ""
    plan_id: str | None = None
    error: str | None = None
    cpu_ms: float = 0.0
    wall_ms: float = 0.0
    requests: int = 0
    rate_wait_ms: float = 0.0
    worker: str = ""

    @property
    def failed(self) -> bool:
        return self.error is not None


class _Process:
    """This worker process's stores, bots and key budgets (built on first use, kept for later visits)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stores: dict[str, StateStore] = {}
        self.bots: dict[str, tuple[str, Bot]] = {}
        self.budgets: dict[str, KeyBudget] = {}
        self.assets: dict[str | None, AssetCache] = {}
        """Asset facts per trading API, shared by every household this process plans: whether VTI is
        tradable and fractionable does not depend on whose account asks (a household's own bot asked the
        broker once per symbol per household, 5-15 requests a visit)."""

    def store(self, url: str) -> StateStore:
        with self.lock:
            if url not in self.stores:
                self.stores[url] = StateStore(url)
                ensure_tables(self.stores[url].db)
            return self.stores[url]

    def bot(self, job: HouseholdJob, store: StateStore) -> Bot:
        fingerprint = config_fingerprint(job.config)
        with self.lock:
            kept = self.bots.get(job.name)
            if kept is not None and kept[0] == fingerprint:
                return kept[1]
        brokers = self._brokers(job, store)
        bot = Bot(job.config, brokers, store)
        if bot.household is not None:
            url = job.config.accounts[0].trading_url
            with self.lock:
                bot.household.assets = self.assets.setdefault(url, AssetCache())
        with self.lock:
            self.bots[job.name] = (fingerprint, bot)
        return bot

    def _brokers(self, job: HouseholdJob, store: StateStore) -> dict[str, AlpacaBroker]:
        brokers = {}
        for account in job.config.accounts:
            credentials = resolve_credentials(account)
            adapter = adapter_for(account, credentials)
            if job.rate_limit_per_minute is not None:
                adapter.before_send = self._budget(store, credentials.key_id, job.rate_limit_per_minute).take
            brokers[account.name] = adapter
        return brokers

    def _budget(self, store: StateStore, key_id: str, per_minute: int) -> KeyBudget:
        name = f"{store.db.describe()}|{key_hash(key_id)}|{per_minute}"
        with self.lock:
            if name not in self.budgets:
                self.budgets[name] = KeyBudget(store.db, key_id, per_minute)
            return self.budgets[name]

    def forget(self, name: str) -> None:
        """Drop a household's bot after a failure: the next visit starts afresh, as a restarted bot."""
        with self.lock:
            self.bots.pop(name, None)


PROCESS = _Process()


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def visit(job: HouseholdJob) -> Visit:
    """One tick of one household on the shared state (see the module's docstring). Never raises."""
    started_cpu, started = time.process_time(), time.perf_counter()
    me = worker_name()
    structlog.contextvars.bind_contextvars(household=job.name)
    bot: Bot | None = None
    requests_before = 0
    waited_before = 0.0
    try:
        store = PROCESS.store(str(job.config.state_url))
        with household_lock(store.db, job.name) as held:
            if not held:
                return Visit(job.name, "skipped", BUSY, worker=me)
            bot = PROCESS.bot(job, store)
            requests_before = _requests(bot)
            waited_before = _waited()
            row = household_row(store.db, job.name)
            household = bot.household
            assert household is not None  # the fleet's config check: every job is a household
            household._last_cycle = row.last_cycle_at if row is not None else None
            outcome = bot.tick().get(job.name)
            error = None
            if outcome is None:
                error = "the tick failed before the household's turn (see the worker's log)"
            elif outcome.action == "error":
                error = outcome.detail
            if error is not None:
                PROCESS.forget(job.name)
            result = Visit(
                job.name,
                outcome.action if outcome is not None else "error",
                outcome.detail if outcome is not None else "",
                outcome.plan_id if outcome is not None else None,
                error,
                worker=me,
            )
            save_visit(
                store.db,
                job.name,
                last_cycle_at=household._last_cycle,
                action=result.action,
                detail=result.detail,
                plan_id=result.plan_id,
                error=error,
                worker=me,
                now=datetime.now(UTC),
            )
    except Exception as exc:  # noqa: BLE001 - one household's failure is its outcome, never the fleet's
        log.exception("household visit failed", error=str(exc))
        PROCESS.forget(job.name)
        result = Visit(job.name, "error", error=f"{type(exc).__name__}: {exc}"[:500], worker=me)
        _save_failure(job, result)
    finally:
        structlog.contextvars.unbind_contextvars("household")
    return Visit(
        **{
            **result.__dict__,
            "cpu_ms": (time.process_time() - started_cpu) * 1000,
            "wall_ms": (time.perf_counter() - started) * 1000,
            "requests": (_requests(bot) - requests_before) if bot is not None else 0,
            "rate_wait_ms": (_waited() - waited_before) * 1000,
        }
    )


def _requests(bot: Bot | None) -> int:
    return 0 if bot is None else sum(b.request_count for b in bot.brokers.values())


def _waited() -> float:
    return sum(b.waited for b in PROCESS.budgets.values())


def _save_failure(job: HouseholdJob, result: Visit) -> None:
    """Best effort: the failure on the household's row (the database may be what failed)."""
    try:
        store = PROCESS.store(str(job.config.state_url))
        row = household_row(store.db, job.name)
        save_visit(
            store.db,
            job.name,
            last_cycle_at=row.last_cycle_at if row is not None else None,
            action="error",
            detail="",
            plan_id=None,
            error=result.error,
            worker=result.worker,
            now=datetime.now(UTC),
        )
    except Exception as exc:  # noqa: BLE001
        log.error("could not store the household's failure", error=str(exc))
