"""The paper broker's market layer on the real bundled data: calendar, data loading, paths, quotes, bars."""

from __future__ import annotations

import datetime as dt
import gzip
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.paper_broker.calendar import TradingCalendar
from bot.paper_broker.market import Bar, MarketConfig, SimMarket, path_tick
from bot.paper_broker.marketdata import (
    BUNDLED_DATA_DIR,
    SIGMA_FALLBACK,
    MarketData,
    MarketDataError,
)

UTC = dt.UTC
MINUTE = dt.timedelta(minutes=1)


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def csv_row(symbol: str, day: dt.date) -> pd.Series:
    """The raw CSV row, read independently of the loader under test."""
    frame = pd.read_csv(BUNDLED_DATA_DIR / f"daily_{symbol}.csv.gz", index_col="date")
    return frame.loc[day.isoformat()]


@pytest.fixture(scope="module")
def data() -> MarketData:
    return MarketData.bundled()


@pytest.fixture(scope="module")
def calendar() -> TradingCalendar:
    return TradingCalendar()


@pytest.fixture(scope="module")
def market(data: MarketData, calendar: TradingCalendar) -> SimMarket:
    return SimMarket(data, calendar)


# ------------------------------------------------------------------------------------------- calendar


@pytest.mark.parametrize(
    "day",
    [
        dt.date(2019, 12, 25),  # Christmas
        dt.date(2019, 7, 4),  # Independence Day
        dt.date(2019, 12, 28),  # Saturday
        dt.date(2018, 12, 5),  # national day of mourning (G.H.W. Bush)
        dt.date(2012, 10, 29),  # hurricane Sandy
    ],
)
def test_closed_days_have_no_session(calendar: TradingCalendar, day: dt.date) -> None:
    assert calendar.session(day) is None
    assert not calendar.is_open(dt.datetime.combine(day, dt.time(16), tzinfo=UTC))


def test_early_close_day_after_thanksgiving(calendar: TradingCalendar) -> None:
    session = calendar.session(dt.date(2019, 11, 29))
    assert session is not None
    assert session.open == utc(2019, 11, 29, 14, 30)
    assert session.close == utc(2019, 11, 29, 18, 0)  # 13:00 ET
    assert session.minutes == 210
    assert calendar.is_open(utc(2019, 11, 29, 17, 59, 59))
    assert not calendar.is_open(utc(2019, 11, 29, 18, 0))


def test_dst_moves_the_session_in_utc(calendar: TradingCalendar) -> None:
    before, after = calendar.session(dt.date(2019, 3, 8)), calendar.session(dt.date(2019, 3, 11))
    assert (before.open, before.close) == (utc(2019, 3, 8, 14, 30), utc(2019, 3, 8, 21, 0))
    assert (after.open, after.close) == (utc(2019, 3, 11, 13, 30), utc(2019, 3, 11, 20, 0))
    autumn = calendar.session(dt.date(2019, 11, 4))
    assert autumn.open == utc(2019, 11, 4, 14, 30)
    assert calendar.session(dt.date(2019, 11, 1)).open == utc(2019, 11, 1, 13, 30)


def test_session_at_is_half_open(calendar: TradingCalendar) -> None:
    session = calendar.session(dt.date(2019, 12, 17))
    assert calendar.session_at(session.open) == session
    assert calendar.session_at(session.close - dt.timedelta(microseconds=1)) == session
    assert calendar.session_at(session.close) is None
    assert calendar.session_at(session.open - dt.timedelta(microseconds=1)) is None


