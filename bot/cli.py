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


DEFAULT_CONFIG = Path("config/example.yaml")
ConfigOption = Annotated[
    Path,
    typer.Option("--config", "-c", envvar="REBALANCE_BOT_CONFIG", help="The bot's YAML config file."),
]


def _load(config_path: Path):  # noqa: ANN202 - BotConfig
    """Load the config or exit with code 2 and one line per problem: nothing is traded on a bad config."""
    from bot.config import ConfigError, load_config

    try:
        return load_config(config_path)
    except ConfigError as exc:
        typer.echo(f"error: invalid config {config_path}:", err=True)
        for problem in exc.problems:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(2) from exc


def _store(config):  # noqa: ANN001, ANN202 - BotConfig -> StateStore
    from bot.state.store import StateStore

    Path(config.state_dir).mkdir(parents=True, exist_ok=True)
    return StateStore(Path(config.state_dir) / "bot.sqlite")


def _logging(config, console: bool = True, secrets=()) -> None:  # noqa: ANN001
    from bot.logging_setup import configure_logging

    log_file = config.logging.file or Path(config.state_dir) / "bot.log"
    configure_logging(
        log_file,
        level=config.logging.level,
        console=console,
        max_bytes=config.logging.max_bytes,
        backups=config.logging.backups,
        secrets=secrets,
    )


