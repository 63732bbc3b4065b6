"""Price history (bundled, any CSV directory, Alpaca bars through a cache) and the ``backtest`` command."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from alpaca.data.historical import StockHistoricalDataClient
from typer.testing import CliRunner

from bot.backtest.data import MarketDataError, _cache_frame, fetch_alpaca_bars, load_history
from bot.cli import app
from bot.paper_broker.marketdata import MarketData
from tests.conftest import KEY, SECRET

EXAMPLE = Path("config/example.yaml")


def test_bundled_history_is_aligned_and_starts_when_every_asset_has_data() -> None:
    history = load_history(["VTI", "VEA", "AGG"])
    assert history.start == date(2007, 7, 26)  # VEA's first session
    assert history.symbols == ("AGG", "VEA", "VTI")
    assert history.close.shape == (len(history.days), 3)
    raw = pd.read_csv("bot/paper_broker/data/daily_VTI.csv.gz", index_col="date")
    day = history.days[100]
    assert history.close[100, 2] == raw.loc[day.isoformat(), "close"]
    assert history.adj_close[100, 2] == raw.loc[day.isoformat(), "adj_close"]
    # every dividend after the first session is paid, on its ex-date
    paid = raw.loc[(raw.index > history.start.isoformat()), "dividend"]
    assert history.dividend[:, 2].sum() == pytest.approx(paid.sum())
    assert history.dividend[0].sum() == 0


def test_a_start_before_an_assets_first_bar_names_it_and_the_earliest_start() -> None:
    with pytest.raises(MarketDataError, match=r"VEA has no data on 2005-01-03: start on or after 2007-07-26"):
        load_history(["VTI", "VEA"], start=date(2005, 1, 3))


def test_impact_inputs_are_the_paper_brokers_own_estimates() -> None:
    history = load_history(["SPY", "AGG"], date(2010, 1, 4), date(2010, 12, 31))
    market = MarketData.bundled(["SPY", "AGG"])
    for k in (0, 17, 200):
        for i, symbol in enumerate(history.symbols):
            sigma, adv = history.impact_inputs(i, k)
            assert sigma == market.sigma_daily(symbol, history.days[k])
            assert adv == market.adv(symbol, history.days[k])


def write_csv(path: Path, rows: list[tuple]) -> None:
    frame = pd.DataFrame(
        rows, columns=["date", "open", "high", "low", "close", "adj_close", "volume", "dividend"]
    )
    frame.to_csv(path, index=False)


def test_any_csv_directory_in_the_layout_and_dividends_on_dropped_sessions(tmp_path: Path) -> None:
    write_csv(tmp_path / "AAA.csv", [("2021-01-04", 10, 10, 10, 10, 9, 1000, 0),
                                     ("2021-01-05", 10, 11, 10, 11, 10, 1000, 0.5),  # no BBB bar that day
                                     ("2021-01-06", 11, 11, 11, 11, 10, 1000, 0),
                                     ("2021-01-07", 11, 12, 11, 12, 11, 1000, 0)])  # fmt: skip
    write_csv(tmp_path / "daily_BBB.csv", [("2021-01-04", 5, 5, 5, 5, 5, 100, 0),
                                           ("2021-01-06", 5, 6, 5, 6, 6, 100, 0),
                                           ("2021-01-07", 6, 6, 6, 6, 6, 100, 0)])  # fmt: skip
    history = load_history(["AAA", "BBB"], data_dir=tmp_path)
    assert history.days == (date(2021, 1, 4), date(2021, 1, 6), date(2021, 1, 7))
    np.testing.assert_array_equal(history.dividend[:, 0], [0, 0.5, 0])  # paid on the next common session
    with pytest.raises(MarketDataError, match="no daily file for CCC"):
        load_history(["AAA", "CCC"], data_dir=tmp_path)


def test_dividends_are_inferred_from_split_and_fully_adjusted_bars() -> None:
    dates = ["2021-03-01", "2021-03-02", "2021-03-03"]
    close = [100.0, 101.0, 99.0]  # a 1.00 dividend goes ex on 2021-03-03
    factor = 1 - 1.0 / 101.0  # backward adjustment: every close before the ex-date times (1 - d / close)
    adj = [100.0 * factor, 101.0 * factor, 99.0]
    split = pd.DataFrame(
        {"open": close, "high": close, "low": close, "close": close, "volume": 1e6}, index=dates
    )
    total = split.assign(close=adj)
    frame = _cache_frame(split, total)
    assert frame is not None
    assert list(frame["dividend"]) == pytest.approx([0.0, 0.0, 1.0])
    assert list(frame.columns) == ["date", "open", "high", "low", "close", "adj_close", "volume", "dividend"]


class CountingClient:
    def __init__(self, inner: StockHistoricalDataClient) -> None:
        self.inner, self.calls = inner, 0

    def get_stock_bars(self, request):  # noqa: ANN001, ANN201
        self.calls += 1
        return self.inner.get_stock_bars(request)


def test_alpaca_bars_are_fetched_once_and_cached_in_the_layout(broker, tmp_path: Path) -> None:  # noqa: ANN001
    # the paper broker serves Alpaca's Market Data API on the bundled bars (its clock: 2019-12-17)
    client = CountingClient(StockHistoricalDataClient(KEY, SECRET, url_override=broker.url))
    start, end = date(2019, 10, 1), date(2019, 12, 16)
    cache = fetch_alpaca_bars(["SPY", "AGG"], start, end, tmp_path / "bars", client)
    assert client.calls == 2  # split-adjusted and fully adjusted, all symbols in one request each
    assert sorted(p.name for p in cache.glob("daily_*.csv.gz")) == ["daily_AGG.csv.gz", "daily_SPY.csv.gz"]
    history = load_history(["SPY", "AGG"], start, end, data_dir=cache)
    bundled = load_history(["SPY", "AGG"], start, end)
    assert history.days == bundled.days
    np.testing.assert_allclose(history.close, bundled.close)
    assert history.impact_inputs(1, 0)[1] > 0  # enough history fetched before the start for ADV
    fetch_alpaca_bars(["AGG"], date(2019, 11, 1), end, tmp_path / "bars", client)
    assert client.calls == 2  # covered by the cache: nothing fetched


runner = CliRunner()


def test_backtest_command_prints_tables_and_writes_every_file(tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = runner.invoke(
        app,
        ["backtest", "-c", str(EXAMPLE), "--targets", "60-40", "--start", "2019-01-02", "--end", "2020-12-31",
         "--policies", "never,monthly,bot", "--dividends", "cash", "--contribution", "500",
         "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Return and risk" in result.output and "Drift and trading" in result.output
    assert all(name in result.output for name in ("never", "monthly", "bot"))
    names = {"metrics.csv", "equity.csv", "drift.csv", "trades.csv", "summary.json", "report.html"}
    assert names <= {p.name for p in out.iterdir()}
    summary = json.loads((out / "summary.json").read_text())
    assert [m["policy"] for m in summary["metrics"]] == ["never", "monthly", "bot"]
    assert summary["settings"]["flows"] == {"amount": 500.0, "schedule": "first session of every month",
                                            "to": "underweight"}  # fmt: skip
    page = (out / "report.html").read_text()
    assert len(re.findall(r"src='data:image/png;base64,", page)) == 5
    assert not re.search(r"""(src|href)=["'](?!data:)""", page)  # self-contained: nothing fetched
    equity = pd.read_csv(out / "equity.csv")
    assert list(equity.columns) == ["date", "benchmark", "never", "monthly", "bot"]


def test_backtest_command_explains_bad_input() -> None:
    result = runner.invoke(app, ["backtest", "-c", str(EXAMPLE), "--start", "2005-01-03"])
    assert result.exit_code == 2
    assert "start on or after 2007-07-26" in result.output
    result = runner.invoke(app, ["backtest", "-c", str(EXAMPLE), "--policies", "weekly"])
    assert result.exit_code == 2 and "unknown policy 'weekly'" in result.output