def test_next_open_and_close_follow_alpacas_clock(calendar: TradingCalendar) -> None:
    during = utc(2019, 12, 20, 15, 0)  # a Friday, open
    assert calendar.next_open(during) == utc(2019, 12, 23, 14, 30)  # next session's open, not today's
    assert calendar.next_close(during) == utc(2019, 12, 20, 21, 0)
    at_close = utc(2019, 12, 20, 21, 0)
    assert calendar.next_close(at_close) == utc(2019, 12, 23, 21, 0)
    before_open = utc(2019, 12, 20, 14, 0)
    assert calendar.next_open(before_open) == utc(2019, 12, 20, 14, 30)
    over_christmas = utc(2019, 12, 24, 18, 0)  # early close, then a holiday
    assert calendar.next_open(over_christmas) == utc(2019, 12, 26, 14, 30)
    new_york = dt.datetime(2019, 12, 24, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    assert calendar.next_close(new_york) == utc(2019, 12, 24, 18, 0)


def test_sessions_between_and_previous(calendar: TradingCalendar) -> None:
    sessions = calendar.sessions_between(dt.date(2019, 1, 1), dt.date(2019, 12, 31))
    assert len(sessions) == 252
    assert sessions[0].date == dt.date(2019, 1, 2)
    assert calendar.previous_session(dt.date(2019, 12, 26)).date == dt.date(2019, 12, 24)
    assert calendar.previous_session(dt.date(2019, 12, 25)).date == dt.date(2019, 12, 24)
    assert calendar.next_session(dt.date(2019, 12, 24)).date == dt.date(2019, 12, 26)
    clipped = calendar.sessions_between(dt.date(1990, 1, 1), dt.date(2003, 1, 6))  # a range query clips
    assert [s.date.day for s in clipped] == [2, 3, 6]


def test_calendar_refuses_naive_and_out_of_range_times(calendar: TradingCalendar) -> None:
    with pytest.raises(ValueError, match="naive"):
        calendar.is_open(dt.datetime(2019, 12, 17, 15, 0))
    with pytest.raises(ValueError, match="outside the calendar"):
        calendar.session(dt.date(2030, 1, 2))
    with pytest.raises(ValueError, match="outside the calendar"):
        calendar.next_open(utc(2030, 1, 2))
    with pytest.raises(ValueError, match="no session after"):
        calendar.next_open(utc(2023, 12, 29, 22))  # after the last close the span holds


# --------------------------------------------------------------------------------------------- data


def test_bundled_daily_bar_is_the_csv_row(data: MarketData) -> None:
    day = dt.date(2019, 12, 17)
    bar, row = data.daily_bar("SPY", day), csv_row("SPY", day)
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (
        row.open,
        row.high,
        row.low,
        row.close,
        row.volume,
    )
    assert len(data.symbols) == 20
    assert data.first_day() == dt.date(2003, 1, 2)
    assert data.last_day() == dt.date(2022, 12, 30)


def test_days_without_ohlc_or_volume_are_not_bars(market: SimMarket, data: MarketData) -> None:
    assert data.daily_bar("ITOT", dt.date(2021, 1, 4)) is None  # OHLC ends 2020-12-11
    assert data.daily_bar("BND", dt.date(2018, 7, 26)) is None  # volume 0
    assert data.daily_bar("IAU", dt.date(2014, 4, 25)) is None  # volume but no OHLC
    assert not market.is_tradable("ITOT", dt.date(2021, 1, 4))
    assert not market.is_tradable("ITOT", utc(2021, 1, 4, 15))
    assert market.is_tradable("ITOT", utc(2020, 12, 11, 15))
    assert not market.is_tradable("SPY", dt.date(2019, 12, 25))
    assert not market.is_tradable("NOPE", dt.date(2019, 12, 17))
    assert market.path("ITOT", dt.date(2021, 1, 4)) is None
    assert market.minute("ITOT", utc(2021, 1, 4, 15)) is None


def test_daily_bars_and_dividends(data: MarketData) -> None:
    bars = data.daily_bars("SPY", dt.date(2019, 12, 14), dt.date(2019, 12, 20))
    assert [b.date.day for b in bars] == [16, 17, 18, 19, 20]
    assert data.dividends_on(dt.date(2019, 12, 20))["SPY"] == pytest.approx(1.57)
    assert "SPY" not in data.dividends_on(dt.date(2019, 12, 19))


def test_sigma_and_adv_use_only_the_past(data: MarketData) -> None:
    day = dt.date(2019, 12, 17)
    frame = pd.read_csv(BUNDLED_DATA_DIR / "daily_SPY.csv.gz")
    past = frame[frame["date"] < day.isoformat()].tail(21)
    expected_sigma = np.std(np.diff(np.log(past["adj_close"].to_numpy())), ddof=1)
    assert data.sigma_daily("SPY", day) == pytest.approx(expected_sigma)
    assert data.adv("SPY", day) == pytest.approx(past["volume"].tail(20).mean())

    future = frame.copy()  # scramble the day itself and everything after: nothing may change
    later = future["date"] >= day.isoformat()
    future.loc[later, ["open", "high", "low", "close", "adj_close"]] *= 3.0
    future.loc[later, "volume"] *= 7
    altered = MarketData.from_frames({"SPY": future})
    assert altered.sigma_daily("SPY", day) == data.sigma_daily("SPY", day)
    assert altered.adv("SPY", day) == data.adv("SPY", day)
    assert altered.sigma_daily("SPY", day + dt.timedelta(days=1)) != data.sigma_daily("SPY", day)


def test_sigma_and_adv_without_history(data: MarketData) -> None:
    assert data.sigma_daily("SPY", dt.date(2003, 1, 2)) == SIGMA_FALLBACK
    assert data.adv("SPY", dt.date(2003, 1, 2)) == 0.0
    assert data.adv("SPY", dt.date(2003, 1, 3)) == pytest.approx(44516300)


DAILY_CSV = """date,open,high,low,close,adj_close,volume,dividend
2019-12-16,10.00,10.50,9.90,10.20,10.20,1000,0
2019-12-17,10.20,10.40,10.10,10.30,10.30,2000,0.05
2019-12-18,,,,,10.31,,
2019-12-19,10.30,10.60,10.25,10.55,10.55,1500,0
"""


def test_from_dir_loads_every_naming_scheme(tmp_path: Path) -> None:
    (tmp_path / "AAA.csv").write_text(DAILY_CSV)
    (tmp_path / "daily_BBB.csv").write_text(DAILY_CSV)
    with gzip.open(tmp_path / "CCC.csv.gz", "wt") as handle:
        handle.write(DAILY_CSV)
    minimal = pd.read_csv(io.StringIO(DAILY_CSV)).drop(columns=["adj_close", "dividend"])
    minimal.to_csv(tmp_path / "daily_DDD.csv.gz", index=False)  # the optional columns left out
    (tmp_path / "minute_AAA.csv").write_text(
        "datetime,open,high,low,close,volume\n2019-12-17 09:30:00-05:00,10.2,10.25,10.2,10.22,300\n"
    )
    (tmp_path / "README.md").write_text("not data")
    data = MarketData.from_dir(tmp_path)
    assert data.symbols == ("AAA", "BBB", "CCC", "DDD")
    assert data.daily_bar("DDD", dt.date(2019, 12, 17)).dividend == 0.0
    assert data.sigma_daily("DDD", dt.date(2019, 12, 20)) == data.sigma_daily("AAA", dt.date(2019, 12, 20))
    assert data.daily_bar("CCC", dt.date(2019, 12, 17)).dividend == 0.05
    assert data.daily_bar("AAA", dt.date(2019, 12, 18)) is None
    assert data.minute_bars("AAA", dt.date(2019, 12, 17))["close"].iloc[0] == 10.22
    assert data.minute_bars("BBB", dt.date(2019, 12, 17)) is None
    assert MarketData.from_dir(tmp_path, ["bbb"]).symbols == ("BBB",)
    with pytest.raises(MarketDataError, match="no daily file for ZZZ"):
        MarketData.from_dir(tmp_path, ["ZZZ"])
    market = SimMarket(data, TradingCalendar())
    assert market.quote("AAA", utc(2019, 12, 18, 15)).t == utc(2019, 12, 17, 21)  # no bar: stale quote


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (DAILY_CSV.replace("adj_close,volume", "adj_close,vol"), "missing column"),
        (DAILY_CSV.replace("10.40", "ten"), "line 3: unparsable high 'ten'"),
        (DAILY_CSV.replace("10.60,10.25", "10.20,10.25"), "line 5: high < low"),
        (DAILY_CSV.replace("2019-12-19", "2019-13-19"), "unparsable date"),
        (DAILY_CSV.replace("2019-12-19", "2019-12-17"), "duplicate date"),
        (DAILY_CSV.replace("10.00,10.50", "11.00,10.50"), "open outside"),
        ("", "cannot read CSV"),
    ],
)
def test_broken_file_raises_naming_file_and_problem(tmp_path: Path, content: str, problem: str) -> None:
    (tmp_path / "BAD.csv").write_text(content)
    with pytest.raises(MarketDataError, match=problem) as info:
        MarketData.from_dir(tmp_path)
    assert "BAD.csv" in str(info.value)


