"""``rebalance-bot tune``: calibrate the objective on the config's own assets and recommend a setting.

A thin front-end over :mod:`bot.backtest.tune` (the runs), :mod:`bot.backtest.tune_report` (table, PNG,
HTML) and :mod:`bot.config_edit` (``--write``). Bad input (a missing or invalid config, a symbol the data
lacks, too little history, a bad ``--data`` directory) exits with code 2 and one message naming the
problem and what to do; nothing is written then.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from bot.cli_options import AlpacaOption, CacheOption, DataOption

POLICY_KEYS_REPLACED = ("tracking", "tracking_error", "relative_tracking_error", "risk_aversion")
"""The expert keys a recommendation replaces (only one of them may be set)."""

ConfigOption = Annotated[
    Path,
    typer.Option("--config", "-c", envvar="REBALANCE_BOT_CONFIG", help="The bot's YAML config file."),
]


def _date(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date (YYYY-MM-DD)", param_hint=option) from None


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def tune(
    config: ConfigOption = Path("config/example.yaml"),
    start: Annotated[
        str | None,
        typer.Option(
            help="First scored session, YYYY-MM-DD (default: 10 years before --end, and never before "
            "the two years of history the risk forecasts need)."
        ),
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="Last scored session, YYYY-MM-DD (default: the last in the data).")
    ] = None,
    data: DataOption = None,
    alpaca: AlpacaOption = False,
    cache: CacheOption = None,
    points: Annotated[
        int,
        typer.Option(
            min=2, max=40, help="Risk aversions on the frontier (more: a finer choice, a longer run)."
        ),
    ] = 10,
    capital: Annotated[
        float, typer.Option(min=1.0, help="Account size in dollars, for the market-impact estimate.")
    ] = 100_000.0,
    out: Annotated[
        Path | None,
        typer.Option(help="Where frontier.png and report.html go (default: <state_dir>/tune)."),
    ] = None,
    write: Annotated[
        bool,
        typer.Option(
            "--write",
            help="Write the recommended setting into the config's policy section (comments and layout "
            "kept, the old file saved as CONFIG.bak, the change printed as a diff).",
        ),
    ] = False,
) -> None:
    """Calibrate the objective on the config's own assets and recommend how closely to track.

    Walk-forward on real history: every built-in baseline and the objective over a range of risk aversions.

    Draws the risk/cost frontier (PNG and HTML) and recommends the point that beats the most baselines.

    The setting is a preset (tight, balanced, relaxed) or an explicit relative_tracking_error.

    Defaults (10 years, 10 risk aversions): about a minute for 2-4 assets on two cores.
    """
    from rich.console import Console

    from bot.backtest.tune import TuneError, load_window
    from bot.cli import _alpaca_bars, _load

    first, last = _date(start, "--start"), _date(end, "--end")
    if not config.is_file():
        raise _fail(f"config file {config} not found: give the bot's config with -c PATH")
    loaded = _load(config)
    allocation = loaded.targets.to_allocation()
    warmup = loaded.objective_spec().risk.window
    try:
        data_dir = data
        if alpaca:
            data_dir = _alpaca_bars(loaded, allocation.symbols, _fetch_from(first, last), last, cache)
        window = load_window(allocation, warmup, first, last, data_dir)
    except (TuneError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    console = Console()
    if not console.is_terminal:  # piped or redirected: do not squeeze the table into 80 columns
        console = Console(width=170)
    result = _run(loaded, window, points, capital, config.stem, console)
    _report(result, console, out or Path(loaded.state_dir) / "tune", config.name)
    if write:
        _write(config, result, console)


def _fetch_from(first: date | None, last: date | None) -> date:
    """Alpaca bars are fetched from three years before the window (the warm-up), or since 2016."""
    from bot.backtest.tune import DEFAULT_YEARS

    anchor = first or (last or date.today()).replace(month=1, day=1)
    years = 3 if first else DEFAULT_YEARS + 3
    return max(date(anchor.year - years, 1, 1), date(2016, 1, 4))


def _run(loaded, window, points, capital, label, console):  # noqa: ANN001, ANN202 - TuneResult
    from bot.backtest import tune as tuning
    from bot.backtest.progress import progress_bar

    console.print(
        f"Tuning {label} ({', '.join(window.history.symbols)}) on {window.label()}, "
        f"{window.sessions} sessions after a {window.warmup}-session warm-up."
    )
    with progress_bar(console) as bar:
        return tuning.tune(loaded, window, points, capital, bar, label)


def _report(result, console, out: Path, config_name: str) -> None:  # noqa: ANN001 - TuneResult, Console
    from bot.backtest.tune_report import print_report, write_html, write_png

    print_report(result, console)
    png = write_png(result, out / "frontier.png")
    page = write_html(result, png, out / "report.html", config_name)
    console.print(f"\nwrote {png} and {page}")


def _write(config: Path, result, console) -> None:  # noqa: ANN001 - TuneResult, Console
    from bot.config_edit import EditError, write_policy

    rec, window = result.recommendation, result.window
    comment = f"rebalance-bot tune, {window.first_day:%Y-%m}..{window.last_day:%Y-%m}"
    try:
        edit = write_policy(config, rec.policy_keys(), POLICY_KEYS_REPLACED, comment)
    except (EditError, OSError) as exc:
        raise _fail(f"{config} not changed: {exc}") from exc
    if not edit.diff:
        console.print(f"{config} already asks for {rec.setting()}: nothing to write")
        return
    console.print(f"\nwrote {rec.setting()} into {config} (the old file is {edit.backup}):")
    console.print(edit.diff, markup=False, highlight=False)
