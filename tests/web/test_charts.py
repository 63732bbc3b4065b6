"""What the dashboard's charts are given (bot/web/charts.py), for the cases the browser tests do not reach:
targets changed during the history, an asset bought later, relative bands, a member account without
targets, and JSON that must not end its script block."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D

from bot.live_picture import Holding, LivePicture
from bot.state.equity_history import EquityDay
from bot.web.charts import data_block, day_seconds, drift_chart, weights_chart
from strategies.bands import Band, BandPolicy

BANDS = BandPolicy(Band(absolute=D("0.05"), relative=D("0.25")), {"VXUS": Band(absolute=D("0.02"))})


def session(day: int, weights: dict, targets: dict | None) -> EquityDay:
    return EquityDay(
        account="main",
        day=date(2024, 3, day),
        at=datetime(2024, 3, day, 21, 5, tzinfo=UTC),
        equity=D("1000"),
        cash=D("0"),
        day_pl=None,
        weights={k: D(v) for k, v in weights.items()},
        targets=None if targets is None else {k: D(v) for k, v in targets.items()},
    )


def test_weights_follow_the_targets_in_force_each_day_with_each_assets_own_band():
    days = [
        session(4, {"SPY": "0.7", "cash": "0.3"}, {"SPY": "0.6", "cash": "0.4"}),
        session(
            5, {"SPY": "0.5", "VXUS": "0.1", "cash": "0.4"}, {"SPY": "0.5", "VXUS": "0.1", "cash": "0.4"}
        ),
    ]
    chart = weights_chart(days, BANDS)
    assert chart["x"] == [day_seconds(date(2024, 3, 4)), day_seconds(date(2024, 3, 5))]
    assets = {a["symbol"]: a for a in chart["assets"]}
    assert [a["symbol"] for a in chart["assets"]] == ["SPY", "VXUS", "cash"]  # cash last
    assert assets["SPY"]["target"] == [60.0, 50.0]  # the targets then in force, not today's
    # SPY's default band: the smaller of 5 points and 25% of the target (15 and 12.5 points: 5 both days)
    assert assets["SPY"]["upper"] == [65.0, 55.0] and assets["SPY"]["lower"] == [55.0, 45.0]
    assert assets["VXUS"]["weight"] == [0.0, 10.0]  # not held on the first day
    assert assets["VXUS"]["target"] == [None, 10.0]  # and no target for it then: no band either
    assert assets["VXUS"]["upper"] == [None, 12.0] and assets["VXUS"]["lower"] == [None, 8.0]


def test_a_history_without_targets_draws_weights_only():
    chart = weights_chart([session(4, {"SPY": "1"}, None)], BANDS)
    [spy] = chart["assets"]
    assert spy["weight"] == [100.0] and spy["target"] == spy["upper"] == spy["lower"] == [None]


def test_drift_bars_cover_the_targets_and_cash_and_nothing_for_an_account_without_targets():
    holding = Holding("SPY", D(1), D(700), D(700), D("0.7"), D("0.6"))
    picture = LivePicture(
        "main", datetime(2024, 3, 4, tzinfo=UTC), D(1000), D(300), D("0.4"), None, None, (holding,)
    )
    chart = drift_chart(picture, BANDS)
    assert chart == {"symbols": ["SPY", "cash"], "drift": [10.0, -10.0], "band": [5.0, 5.0]}
    member = LivePicture(
        "kid",
        picture.at,
        D(1000),
        D(300),
        None,
        None,
        None,
        (Holding("SPY", D(1), D(700), D(700), D("0.7"), None),),
    )
    assert drift_chart(member, BANDS) == {"symbols": [], "drift": [], "band": []}


def test_chart_data_cannot_end_its_script_block():
    block = data_block("chart-data", {"symbols": ["</script><script>alert(1)</script>"]})
    assert block.count("</script>") == 1 and "\\u003c/script>" in block