def test_broken_minute_file_raises(tmp_path: Path) -> None:
    (tmp_path / "AAA.csv").write_text(DAILY_CSV)
    (tmp_path / "minute_AAA.csv").write_text(
        "datetime,open,high,low,close,volume\n2019-12-17 09:30:00-05:00,10.2,10.1,10.2,10.22,300\n"
    )
    with pytest.raises(MarketDataError, match="minute_AAA.csv: line 2: high < low"):
        MarketData.from_dir(tmp_path)


# -------------------------------------------------------------------------------------------- paths


def assert_path_matches_bar(path, bar) -> None:  # noqa: ANN001 - IntradayPath, DailyBar
    assert path.open[0] == bar.open and path.close[-1] == bar.close
    assert path.high.max() == bar.high and path.low.min() == bar.low
    assert (path.low >= bar.low).all() and (path.high <= bar.high).all()
    assert (path.high >= np.maximum(path.open, path.close)).all()
    assert (path.low <= np.minimum(path.open, path.close)).all()
    assert path.volume.sum() == bar.volume and (path.volume >= 0).all()
    assert (path.volume == np.round(path.volume)).all()


def test_synthetic_path_hits_open_close_high_low_once(market: SimMarket, data: MarketData) -> None:
    day = dt.date(2018, 6, 5)
    path, bar = market.path("SPY", day), data.daily_bar("SPY", day)
    assert path.source == "synthetic" and path.minutes == 390
    assert_path_matches_bar(path, bar)
    points = path.points()
    assert (points == bar.high).sum() == 1 and (points == bar.low).sum() == 1
    assert 0 < int(np.argmax(points)) < 390 and 0 < int(np.argmin(points)) < 390
    assert np.allclose(points, np.round(points, 2))  # a cent grid


