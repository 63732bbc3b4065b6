"""The fleet's passes: which households are due, one Dask task each, outcomes collected one by one.

A pass reads the broker's clock once (through the first household's first account, on its key's budget),
asks the shared database which households are due (:func:`due_households`) and submits a task per household
(:func:`bot.fleet.task.visit`). Outcomes are taken as each task finishes (``as_completed``): a household
that fails, is slow or waits for an approval holds up none of the others, and a task whose worker died is
that household's failure for this pass (Dask retries it on another worker first; the household lock and the
bot's intent rows make the retry safe).

Without a Dask client (``client=None``) the visits run one after another in this process: the crash test's
worker processes and ``--workers 0`` use that.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any

import structlog

from bot.adapters import adapter_for
from bot.broker.models import BrokerClock
from bot.config import resolve_credentials
from bot.fleet.config import FleetConfig
from bot.fleet.ratelimit import KeyBudget
from bot.fleet.tables import ensure_tables, household_rows, owners_with_plans
from bot.fleet.task import HouseholdJob, Visit, visit
from bot.state.store import StateStore
from bot.turn import cycle_due

log = structlog.get_logger(__name__)


def due_households(fleet: FleetConfig, store: StateStore, clock: BrokerClock) -> list[str]:
    """Households to visit now: those with a plan still in flight or held (to drive or expire it), and
    those whose next cycle is due on the broker's clock since the last one the database records."""
    rows = household_rows(store.db)
    owner_of: dict[str, str] = {}
    for name, config in fleet.households.items():
        owner_of[name] = name
        owner_of.update({account: name for account in config.household.names})  # type: ignore[union-attr]
    waiting = owners_with_plans(store.db, owner_of)
    due = []
    for name, config in fleet.households.items():
        row = rows.get(name)
        if name in waiting or cycle_due(config.schedule, clock, row.last_cycle_at if row else None):
            due.append(name)
    return due


class Fleet:
    """A fleet on its shared state; ``client``: a ``dask.distributed.Client`` or None (visits in process)."""

    def __init__(
        self,
        fleet: FleetConfig,
        client: Any = None,
        *,
        rate_limit: bool = True,
        clock: Callable[[], BrokerClock] | None = None,
    ) -> None:
        self.fleet = fleet
        self.client = client
        self.store = StateStore(fleet.settings.state_url)
        ensure_tables(self.store.db)
        self.per_minute = fleet.settings.rate_limit_per_minute if rate_limit else None
        self.clock = clock or self._clock_reader()

    def _clock_reader(self) -> Callable[[], BrokerClock]:
        first = next(iter(self.fleet.households.values()))
        account = first.accounts[0]
        credentials = resolve_credentials(account)
        adapter = adapter_for(account, credentials)
        if self.per_minute is not None:
            adapter.before_send = KeyBudget(self.store.db, credentials.key_id, self.per_minute).take
        return adapter.clock

    def jobs(self, names: Iterable[str]) -> list[HouseholdJob]:
        return [HouseholdJob(n, self.fleet.households[n], self.per_minute) for n in names]

    def run_pass(self, names: Iterable[str] | None = None) -> list[Visit]:
        """Visit every due household once (or ``names``); their outcomes in the order they finished."""
        if names is None:
            names = due_households(self.fleet, self.store, self.clock())
        jobs = self.jobs(names)
        if not jobs:
            return []
        visits = self._inline(jobs) if self.client is None else self._distributed(jobs)
        for v in visits:
            if v.failed:
                log.error("household failed", household=v.household, error=v.error)
            else:
                log.info("household visited", household=v.household, action=v.action, plan_id=v.plan_id)
        return visits

    def _inline(self, jobs: list[HouseholdJob]) -> list[Visit]:
        return [visit(job) for job in jobs]

    def _distributed(self, jobs: list[HouseholdJob]) -> list[Visit]:
        from distributed import as_completed

        tag = uuid.uuid4().hex[:8]
        futures = {
            self.client.submit(visit, job, key=f"visit-{job.name}-{tag}", pure=False): job.name
            for job in jobs
        }
        visits = []
        for future in as_completed(futures):
            name = futures[future]
            try:
                visits.append(future.result())
            except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker: this household's failure only
                visits.append(Visit(name, "error", error=f"{type(exc).__name__}: {exc}"[:500]))
            future.release()
        return visits

    def close(self) -> None:
        self.store.close()


def local_client(workers: int) -> Any:
    """A Dask client on a LocalCluster of ``workers`` single-threaded processes (the bot's planning is
    Python and HiGHS: processes, not threads, use the cores)."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,  # no web dashboard: a second fleet (or a test) would fight over port 8787
    )
    return Client(cluster)
