"""Fleet mode benchmark (issue 19, item 2): households planned end to end on Dask, state in PostgreSQL.

Run from the project root (PostgreSQL's server binaries installed, as for the tests)::

    nice .venv/bin/python scripts/bench_fleet.py --households 1000 --workers 1,2,4

**The households** (seeded, ``--seed``): 1 to 4 accounts each (taxable, traditional IRA, Roth, a second
taxable), 5 to 15 of the 17 bundled ETFs that have minute data, and 50 to 500 tax lots spread over the
accounts, each bought on a random session of 2010-2019 at that session's real close (``bot/paper_broker/
data``); targets are random weights over the household's assets, so most households have drifted out of
their 3-point bands by the as-of time (2019-12-17 14:50 UTC, twenty minutes after the open). Every account
is a separate account with its own key pair on one paper broker (Trading API style), served over real HTTP.

**What is timed**: one fleet pass over every household (all are due), each a Dask task that takes the
household's lock in PostgreSQL, builds the bot (the same ``Bot``/``HouseholdBot``/pipeline as the single
bot), reads every account (account, positions, open orders, fills into the lot ledger, quotes, assets),
decides (the household optimizer) and persists (the lot ledger's fills, the plan, its approval request: the
approval mode is ``always``, so each plan is held for a person and nothing is sent; the broker is the same
for every run), then stores its outcome. Each run is on a fresh database and a fresh LocalCluster whose
workers have imported the bot (imports are a per-process cost, not a per-household one). The per-key rate
limit is on (a PostgreSQL token bucket per key, one round trip per request); no key comes near its limit.

Reported per worker count: the pass's wall time and throughput, and per household (medians) the CPU
milliseconds in the worker, the wall milliseconds of the visit and the broker requests. The paper broker
and the driver share this process; its CPU during the pass is reported too (the broker's side of the reads).
"""

from __future__ import annotations

import argparse
import gzip
import importlib
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.fleet.config import fleet_from  # noqa: E402
from bot.fleet.runner import Fleet, local_client  # noqa: E402
from bot.paper_broker.accounts import AccountsFile, AccountSpec, StartingLot, StartingPosition  # noqa: E402
from bot.paper_broker.faults import FaultConfig  # noqa: E402
from bot.paper_broker.server import ClockConfig, PaperBroker, ServerConfig  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "bot" / "paper_broker" / "data"
AS_OF = datetime(2019, 12, 17, 14, 50, tzinfo=UTC)
TYPES = ("taxable", "ira", "roth", "taxable")
FIRST_LOT, LAST_LOT = date(2010, 1, 4), date(2019, 11, 29)


def symbols() -> list[str]:
    """The bundled ETFs with minute data (the paper broker quotes them intraday)."""
    return sorted(p.name[len("minute_") : -len(".csv.gz")] for p in DATA.glob("minute_*.csv.gz"))


def closes(symbol: str) -> list[tuple[date, Decimal]]:
    rows = []
    with gzip.open(DATA / f"daily_{symbol}.csv.gz", "rt") as handle:
        next(handle)
        for line in handle:
            parts = line.split(",")
            day = date.fromisoformat(parts[0])
            if FIRST_LOT <= day <= LAST_LOT and parts[4]:  # a few funds' early rows have no close
                rows.append((day, Decimal(parts[4]).quantize(Decimal("0.01"))))
    return rows


def targets(rng: random.Random, assets: list[str]) -> dict[str, float]:
    """Random weights in whole percent, at least 2% each, summing to exactly 100%."""
    raw = [rng.random() + 0.2 for _ in assets]
    spare = 100 - 2 * len(assets)
    cents = [2 + int(spare * r / sum(raw)) for r in raw]
    cents[0] += 100 - sum(cents)
    return {a: c / 100 for a, c in zip(assets, cents, strict=True)}


def household(
    index: int, seed: int, universe: list[str], history: dict[str, list], url: str
) -> tuple[dict[str, Any], list[AccountSpec], dict[str, str]]:
    """One household: its config, its accounts on the broker, and its key variables."""
    rng = random.Random(seed * 1_000_003 + index)
    name = f"f{index:04d}"
    members = [(f"{name}-a{k}", TYPES[k]) for k in range(rng.randint(1, 4))]
    assets = rng.sample(universe, rng.randint(5, 15))
    lots: dict[tuple[str, str], list[StartingLot]] = {}
    for _ in range(rng.randint(50, 500)):
        account, _kind = rng.choice(members)
        symbol = rng.choice(assets)
        day, price = rng.choice(history[symbol])
        lots.setdefault((account, symbol), []).append(
            StartingLot(qty=Decimal(rng.randint(1, 40)), price=price, date=day)
        )
    env: dict[str, str] = {}
    specs = []
    for account, _kind in members:
        key_var, secret_var = (
            f"FB_{account.upper().replace('-', '_')}_KEY",
            f"FB_{account.upper().replace('-', '_')}_SECRET",
        )
        env[key_var], env[secret_var] = f"{account}-key", f"{account}-secret"
        positions = tuple(
            StartingPosition(symbol=s, lots=tuple(sorted(ls, key=lambda lot: lot.date)))
            for (a, s), ls in sorted(lots.items())
            if a == account
        )
        specs.append(
            AccountSpec(
                name=account,
                key_id=env[key_var],
                secret_key=env[secret_var],
                cash=Decimal(rng.randint(500, 5000)),
                positions=positions,
            )
        )
    config = {
        "accounts": [
            {
                "name": account,
                "broker": "embedded",
                "base_url": url,
                "key_id_env": f"FB_{account.upper().replace('-', '_')}_KEY",
                "secret_key_env": f"FB_{account.upper().replace('-', '_')}_SECRET",
            }
            for account, _kind in members
        ],
        "targets": targets(rng, assets),
        "bands": {"default": {"absolute": 0.03}},
        "approval": {"mode": "always"},
        "limits": {"max_order_notional": 10**6, "max_plan_notional": 10**7, "max_daily_notional": 10**7},
        "tax": {
            "rates": {"short_term": 0.35, "long_term": 0.15},
            "accounts": {account: {"type": kind} for account, kind in members},
        },
        "household": {"name": name, "accounts": [{"account": account} for account, _kind in members]},
    }
    return config, specs, env