def test_synthetic_paths_hold_over_a_year_of_ten_symbols(market: SimMarket, data: MarketData) -> None:
    symbols = ["SPY", "IVV", "VTI", "EFA", "EEM", "AGG", "TLT", "SHY", "GLD", "BIL"]
    for session in market.calendar.sessions_between(dt.date(2008, 1, 1), dt.date(2008, 12, 31)):
        for symbol in symbols:
            bar = data.daily_bar(symbol, session.date)
            path = market.path(symbol, session.date)
            if bar is None:
                assert path is None
                continue
            assert path.minutes == session.minutes
            assert_path_matches_bar(path, bar)
            points, tick = path.points(), path_tick(bar)
            inside = bar.low < bar.open < bar.high and bar.low < bar.close < bar.high
            if inside and bar.high - bar.low >= 4 * tick - 1e-9:
                assert (points == bar.high).sum() == 1 and (points == bar.low).sum() == 1


def test_early_close_path_is_shorter(market: SimMarket, data: MarketData) -> None:
    path = market.path("SPY", dt.date(2019, 11, 29))
    assert path.minutes == 210
    assert_path_matches_bar(path, data.daily_bar("SPY", dt.date(2019, 11, 29)))
    assert market.minute("SPY", utc(2019, 11, 29, 17, 59)).t == utc(2019, 11, 29, 17, 59)
    assert market.minute("SPY", utc(2019, 11, 29, 18, 0)) is None


