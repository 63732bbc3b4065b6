"""The ``rebalance-bot`` command line (Typer): each command is a thin front-end over the engine."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="rebalance-bot",
    help="Keeps an Alpaca portfolio on its target allocation, unattended, with an offline paper broker.",
    no_args_is_help=True,
    add_completion=False,
)


def _parse_start(text: str) -> date | datetime:
    try:
        return datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date (YYYY-MM-DD) or an ISO time") from None


@app.command("paper-broker")
def paper_broker(
    host: Annotated[
        str, typer.Option(help="Address to bind; keep 127.0.0.1 unless you know why.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0 = a free one).")] = 8765,
    speed: Annotated[
        float,
        typer.Option(help="Wall seconds per simulated trading session; 0 = time only moves when stepped."),
    ] = 10.0,
    closed_seconds: Annotated[
        float, typer.Option(help="Wall seconds for the closed time between sessions.")
    ] = 1.0,
    start: Annotated[str, typer.Option(help="Simulated start date (YYYY-MM-DD) or ISO time.")] = "2020-01-02",
    accounts: Annotated[
        Path | None, typer.Option(help="YAML/JSON accounts file (keys, cash, positions with lots).")
    ] = None,
    data: Annotated[
        Path | None, typer.Option(help="Directory of daily CSVs (bundled real data by default).")
    ] = None,
    database: Annotated[
        Path, typer.Option(help="SQLite file that keeps orders and fills across restarts.")
    ] = Path("state/paper-broker.sqlite"),
    reset: Annotated[bool, typer.Option(help="Start over: forget all orders, fills and balances.")] = False,
    faults: Annotated[
        str | None,
        typer.Option(help='Fault injection as JSON, e.g. \'{"error_rate": 0.05, "slow_rate": 0.1}\'.'),
    ] = None,
) -> None:
    """Run the embedded paper broker: Alpaca's Trading and Market Data APIs on real historical prices."""
    from bot.paper_broker.accounts import AccountsFileError
    from bot.paper_broker.faults import FaultConfig
    from bot.paper_broker.marketdata import MarketDataError
    from bot.paper_broker.server import ClockConfig, PaperBroker, ServerConfig, load_accounts_file

    try:
        fault_config = FaultConfig.model_validate(json.loads(faults)) if faults else FaultConfig()
        clock = ClockConfig(
            mode="speed" if speed > 0 else "manual",
            start=_parse_start(start),
            session_seconds=speed if speed > 0 else 10.0,
            closed_seconds=closed_seconds,
        )
        config = ServerConfig(
            host=host,
            port=port,
            database=database,
            reset=reset,
            accounts=load_accounts_file(accounts),
            data_dir=data,
            clock=clock,
            faults=fault_config,
        )
        broker = PaperBroker(config)
    except (AccountsFileError, MarketDataError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"paper broker on {broker.url.replace(':None', f':{port}')} (Ctrl-C to stop)")
    for account in broker.engine.accounts.values():
        typer.echo(f"  account {account.name}: key id {account.key_id}")
    broker.serve_forever()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