def postgres_url(given: str | None) -> tuple[str, Any]:
    """A PostgreSQL database per run: the given server's, or a throwaway one (``tests/postgres.py``)."""
    if given is not None:
        return given, None
    from tests.postgres import PostgresServer, binaries

    bindir = binaries()
    if bindir is None:
        raise SystemExit(
            "PostgreSQL server binaries not found (apt-get install postgresql), or pass --state-url"
        )
    return "", PostgresServer(bindir).start()


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def run(
    configs: list[dict], state_url: str, workers: int, broker: PaperBroker, passes: int
) -> list[dict[str, Any]]:
    """``passes`` fleet passes on one LocalCluster and database: the first at :data:`AS_OF`, each next one a
    session later at the same time of day (the held plans expire at the close, every cycle is due again)."""
    fleet = fleet_from({"state_url": state_url, "households": configs, "workers": workers})
    client = local_client(workers)
    results = []
    try:
        client.run(importlib.import_module, "bot.fleet.task")  # imports: per process, not per household
        runner = Fleet(fleet, client)
        try:
            for n in range(passes):
                broker.advance_to(AS_OF + timedelta(days=n))
                cpu0, t0 = time.process_time(), time.perf_counter()
                visits = runner.run_pass()
                wall = time.perf_counter() - t0
                results.append(summary(visits, workers, n + 1, wall, time.process_time() - cpu0))
                print(results[-1], flush=True)
        finally:
            runner.close()
    finally:
        client.close()
        client.cluster.close()
    return results


def summary(visits: list, workers: int, number: int, wall: float, driver_cpu: float) -> dict[str, Any]:
    ok = [v for v in visits if not v.failed]
    return {
        "workers": workers,
        "pass": number,
        "households": len(visits),
        "failed": len(visits) - len(ok),
        "errors": Counter((v.error or "")[:80] for v in visits if v.failed).most_common(3),
        "actions": Counter(v.action for v in visits),
        "wall": wall,
        "rate": len(visits) / wall,
        "cpu_ms": median([v.cpu_ms for v in ok]),
        "cpu_ms_total": sum(v.cpu_ms for v in visits),
        "visit_ms": median([v.wall_ms for v in ok]),
        "requests": median([v.requests for v in ok]),
        "requests_total": sum(v.requests for v in visits),
        "rate_wait_ms": sum(v.rate_wait_ms for v in visits),
        "driver_cpu": driver_cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--households", type=int, default=1000)
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated")
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument(
        "--passes",
        type=int,
        default=1,
        help="passes per worker count, a session apart (the 2nd on: warm workers, no history to ingest)",
    )
    parser.add_argument(
        "--state-url", default=None, help="a PostgreSQL server to use (default: a throwaway one)"
    )
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]

    t0 = time.perf_counter()
    universe = symbols()
    history = {s: closes(s) for s in universe}
    built = [household(i, args.seed, universe, history, "URL") for i in range(args.households)]
    accounts = [spec for _config, specs, _env in built for spec in specs]
    lots = sum(len(p.lots) for a in accounts for p in a.positions)
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        broker = PaperBroker(
            ServerConfig(
                accounts=AccountsFile(accounts=tuple(accounts)),
                clock=ClockConfig(start=AS_OF, mode="manual"),
                database=Path(tmp) / "broker.sqlite",
                symbols=tuple(universe),
                faults=FaultConfig(rate_limit_per_minute=None),
            )
        ).start()
        url, server = postgres_url(args.state_url)
        try:
            for _config, _specs, env in built:
                os.environ.update(env)
            configs = []
            for config, _specs, _env in built:
                for account in config["accounts"]:
                    account["base_url"] = broker.url
                configs.append(config)
            print(
                f"{args.households} households, {len(accounts)} accounts, {lots} lots; "
                f"set-up {time.perf_counter() - t0:.1f} s",
                flush=True,
            )
            results = []
            for workers in counts:
                state_url = url or server.database()
                results += run(configs, state_url, workers, broker, args.passes)
        finally:
            broker.stop()
            if server is not None:
                server.stop()
    report(results, args)


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    base = results[0]["rate"]
    command = f"scripts/bench_fleet.py --households {args.households} --workers {args.workers}"
    print(f"\n{command} --passes {args.passes} --seed {args.seed}\n")
    print(
        "| workers | pass | households | failed | pass wall | households/s | vs 1st "
        "| CPU ms/household (median) | visit ms (median) | requests/household (median) "
        "| driver+broker CPU | actions |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        actions = ", ".join(f"{a} {n}" for a, n in r["actions"].most_common())
        print(
            f"| {r['workers']} | {r['pass']} | {r['households']} | {r['failed']} | {r['wall']:.1f} s "
            f"| {r['rate']:.1f} "
            f"| {r['rate'] / base:.2f}x | {r['cpu_ms']:.0f} | {r['visit_ms']:.0f} | {r['requests']:.0f} "
            f"| {r['driver_cpu']:.1f} s | {actions} |"
        )
    for r in results:
        if r["errors"]:
            print(f"workers {r['workers']}: errors {r['errors']}")


if __name__ == "__main__":
    main()