def test_paths_are_deterministic(data: MarketData, calendar: TradingCalendar) -> None:
    day = dt.date(2016, 3, 3)
    one, two = SimMarket(data, calendar), SimMarket(data, calendar)
    two.path("AGG", day)  # a different request order must not matter
    first, second = one.path("SPY", day), two.path("SPY", day)
    for name in ("open", "high", "low", "close", "volume", "size_u"):
        assert np.array_equal(getattr(first, name), getattr(second, name))
    reseeded = SimMarket(data, calendar, MarketConfig(seed=7)).path("SPY", day)
    assert not np.array_equal(first.close, reseeded.close)
    assert_path_matches_bar(reseeded, data.daily_bar("SPY", day))
    assert market_arrays_are_read_only(first)


def market_arrays_are_read_only(path) -> bool:  # noqa: ANN001 - IntradayPath
    return not any(getattr(path, n).flags.writeable for n in ("open", "high", "low", "close", "volume"))


def test_real_minute_bars_are_used_for_spy_2019_12_17(market: SimMarket, data: MarketData) -> None:
    day = dt.date(2019, 12, 17)
    path, bar = market.path("SPY", day), data.daily_bar("SPY", day)
    assert path.source == "real"
    assert_path_matches_bar(path, bar)
    raw = data.minute_bars("SPY", day)
    minute_index = (raw.index - pd.Timestamp(market.calendar.session(day).open)) // pd.Timedelta(minutes=1)
    # conforming shifts prices by at most the open/close gaps (a cent here) plus clipping to the daily range
    assert np.abs(path.close[minute_index.to_numpy()] - raw["close"].to_numpy()).max() <= 0.05
    assert path.volume[0] > path.volume[200]  # the real opening burst survives volume scaling
    assert market.path("SPY", dt.date(2019, 12, 13)).source == "synthetic"  # real bars start at 11:00 only
    assert SimMarket(data, market.calendar, MarketConfig(use_real_minutes=False)).path("SPY", day).source == (
        "synthetic"
    )


@pytest.mark.parametrize("symbol", ["IAU", "SCHB"])
def test_real_minutes_on_another_split_basis_are_rescaled(
    market: SimMarket, data: MarketData, symbol: str
) -> None:
    day = dt.date(2019, 12, 18)
    path, bar = market.path(symbol, day), data.daily_bar(symbol, day)
    assert path.source == "real"
    assert_path_matches_bar(path, bar)


# ----------------------------------------------------------------------------------- quotes & trades


def test_quotes_and_trades_never_come_from_after_t(market: SimMarket) -> None:
    session = market.calendar.session(dt.date(2019, 12, 17))
    path = market.path("SPY", session.date)
    for seconds in range(0, 390 * 60, 397):
        t = session.open + dt.timedelta(seconds=seconds)
        quote, trade = market.quote("SPY", t), market.trade("SPY", t)
        k = seconds // 60
        assert quote.t <= t and t - quote.t < MINUTE and quote.t == session.open + k * MINUTE
        assert quote.bid < path.mark(k) < quote.ask
        assert trade.t == quote.t and trade.price == path.mark(k)


