"""Rebuild the market data bundled with the paper broker from ../shared/data.

The project must run without ../shared, so it ships a compact subset: the tickers its demo, tests and
backtests use, the columns the broker and backtester read, from 2003 to the end of the dataset (2022-12-30).
Run from the project root: ``python scripts/bundle_data.py [--shared ../shared]``.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pandas as pd

TICKERS = [
    "SPY",
    "IVV",
    "VTI",
    "ITOT",
    "SCHB",
    "VEA",
    "EFA",
    "VWO",
    "EEM",
    "AGG",
    "BND",
    "TLT",
    "IEF",
    "TIP",
    "SHY",
    "VNQ",
    "IYR",
    "GLD",
    "IAU",
    "BIL",
]
DAILY_COLUMNS = ["date", "open", "high", "low", "close", "adj_close", "volume", "dividend"]
START = "2003-01-01"
END = "2022-12-31"
OUT = Path(__file__).resolve().parent.parent / "bot" / "paper_broker" / "data"


def bundle_daily(shared: Path) -> None:
    for ticker in TICKERS:
        frame = pd.read_csv(shared / "data" / "etf_daily" / f"{ticker}.csv")
        frame = frame[(frame["date"] >= START) & (frame["date"] <= END)][DAILY_COLUMNS]
        frame.to_csv(OUT / f"daily_{ticker}.csv.gz", index=False, float_format="%.10g")


def bundle_intraday(shared: Path) -> None:
    """Real 1-minute bars (Yahoo, Dec 2019 - Jan 2020) for the bundled tickers, regular session only."""
    for path in sorted((shared / "data" / "intraday" / "yahoo_1min").glob("*.csv")):
        if path.stem not in TICKERS:
            continue
        frame = pd.read_csv(path)
        frame.to_csv(OUT / f"minute_{path.stem}.csv.gz", index=False, float_format="%.10g")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    bundle_daily(args.shared)
    bundle_intraday(args.shared)
    shutil.copyfile(args.shared / "data" / "PROVENANCE.md", OUT / "SOURCE_PROVENANCE.md")


if __name__ == "__main__":
    main()
