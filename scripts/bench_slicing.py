"""Order slicing benchmark (issues 6 and 18): one market order vs the same order sliced, on the paper broker.

**Cost model** (issue 18): the calibrated one the backtester and the decision share. Spreads per symbol from
``bot/paper_broker/data/costs.json`` (Abdi-Ranaldo on the bundled real 1-minute bars, floored at one tick:
``scripts/calibrate_costs.py``), and the square-root impact law ``Y sigma_daily sqrt(Q / ADV)`` with the
literature's ``Y = 0.7`` (``strategies.costs.DEFAULT_IMPACT_COEFFICIENT``: Toth et al. 2011, Almgren et al.
2005). How the impact of successive child orders adds up is the paper broker's own modelling choice, not a
published calibration: each fill is charged the law on its size plus the account's recent same-side volume in
that symbol, which decays exponentially with a 30-minute half-life (transient impact with exponential
resilience, as in Obizhaeva & Wang 2013, "Optimal trading strategy and supply/demand dynamics", J. Financial
Markets 16(1)). With no decay (an infinite half-life) every share of a day's campaign would pay the law on
the whole campaign and slicing would save nothing but the spread; with instant decay, slicing would pay
the law on each child alone. The saving measured here is therefore a consequence of that assumption.

Run from the project root: ``python scripts/bench_slicing.py [--quick] [--append BENCHMARKS.md]``.

For every (symbol, start day) a fresh paper broker engine replays that day on the bundled *real* minute bars
(prices and volumes, Dec 2019 - Jan 2020) and hosts one account per (order size, execution variant, side).
Each account runs the bot's real ``PlanExecutor`` (the code ``rebalance-bot run`` uses, with its state
database) on a one-order plan: buy or sell ``size x ADV`` shares, ADV being the 20-session average the
executor itself reads from the daily bars. The executor is ticked once a simulated minute from 09:45 New York
time. Variants:

* ``single``: one market order (the order timeout is lifted so that it is not canceled while it fills);
* ``twap-mkt``: the TWAP policy with market children (no collar): the effect of slicing alone;
* ``twap-lim``: the TWAP policy as configured by default (limit children at mid +/- 2 half-spreads,
  re-priced after 2 minutes) - what ``policy: auto`` uses for orders of 0.5% of ADV and more.

All variants use the default participation cap (10% of the volume of each child's interval) and deadline
(15 minutes before the close). What a plan leaves at its deadline (or a single order at the close) is
planned again at 09:45 the next session, as the bot's next cycle would, until the order is complete (at most
``MAX_SESSIONS`` sessions); the shortfall of the whole campaign is measured against the first arrival mid.

Implementation shortfall is the executed average price against the arrival mid, in bp, positive = cost. On
one day the price path is the same for every variant, but its drift over a long execution is noise far larger
than the costs compared here (sigma_daily is 20-90 bp for these ETFs). So each (symbol, day, size, variant) is
run as a buy AND as a sell in separate accounts (the paper broker's impact is per account), and the cost is
the mean of the two shortfalls: the drift cancels between them and what is left is what the execution paid
(half-spread + impact). The table shows medians of that paired cost over symbols x days.

The broker adapter is the real ``AlpacaBroker`` with its HTTP transport (``_once``) replaced by direct calls
into the paper broker engine through the same JSON serialisers as the HTTP server (the benchmark sends
~10^6 requests; over loopback HTTP it would take hours). The e2e tests cover the HTTP path.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from bot.broker.alpaca import AlpacaBroker
from bot.broker.models import BrokerError
from bot.cost_table import calibrated_spread
from bot.execution import ExecutionSettings, PlanExecutor
from bot.paper_broker import errors as paper_errors
from bot.paper_broker.accounts import AccountsFile, AccountSpec, StartingLot, StartingPosition
from bot.paper_broker.bar_pages import bars_page
from bot.paper_broker.calendar import TradingCalendar
from bot.paper_broker.engine import PaperBrokerEngine
from bot.paper_broker.market import SimMarket
from bot.paper_broker.market_routes import bars_query
from bot.paper_broker.marketdata import MarketData
from bot.paper_broker.matching import MatchingConfig
from bot.paper_broker.serialize import account_json, order_json, ts, ts_new_york
from bot.paper_broker.store import BrokerStore
from bot.slicing.policies import SlicingSettings, TwapPolicy, choose_policy
from bot.state.store import StateStore
from strategies.costs import IMPACT_SOURCE

NEW_YORK = ZoneInfo("America/New_York")
SIZES = (0.001, 0.01, 0.05, 0.10)
SYMBOLS = ("SPY", "VTI", "TIP", "SCHB")
"""Two liquid ETFs (SPY, VTI) and two less liquid ones (TIP: a tenth of SPY's dollar volume and a wider
spread in ticks; SCHB: a $75 fund with a 1.3 bp tick), all with real minute bars on every day below."""
DAYS = (
    date(2019, 12, 17),
    date(2019, 12, 18),
    date(2019, 12, 19),
    date(2019, 12, 20),
    date(2019, 12, 23),
)
"""The sessions on which all four have real 1-minute bars (VTI's bundled minutes stop on 2019-12-24)."""
QUICK_SYMBOLS, QUICK_DAYS = ("SPY", "TIP"), (date(2019, 12, 17), date(2019, 12, 19))
VARIANTS = {
    "single": SlicingSettings(policy="single"),
    "twap-mkt": SlicingSettings(policy="twap", twap=TwapPolicy(collar_half_spreads=None)),
    "twap-lim": SlicingSettings(policy="twap", twap=TwapPolicy()),
}
SIDES = ("buy", "sell")
START_AFTER_OPEN = timedelta(minutes=15)
MAX_SESSIONS = 5
CASH_BUFFER = Decimal("0.005")


# -- the paper broker, in process ----------------------------------------------------------------------------
class InProcessBroker(AlpacaBroker):
    """The bot's adapter with its one HTTP call (``_once``) answered by the engine directly, through the
    serialisers the HTTP server uses. Everything else (parsing, retries, submit-exactly-once) is unchanged."""

    def __init__(self, engine: PaperBrokerEngine, key: str) -> None:
        super().__init__(key, key, trading_url="http://in-process.invalid")
        self.engine = engine
        self.key = key
        self.account_obj = next(a for a in engine.accounts.values() if a.key_id == key)

    def _once(self, client: Any, method: str, path: str, data: dict | None) -> Any:  # noqa: ARG002
        params = {k: v for k, v in (data or {}).items() if v is not None}
        try:
            return self._route(method, path, params)
        except paper_errors.BrokerError as exc:
            raise BrokerError(exc.status, exc.code, exc.message) from None

    def _route(self, method: str, path: str, params: dict) -> Any:  # noqa: C901 - a small router
        engine, account = self.engine, self.account_obj
        if method == "GET" and path == "/clock":
            now = engine.now
            return {
                "timestamp": ts_new_york(now),
                "is_open": engine.calendar.is_open(now),
                "next_open": ts_new_york(engine.calendar.next_open(now)),
                "next_close": ts_new_york(engine.calendar.next_close(now)),
            }
        if method == "GET" and path == "/account":
            return account_json(engine, account)
        if method == "GET" and path == "/orders":
            orders = [o for o in engine.account_orders(account) if o.is_open]
            orders.sort(key=lambda o: (o.submitted_at, o.sequence), reverse=True)
            return [order_json(o) for o in orders]
        if method == "GET" and path == "/orders:by_client_order_id":
            return order_json(engine.get_order_by_client_id(account, params["client_order_id"]))
        if method == "POST" and path == "/orders":
            return order_json(engine.submit_order(account, params))
        if method == "DELETE" and path.startswith("/orders/"):
            engine.cancel_order(account, path.split("/")[-1])
            return None
        if method == "GET" and path == "/stocks/quotes/latest":
            quotes = {}
            for symbol in params["symbols"].split(","):
                quote = engine.market.quote(symbol, engine.now)
                if quote is not None:
                    quotes[symbol] = {"ap": quote.ask, "bp": quote.bid, "t": ts(quote.t)}
            return {"quotes": quotes}
        if method == "GET" and path == "/stocks/bars":
            query = bars_query(
                params["timeframe"],
                params.get("start"),
                params.get("end"),
                int(params.get("limit", 10000)),
                params.get("page_token"),
                params.get("sort", "asc"),
            )
            return json.loads(bars_page(engine.market, engine.now, params["symbols"].split(","), query))
        raise AssertionError(f"route not served in process: {method} {path}")


class EngineTime:
    def __init__(self, engine: PaperBrokerEngine) -> None:
        self.engine = engine

    def now(self) -> datetime:
        return self.engine.now


# -- one scenario: a symbol on a start day -------------------------------------------------------------------
@dataclass
class Campaign:
    """One account executing one parent order, re-planned each session until complete."""

    key: str
    size: float
    variant: str
    side: str
    target: Decimal
    executor: PlanExecutor
    store: StateStore
    plans: list[str] = field(default_factory=list)
    active: str | None = None
    sessions: int = 0
    done: bool = False


@dataclass(frozen=True)
class Outcome:
    symbol: str
    day: date
    size: float
    variant: str
    side: str
    target: float
    filled: float
    shortfall_bp: float
    sessions: int
    children: int
    max_child_participation: float | None
    """Largest child / market volume of the interval it was sized on (the cap's own measure)."""
    slot_participation: tuple[float, ...]
    """Each filled child / market volume of the interval after it was sent (its slot, measured afterwards)."""
    window_participation: float
    """Largest over sessions of: filled that session / market volume from the first send to the last fill."""


def run_scenario(data: MarketData, calendar: TradingCalendar, symbol: str, day: date) -> list[Outcome]:
    market = SimMarket(data, calendar)
    adv = Decimal(str(data.adv(symbol, day)))
    session = calendar.session(day)
    assert session is not None, day
    start = session.open + START_AFTER_OPEN
    price = Decimal(str(data.last_bar_on_or_before(symbol, day - timedelta(days=1)).close))
    specs, plan = [], []
    for size in SIZES:
        target = (adv * Decimal(str(size))).to_integral_value(ROUND_DOWN)
        for variant in VARIANTS:
            for side in SIDES:
                key = f"{size}-{variant}-{side}"
                lot = StartingLot(qty=target, price=price, date=date(2019, 1, 2))
                positions = (StartingPosition(symbol=symbol, lots=(lot,)),) if side == "sell" else ()
                cash = (target * price * Decimal(3)).quantize(Decimal(1)) if side == "buy" else Decimal(0)
                spec = AccountSpec(name=key, key_id=key, secret_key=key, cash=cash, positions=positions)
                specs.append(spec)
                plan.append((key, size, variant, side, target))
    accounts = AccountsFile(accounts=tuple(specs))
    engine = PaperBrokerEngine(market, BrokerStore(None), accounts, start, MatchingConfig())
    clock = EngineTime(engine)
    campaigns = []
    for key, size, variant, side, target in plan:
        store = StateStore(None)
        settings = ExecutionSettings(
            order_timeout=timedelta(hours=8), cash_buffer=CASH_BUFFER, slicing=VARIANTS[variant]
        )
        executor = PlanExecutor(key, InProcessBroker(engine, key), store, clock, settings)
        campaigns.append(Campaign(key, size, variant, side, target, executor, store))
    while not all(c.done for c in campaigns):
        now = engine.now
        for c in campaigns:
            if c.done:
                continue
            if c.active is None:
                _new_plan(c, symbol, now)
            status = c.executor.advance(c.store.get_plan(c.active))
            if status == "done":
                left = c.target - _filled(c.store)
                c.active = None
                if left < 1 or c.sessions >= MAX_SESSIONS:
                    c.done = True
        if all(c.done for c in campaigns):
            break
        if any(c.active is not None for c in campaigns) or not calendar.is_open(now + timedelta(minutes=1)):
            step = now + timedelta(minutes=1)
        else:
            step = now
        close = calendar.next_close(now) if calendar.is_open(now) else None
        if close is not None and step < close and any(c.active is not None for c in campaigns):
            engine.advance_to(step)
        else:  # every working campaign waits for the next session: its next cycle re-plans what is left
            engine.advance_to(calendar.next_open(now + timedelta(minutes=1)) + START_AFTER_OPEN)
    outcomes = [_outcome(c, symbol, day, market) for c in campaigns]
    for c in campaigns:
        c.store.close()
    return outcomes


def _new_plan(c: Campaign, symbol: str, now: datetime) -> None:
    left = c.target - _filled(c.store)
    quote = c.executor.broker.latest_quotes([symbol])[symbol]
    plan_id = f"bench-{c.key}-{len(c.plans) + 1}"
    details = {
        "orders": [
            {
                "seq": 0,
                "symbol": symbol,
                "side": c.side,
                "qty": str(left),
                "notional": None,
                "est_price": str(quote.mid),
                "est_notional": str((left * quote.mid).quantize(Decimal("0.01"))),
                "reason": "benchmark",
            }
        ]
    }
    c.store.save_plan(plan_id, None, c.key, plan_id, "executing", "benchmark", details, now)
    c.plans.append(plan_id)
    c.active = plan_id
    c.sessions += 1


def _filled(store: StateStore) -> Decimal:
    return sum((r.filled_qty for r in store.execution_reports()), Decimal(0))


def _outcome(c: Campaign, symbol: str, day: date, market: SimMarket) -> Outcome:
    reports = sorted(c.store.execution_reports(), key=lambda r: r.started_at)
    arrival = reports[0].arrival_mid
    filled = sum((r.filled_qty for r in reports), Decimal(0))
    value = sum((r.filled_qty * (r.avg_price or 0) for r in reports), Decimal(0))
    avg = value / filled
    sign = 1 if c.side == "buy" else -1
    shortfall = float(sign * (avg - arrival) / arrival * 10_000)
    child_shares, slot_shares, windows, children = [], [], [], 0
    for parent in c.store.exec_parents(account=c.key):
        kids = c.store.exec_children(parent.parent_id)
        orders = [k.order for k in kids if k.order is not None]
        if parent.policy == "single":
            single = c.store.get_order(parent.parent_id)
            orders = [single] if single is not None else []
        children += len(orders)
        interval = TwapPolicy.from_json(parent.policy_config).interval if parent.policy == "twap" else None
        for k in kids:
            if k.order is None or not k.order.filled_qty:
                continue
            if k.interval_volume:
                child_shares.append(float(k.order.filled_qty / k.interval_volume))
            sent = k.order.submitted_at.replace(second=0, microsecond=0)
            slot = _volume(market, symbol, sent, sent + interval)
            if slot:
                slot_shares.append(float(k.order.filled_qty) / slot)
        sent = [o.submitted_at for o in orders if o.submitted_at and o.filled_qty]
        if sent:
            first = min(sent).replace(second=0, microsecond=0)
            last = max(o.final_at for o in orders if o.filled_qty)
            volume = _volume(market, symbol, first, last)
            qty = sum(float(o.filled_qty) for o in orders)
            if volume:
                windows.append(qty / volume)
    return Outcome(
        symbol,
        day,
        c.size,
        c.variant,
        c.side,
        float(c.target),
        float(filled),
        shortfall,
        c.sessions,
        children,
        max(child_shares) if child_shares else None,
        tuple(slot_shares),
        max(windows) if windows else 0.0,
    )


def _volume(market: SimMarket, symbol: str, start: datetime, end: datetime) -> float:
    total, t = 0.0, start
    while t < end:
        bar = market.minute(symbol, t)
        total += bar.volume if bar is not None else 0.0
        t += timedelta(minutes=1)
    return total


# -- the table -----------------------------------------------------------------------------------------------
def summarise(outcomes: list[Outcome], data: MarketData) -> str:
    by_key: dict[tuple[float, str, str, date], dict[str, Outcome]] = {}
    for o in outcomes:
        by_key.setdefault((o.size, o.variant, o.symbol, o.day), {})[o.side] = o
    paired: dict[tuple[float, str], list[float]] = {}
    for (size, variant, _s, _d), sides in by_key.items():
        cost = (sides["buy"].shortfall_bp + sides["sell"].shortfall_bp) / 2
        paired.setdefault((size, variant), []).append(cost)
    default = SlicingSettings()
    lines = [
        "| order (% of ADV) | one market order (bp) | TWAP, market children (bp) | TWAP, limit children "
        "(default) (bp) | `auto` sends | sessions (TWAP) | child / its sizing interval, max | execution "
        "window participation, max (TWAP / one order) | child / the slot after it, p95 (max) | filled |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size in SIZES:
        single = statistics.median(paired[(size, "single")])
        mkt = statistics.median(paired[(size, "twap-mkt")])
        lim = statistics.median(paired[(size, "twap-lim")])
        twap = [o for o in outcomes if o.size == size and o.variant != "single"]
        singles = [o for o in outcomes if o.size == size and o.variant == "single"]
        sample = next(o for o in outcomes if o.size == size)
        adv = Decimal(str(data.adv(sample.symbol, sample.day)))
        pick = choose_policy(default, adv * Decimal(str(size)), adv, Decimal(0)).policy.name
        sessions = statistics.median(o.sessions for o in twap)
        child = max(o.max_child_participation or 0 for o in twap)
        slots = sorted(x for o in twap for x in o.slot_participation)
        p95 = slots[int(0.95 * (len(slots) - 1))] if slots else 0.0
        top = slots[-1] if slots else 0.0
        window = max(o.window_participation for o in twap)
        window_single = statistics.median(o.window_participation for o in singles)
        filled = min(o.filled / o.target for o in outcomes if o.size == size)
        lines.append(
            f"| {size * 100:g}% | {single:.2f} | {mkt:.2f} ({_change(mkt, single)}) | {lim:.2f} "
            f"({_change(lim, single)}) | {'one order' if pick == 'single' else 'sliced'} | {sessions:g} | "
            f"{child:.1%} | {window:.1%} / {window_single:.0%} | {p95:.0%} ({top:.0%}) | {filled:.0%} |"
        )
    return "\n".join(lines)


def _change(value: float, base: float) -> str:
    return f"{(value - base) / base * 100:+.0f}%" if base else "n/a"


def per_symbol(outcomes: list[Outcome], data: MarketData) -> str:
    """One row per (symbol, size): the paired cost of each variant, TWAP's change against one order, and
    what ``auto`` (the default policy) sends at that size with its cost."""
    rows = ["| symbol | order (% of ADV) | one market order (bp) | TWAP, market children (bp) | "
            "TWAP, limit children (bp) | `auto` sends | `auto` vs one order |",
            "|---|---|---|---|---|---|---|"]  # fmt: skip
    default = SlicingSettings()
    for symbol in sorted({o.symbol for o in outcomes}):
        for size in SIZES:
            cells = {}
            for variant in VARIANTS:
                pairs: dict[date, list[float]] = {}
                for o in outcomes:
                    if o.symbol == symbol and o.size == size and o.variant == variant:
                        pairs.setdefault(o.day, []).append(o.shortfall_bp)
                cells[variant] = statistics.median(sum(v) / 2 for v in pairs.values())
            day = next(o.day for o in outcomes if o.symbol == symbol)
            adv = Decimal(str(data.adv(symbol, day)))
            sliced = choose_policy(default, adv * Decimal(str(size)), adv, Decimal(0)).policy.name != "single"
            auto = cells["twap-lim"] if sliced else cells["single"]
            single = cells["single"]
            rows.append(
                f"| {symbol} | {size * 100:g}% | {single:.2f} | {cells['twap-mkt']:.2f} "
                f"({_change(cells['twap-mkt'], single)}) | {cells['twap-lim']:.2f} "
                f"({_change(cells['twap-lim'], single)}) | {'sliced' if sliced else 'one order'} | "
                f"{auto:.2f} ({_change(auto, single)}) |"
            )
    return "\n".join(rows)


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 symbols x 2 days instead of 4 x 5")
    parser.add_argument("--append", type=Path, help="append the section to this markdown file")
    args = parser.parse_args(list(argv) if argv is not None else None)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))  # errors only
    symbols, days = (QUICK_SYMBOLS, QUICK_DAYS) if args.quick else (SYMBOLS, DAYS)
    data = MarketData.bundled(symbols)
    calendar = TradingCalendar.for_span(data.first_day(), data.last_day())
    outcomes: list[Outcome] = []
    began = time.perf_counter()
    for symbol in symbols:
        for day in days:
            t0 = time.perf_counter()
            outcomes += run_scenario(data, calendar, symbol, day)
            print(f"{symbol} {day}: {time.perf_counter() - t0:.1f}s", flush=True)
    elapsed = time.perf_counter() - began
    table = summarise(outcomes, data)
    command = "python scripts/bench_slicing.py" + (" --quick" if args.quick else "")
    spreads = ", ".join(f"{s} {calibrated_spread(s):.2f}" for s in symbols)
    sigmas = ", ".join(f"{s} {data.sigma_daily(s, days[0]) * 1e4:.0f}" for s in symbols)
    section = "\n".join(
        [
            "",
            "## Order slicing on the calibrated cost model (issues 6 and 18)",
            "",
            f"`{command}`: {len(symbols)} symbols x {len(days)} start days on the bundled real minute",
            f"bars ({elapsed / 60:.0f} min on the development machine; method in the script's docstring).",
            "Each cost cell is the median over symbols x days of the implementation shortfall against the",
            "arrival mid, averaged over a buy and a sell of the same size run in separate accounts on the",
            "same day (the price drift cancels between them; what is left is half-spread + impact), in",
            "basis points; in brackets the change against one market order. Participation columns are",
            "over every order of every symbol and day.",
            "",
            table,
            "",
            "Per symbol (median over days, bp; `auto` is what the default policy sends at that size):",
            "",
            per_symbol(outcomes, data),
            "",
            f"sigma_daily on {days[0]} (bp): {sigmas}.",
            f"Quotes: the calibrated spreads (bp): {spreads}, widened outward to the cent.",
            f"Impact: {IMPACT_SOURCE}; child orders' impact decays with a 30-minute half-life.",
            "",
        ]
    )
    print(section)
    if args.append:
        with args.append.open("a", encoding="utf-8") as handle:
            handle.write(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