def test_spread_as_configured(data: MarketData, calendar: TradingCalendar) -> None:
    config = MarketConfig(default_spread_bps=2.0, spread_bps={"AGG": 10.0})
    market = SimMarket(data, calendar, config)
    t = utc(2019, 12, 17, 16, 7, 30)
    for symbol, bps in (("SPY", 2.0), ("AGG", 10.0)):
        quote = market.quote(symbol, t)
        mid = market.path(symbol, t.date()).mark(97)
        width = mid * bps / 10_000
        assert quote.bid <= mid - width / 2 + 1e-9 and quote.ask >= mid + width / 2 - 1e-9
        assert quote.ask - quote.bid <= width + 0.02 + 1e-9
        assert quote.bid == round(quote.bid, 2) and quote.ask == round(quote.ask, 2)
        assert quote.bid_size >= 100 and quote.bid_size % 100 == 0 and quote.ask_size % 100 == 0
    zero = SimMarket(data, calendar, MarketConfig(default_spread_bps=0.0)).quote("SPY", t)
    assert zero.ask - zero.bid == pytest.approx(0.01)  # never collapses to zero


def test_closed_market_quote_is_the_last_close(market: SimMarket, data: MarketData) -> None:
    close = market.calendar.session(dt.date(2019, 12, 20)).close
    bar = data.daily_bar("SPY", dt.date(2019, 12, 20))
    for t in (close, utc(2019, 12, 21, 12), utc(2019, 12, 23, 14, 29)):  # close, weekend, pre-open
        quote, trade = market.quote("SPY", t), market.trade("SPY", t)
        assert quote.t == close and trade.t == close
        assert trade.price == bar.close
        assert quote.bid < bar.close < quote.ask
    assert market.minute("SPY", utc(2019, 12, 21, 12)) is None


def test_last_minute_then_close_quotes_connect(market: SimMarket) -> None:
    session = market.calendar.session(dt.date(2018, 6, 5))
    path = market.path("SPY", session.date)
    last = market.trade("SPY", session.close - dt.timedelta(seconds=1))
    assert last.price == path.mark(389) == path.close[-2]
    assert market.trade("SPY", session.close).price == path.mark(390) == path.close[-1]


def test_no_quote_before_a_symbols_first_bar(market: SimMarket) -> None:
    assert market.quote("SPY", utc(2003, 1, 2, 14, 0)) is None  # before the very first open
    assert market.quote("VEA", utc(2007, 7, 25, 20)) is None  # VEA starts 2007-07-26
    assert market.quote("VEA", utc(2007, 7, 26, 15)) is not None
    assert market.trade("VEA", utc(2007, 7, 1)) is None


def test_stale_quote_for_a_symbol_without_bars(market: SimMarket, data: MarketData) -> None:
    quote = market.quote("ITOT", utc(2021, 6, 17, 15))
    last = data.daily_bar("ITOT", dt.date(2020, 12, 11))
    assert quote.t == utc(2020, 12, 11, 21) and quote.bid < last.close < quote.ask


def test_minute_bar_is_the_path_minute(market: SimMarket) -> None:
    path = market.path("SPY", dt.date(2019, 12, 17))
    bar = market.minute("SPY", utc(2019, 12, 17, 15, 0, 42))
    k = 30
    assert bar.t == utc(2019, 12, 17, 15, 0)
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (
        path.open[k],
        path.high[k],
        path.low[k],
        path.close[k],
        path.volume[k],
    )
    assert bar.low <= bar.vwap <= bar.high


def test_unknown_symbol_raises(market: SimMarket) -> None:
    with pytest.raises(KeyError):
        market.quote("NOPE", utc(2019, 12, 17, 15))


# --------------------------------------------------------------------------------------------- bars