@app.command("check-config")
def check_config(config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Validate the config file: exit 0 when it is usable, 2 with one line per problem when not."""
    loaded = _load(config)
    weights = ", ".join(f"{s} {w:.1%}" for s, w in loaded.targets.weights.items())
    typer.echo(f"{config}: OK")
    typer.echo(f"  accounts: {', '.join(f'{a.name} ({a.broker})' for a in loaded.accounts)}")
    typer.echo(f"  targets: {weights}, cash {loaded.targets.cash:.1%}")


@app.command()
def run(config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Run the bot unattended until Ctrl-C or SIGTERM."""
    from bot.config import ConfigError
    from bot.state.lock import AlreadyRunning
    from bot.worker import Bot, connect, run_forever, tick_seconds

    loaded = _load(config)
    try:
        connections = connect(loaded)
    except ConfigError as exc:
        for problem in exc.problems:
            typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(2) from exc
    _logging(loaded, secrets=connections.secrets)
    store = _store(loaded)
    try:
        run_forever(
            Bot(loaded, connections.brokers, store), Path(loaded.state_dir), tick_seconds(loaded, connections)
        )
    except AlreadyRunning as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        connections.close()


@app.command()
def plan(config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Dry run: show drift and the plan that would be sent now. Nothing is submitted or stored."""
    from bot.clock import BrokerFollowingClock
    from bot.cycle import AccountBot
    from bot.state.lock import AlreadyRunning, StateLock
    from bot.state.store import StateStore
    from bot.worker import connect

    loaded = _load(config)
    try:
        lock = StateLock(Path(loaded.state_dir)).__enter__() if _uses_embedded(loaded) else None
    except AlreadyRunning as exc:
        typer.echo(f"error: {exc}; the embedded paper broker lives in that process", err=True)
        raise typer.Exit(1) from exc
    connections = connect(loaded, speed=False)
    try:
        scratch = StateStore(None)
        for account in loaded.accounts:
            broker = connections.brokers[account.name]
            clock = BrokerFollowingClock()
            clock.observe(broker.clock().timestamp)
            bot = AccountBot(loaded, account, broker, scratch, clock)
            result = bot.make_plan(bot.read_view())
            typer.echo(f"== account {account.name} at {clock.now():%Y-%m-%d %H:%M} UTC")
            typer.echo(result.explain())
    finally:
        connections.close()
        if lock is not None:
            lock.__exit__(None, None, None)


def _uses_embedded(config) -> bool:  # noqa: ANN001
    return any(a.broker == "embedded" and a.base_url is None for a in config.accounts)


@app.command()
def status(config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Targets vs weights and drift of the latest plan, open orders, pending approvals, last run."""
    from bot.reports import print_status

    loaded = _load(config)
    print_status(loaded, _store(loaded))


@app.command()
def history(config: ConfigOption = DEFAULT_CONFIG, limit: int = 20) -> None:
    """Recent plans and their orders, with fills."""
    from bot.reports import print_history

    loaded = _load(config)
    print_history(_store(loaded), limit)


@app.command()
def logs(
    config: ConfigOption = DEFAULT_CONFIG,
    run_id: Annotated[str | None, typer.Option("--run", help="Only this run id.")] = None,
    account: Annotated[str | None, typer.Option(help="Only this account.")] = None,
    level: Annotated[str | None, typer.Option(help="Minimum level: debug, info, warning, error.")] = None,
    limit: Annotated[int, typer.Option(help="Show the last N lines.")] = 50,
) -> None:
    """Show the structured log, filtered by run, account and level."""
    from bot.logging_setup import read_log_lines

    loaded = _load(config)
    log_file = loaded.logging.file or Path(loaded.state_dir) / "bot.log"
    for line in read_log_lines(log_file, run_id=run_id, account=account, level=level, limit=limit):
        context = " ".join(
            f"{k}={v}" for k, v in line.items() if k not in ("timestamp", "level", "event", "logger")
        )
        typer.echo(
            f"{line.get('timestamp', '')} {line.get('level', ''):7} {line.get('event', '')}  {context}"
        )


@app.command("halt")
def halt_command(config: ConfigOption = DEFAULT_CONFIG, reason: str = "") -> None:
    """Kill switch: the bot sends nothing more and cancels its open orders."""
    from bot.actions import halt

    loaded = _load(config)
    halt(_store(loaded), who=_who(), reason=reason)
    typer.echo("halted: nothing will be sent; open orders of the bot are canceled on its next tick")


@app.command("resume")
def resume_command(config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Undo ``halt``."""
    from bot.actions import resume

    loaded = _load(config)
    resume(_store(loaded), who=_who())
    typer.echo("resumed")


@app.command()
def approvals(config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Plans waiting for a person's decision."""
    loaded = _load(config)
    store = _store(loaded)
    pending = store.pending_approvals()
    if not pending:
        typer.echo("no plans waiting for approval")
    for approval in pending:
        held = store.get_plan(approval.plan_id)
        typer.echo(f"{approval.plan_id}  (expires {approval.expires_at:%Y-%m-%d %H:%M} UTC)")
        if held is not None:
            typer.echo("  " + held.explanation.replace("\n", "\n  "))


@app.command()
def approve(plan_id: str, config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Approve a held plan; the running bot executes it on its next tick."""
    from bot.actions import ActionError, approve_plan

    loaded = _load(config)
    try:
        approve_plan(_store(loaded), plan_id, who=_who(), channel="cli")
    except ActionError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"approved {plan_id}")


@app.command()
def reject(
    plan_id: str,
    config: ConfigOption = DEFAULT_CONFIG,
    reason: Annotated[str, typer.Option(help="Why, for the audit trail.")] = "",
) -> None:
    """Reject a held plan: it is not executed, and not asked again until drift changes."""
    from bot.actions import ActionError, reject_plan

    loaded = _load(config)
    try:
        reject_plan(_store(loaded), plan_id, who=_who(), channel="cli", reason=reason)
    except ActionError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"rejected {plan_id}")


@app.command()
def demo(
    state_dir: Annotated[
        Path | None, typer.Option(help="Keep the demo's state here (default: a temp dir).")
    ] = None,
    session_seconds: Annotated[float, typer.Option(help="Wall seconds per simulated session.")] = 1.0,
) -> None:
    """Run the bot on the embedded paper broker over Q1 2020 on real prices, approving as a person would."""
    from bot.demo import run_demo

    raise typer.Exit(run_demo(state_dir, session_seconds))


def _who() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name is not a reason to refuse an action
        return "unknown"


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
