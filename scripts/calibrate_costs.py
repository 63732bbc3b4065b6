"""Calibrate the shared cost model on the bundled real bars: per-symbol spreads into ``costs.json``.

Run from the project root: ``python scripts/calibrate_costs.py [--data DIR] [--out FILE]`` (a few seconds).
It writes ``bot/paper_broker/data/costs.json``, which the paper broker, the backtester and the live bot's
decision read (``bot/cost_table.py``); its provenance is in ``PROVENANCE.md`` beside it.

The data has no quotes, so spreads come from bar prices with the Abdi-Ranaldo (2017) estimator
(``strategies/spread_estimators.py``):

* **1-minute bars** where the data has them (17 ETFs, 2019-12/2020-01): for each well-covered session
  (at least ``MIN_MINUTES`` minutes that traded), the estimator over that session's consecutive minutes,
  floored at one tick of the session's mean price (a quote is never narrower than a cent); the symbol's
  spread is the median over its sessions. Minutes without volume are dropped (their prices are carried,
  not traded).
* **daily bars** otherwise: the estimator per calendar month over the last ``DAILY_WINDOW`` sessions (the
  paper's monthly estimator, negative months at zero), averaged. Daily ranges of liquid ETFs are mostly
  volatility, not spread: on the bundled ETFs that have both, the daily estimate is 14-40 bp where the
  minute estimate is about a cent (SPY 27.9 bp against 0.31 bp). So the daily estimate is corrected by the
  bias measured on those ETFs: multiplied by the median ratio of minute to daily estimate over every symbol
  that has both (``daily_bias``, about 0.03 on the bundled data), then floored at one tick. The ratio is
  measured, not chosen, and recomputed from whatever data the script is given; such symbols are marked
  ``"source": "daily"`` in the table.

The impact coefficient is not estimated here: it is the literature's (``strategies.costs``), recorded in the
file so that one place says what the model is.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.cost_table import COSTS_FILE  # noqa: E402
from bot.paper_broker.marketdata import BUNDLED_DATA_DIR, MarketData  # noqa: E402
from strategies.costs import DEFAULT_IMPACT_COEFFICIENT, IMPACT_SOURCE  # noqa: E402
from strategies.spread_estimators import BP, abdi_ranaldo, corwin_schultz, tick_floor  # noqa: E402

MIN_MINUTES = 200
"""Traded minutes a session needs to count (a full session has 390)."""
DAILY_WINDOW = 504
"""Sessions (two years) of daily bars behind a daily-range estimate."""
PUBLISHED = {"SPY": {"2013": 0.6, "2023": 0.22}}
"""Median quoted spreads of SPY in bp (the project's reference notes) for the sanity check."""


def minute_estimate(data: MarketData, symbol: str) -> dict | None:
    """Median over sessions of the tick-floored per-session estimate from the symbol's 1-minute bars."""
    rows = []
    for bar in data.daily_bars(symbol, data.first_day(), data.last_day()):
        frame = data.minute_bars(symbol, bar.date)
        if frame is None:
            continue
        frame = frame[frame["volume"] > 0]
        if len(frame) < MIN_MINUTES:
            continue
        high, low, close = (frame[k].to_numpy(float) for k in ("high", "low", "close"))
        price = float(close.mean())
        ar = abdi_ranaldo(high, low, close)
        rows.append((bar.date, ar, float(corwin_schultz(high, low).mean()), tick_floor(ar, price), price))
    if not rows:
        return None
    return {
        "spread_bps": round(statistics.median(r[3] for r in rows) * BP, 3),
        "source": "minute",
        "sessions": len(rows),
        "first": rows[0][0].isoformat(),
        "last": rows[-1][0].isoformat(),
        "abdi_ranaldo_bps": round(statistics.median(r[1] for r in rows) * BP, 3),
        "corwin_schultz_bps": round(statistics.median(r[2] for r in rows) * BP, 3),
        "tick_bps": round(statistics.median(0.01 / r[4] for r in rows) * BP, 3),
    }


def daily_estimate(data: MarketData, symbol: str) -> dict | None:
    """Mean of monthly Abdi-Ranaldo estimates over the last ``DAILY_WINDOW`` daily bars, floored at a tick
    (uncorrected: :func:`calibrate` applies the measured bias of daily ranges)."""
    bars = [
        b
        for b in data.daily_bars(symbol, data.first_day(), data.last_day())
        if np.isfinite([b.high, b.low, b.close]).all()
    ][-DAILY_WINDOW:]
    if len(bars) < 42:
        return None
    months: dict[tuple[int, int], list] = {}
    for bar in bars:
        months.setdefault((bar.date.year, bar.date.month), []).append(bar)
    monthly = [
        abdi_ranaldo([b.high for b in m], [b.low for b in m], [b.close for b in m])
        for m in months.values()
        if len(m) >= 2
    ]
    price = float(np.mean([b.close for b in bars]))
    spread = tick_floor(float(np.mean(monthly)), price)
    highs, lows = [b.high for b in bars], [b.low for b in bars]
    return {
        "spread_bps": round(spread * BP, 3),
        "source": "daily",
        "sessions": len(bars),
        "first": bars[0].date.isoformat(),
        "last": bars[-1].date.isoformat(),
        "abdi_ranaldo_bps": round(float(np.mean(monthly)) * BP, 3),
        "corwin_schultz_bps": round(float(corwin_schultz(highs, lows).mean()) * BP, 3),
        "tick_bps": round(0.01 / price * BP, 3),
    }


def daily_bias(minute: dict[str, dict], daily: dict[str, dict]) -> float:
    """Median ratio of the minute-bar spread to the raw daily-bar estimate over the symbols that have both
    (1.0 when none has both: the daily estimate then stands uncorrected, an upper bound)."""
    ratios = [
        minute[s]["spread_bps"] / daily[s]["abdi_ranaldo_bps"]
        for s in minute
        if s in daily and daily[s]["abdi_ranaldo_bps"] > 0
    ]
    return statistics.median(ratios) if ratios else 1.0


def calibrate(data: MarketData) -> dict:
    minute = {s: e for s in sorted(data.symbols) if (e := minute_estimate(data, s)) is not None}
    daily = {s: e for s in sorted(data.symbols) if (e := daily_estimate(data, s)) is not None}
    bias = daily_bias(minute, daily)
    symbols = {}
    for symbol in sorted(data.symbols):
        if symbol in minute:
            symbols[symbol] = minute[symbol]
        elif symbol in daily:
            row = daily[symbol]
            corrected = max(row["abdi_ranaldo_bps"] * bias, row["tick_bps"])
            symbols[symbol] = {**row, "spread_bps": round(corrected, 3), "daily_bias": round(bias, 4)}
    return {
        "about": "Full bid-ask spreads in bp of the mid per symbol, and the square-root impact coefficient; "
        "written by scripts/calibrate_costs.py, provenance in PROVENANCE.md beside this file.",
        "estimator": "Abdi & Ranaldo (2017, RFS 30(12)) on 1-minute bars per session (median over sessions) "
        f"where the data has them, else on daily bars (monthly, last {DAILY_WINDOW} sessions) times the "
        f"median minute/daily ratio of the symbols with both ({bias:.4f}); floored at one tick ($0.01) of "
        "the price",
        "impact": {"coefficient": DEFAULT_IMPACT_COEFFICIENT, "source": IMPACT_SOURCE},
        "sanity": {"published_spy_quoted_bps": PUBLISHED["SPY"], "estimated_spy_bps": symbols.get("SPY")},
        "symbols": symbols,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=BUNDLED_DATA_DIR, help="market data directory")
    parser.add_argument("--out", type=Path, default=COSTS_FILE, help="where to write the table")
    args = parser.parse_args()
    table = calibrate(MarketData.from_dir(args.data))
    args.out.write_text(json.dumps(table, indent=1) + "\n")
    print(f"{'symbol':6} {'spread bp':>9} {'source':>7} {'sessions':>8} {'AR':>7} {'CS':>7} {'tick':>6}")
    for symbol, row in table["symbols"].items():
        print(
            f"{symbol:6} {row['spread_bps']:9.3f} {row['source']:>7} {row['sessions']:8d} "
            f"{row['abdi_ranaldo_bps']:7.2f} {row['corwin_schultz_bps']:7.2f} {row['tick_bps']:6.2f}"
        )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