def test_past_daily_bars_are_the_csv_rows(market: SimMarket) -> None:
    bars = market.bars("SPY", "1Day", utc(2019, 6, 1), utc(2019, 12, 31, 23), as_of=utc(2020, 1, 1))
    assert len(bars) == len(market.calendar.sessions_between(dt.date(2019, 6, 1), dt.date(2019, 12, 31)))
    by_day = {b.t.astimezone(dt.timezone(dt.timedelta(hours=-5))).date(): b for b in bars}
    winter = by_day[dt.date(2019, 12, 17)]
    row = csv_row("SPY", dt.date(2019, 12, 17))
    assert (winter.open, winter.high, winter.low, winter.close, winter.volume) == (
        row.open,
        row.high,
        row.low,
        row.close,
        row.volume,
    )
    assert winter.t == utc(2019, 12, 17, 5)  # midnight EST
    summer = [b for b in bars if b.t.month == 7][0]
    assert summer.t.hour == 4  # midnight EDT


def test_bars_never_leak_the_future(market: SimMarket, data: MarketData) -> None:
    as_of = utc(2019, 12, 17, 18, 0, 30)
    far_end = utc(2019, 12, 31)
    minutes = market.bars("SPY", "1Min", utc(2019, 12, 16), far_end, as_of=as_of)
    assert minutes and all(b.t + MINUTE <= as_of for b in minutes)
    assert minutes[-1].t == utc(2019, 12, 17, 17, 59)
    days = market.bars("SPY", "1Day", utc(2019, 12, 1), far_end, as_of=as_of)
    assert days[-1].t == utc(2019, 12, 17, 5)  # today's partial bar, nothing later
    today = [b for b in minutes if b.t >= utc(2019, 12, 17, 14, 30)]
    partial = days[-1]
    assert partial.open == today[0].open and partial.close == today[-1].close
    assert partial.high == max(b.high for b in today) and partial.low == min(b.low for b in today)
    assert partial.volume == sum(b.volume for b in today)
    assert partial.volume < data.daily_bar("SPY", dt.date(2019, 12, 17)).volume
    before_open = market.bars("SPY", "1Day", utc(2019, 12, 1), far_end, as_of=utc(2019, 12, 17, 14, 30))
    assert before_open[-1].t == utc(2019, 12, 16, 5)
    at_open = utc(2019, 12, 17, 14, 30)
    assert market.bars("SPY", "1Min", at_open, far_end, as_of=at_open) == []


def test_todays_bar_at_the_close_is_the_csv_row(market: SimMarket) -> None:
    session = market.calendar.session(dt.date(2018, 6, 5))
    window = (utc(2018, 6, 5), utc(2018, 6, 5, 23))
    just_before = market.bars("SPY", "1Day", *window, as_of=session.close - dt.timedelta(seconds=1))[0]
    at_close = market.bars("SPY", "1Day", *window, as_of=session.close)[0]
    row = csv_row("SPY", dt.date(2018, 6, 5))
    assert (at_close.open, at_close.high, at_close.low, at_close.close, at_close.volume) == (
        row.open,
        row.high,
        row.low,
        row.close,
        row.volume,
    )
    assert just_before.open == row.open and just_before.volume < row.volume
    full_day = market.bars("SPY", "1Min", *window, as_of=session.close)
    assert len(full_day) == 390
    assert sum(b.volume for b in full_day) == row.volume
    assert (full_day[0].open, full_day[-1].close) == (row.open, row.close)
    assert max(b.high for b in full_day) == row.high and min(b.low for b in full_day) == row.low


def test_bars_limit_and_bad_timeframe(market: SimMarket) -> None:
    bars = market.bars("SPY", "1Min", utc(2019, 12, 16), utc(2019, 12, 20), as_of=utc(2020, 1, 1), limit=5)
    assert [b.t for b in bars] == [utc(2019, 12, 16, 14, 30) + i * MINUTE for i in range(5)]
    assert all(isinstance(b, Bar) for b in bars)
    with pytest.raises(ValueError, match="unsupported timeframe"):
        market.bars("SPY", "1Hour", utc(2019, 12, 16), utc(2019, 12, 20), as_of=utc(2020, 1, 1))
