"""The ``rebalance-bot`` command line (Typer): each command is a thin front-end over the engine."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, TextIO

import typer

from bot.cli_fleet import fleet
from bot.cli_init import init
from bot.cli_options import AlpacaOption, CacheOption, DataOption, VerboseOption
from bot.cli_tune import tune

app = typer.Typer(
    name="rebalance-bot",
    help="Keeps an Alpaca portfolio on its target allocation, unattended, with an offline paper broker.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _options(
    ctx: typer.Context,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show every log line, and the full trace of a failure.")
    ] = False,
) -> None:
    """Options for every command: one line per problem by default, everything with --debug."""
    from bot.cli_checks import console_logs

    ctx.call_on_close(console_logs(debug))


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
    """Load the config or exit with code 2 and one line per problem (:mod:`bot.cli_checks`)."""
    from bot.cli_checks import load_or_exit

    return load_or_exit(config_path)


def _store(config):  # noqa: ANN001, ANN202 - BotConfig -> StateStore
    """The state, or exit 2 saying why it cannot be opened (server down, newer schema...)."""
    from bot.state.location import state_target
    from bot.state.store import StateError, StateStore

    try:
        return StateStore(state_target(config))
    except StateError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


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
def check_config(
    config: ConfigOption = DEFAULT_CONFIG,
    online: Annotated[
        bool, typer.Option("--online", help="Also ask each account's broker whether it trades every target.")
    ] = False,
) -> None:
    """Validate the config file: exit 0 when it is usable, 2 with one line per problem when not."""
    from bot.cli_checks import fail, key_problems

    loaded = _load(config)
    missing = key_problems(loaded)
    if missing:
        fail(f"invalid config {config}:", [f"  {p}" for p in missing])
    if online:
        from bot.cli_checks import check_online

        with _connected(loaded) as connections:
            check_online(loaded, connections.brokers)
    weights = ", ".join(f"{s} {w:.1%}" for s, w in loaded.targets.weights.items())
    typer.echo(f"{config}: OK")
    typer.echo(f"  accounts: {', '.join(f'{a.name} ({a.broker})' for a in loaded.accounts)}")
    typer.echo(f"  targets: {weights}, cash {loaded.targets.cash:.1%}")
    if loaded.household is not None:
        members = ", ".join(f"{n} ({loaded.household_type(n)})" for n in loaded.household.names)
        typer.echo(f"  household {loaded.household.name}: {members}, planned and approved together")
    if loaded.telegram is not None:
        chats = ", ".join(str(c) for c in loaded.telegram.allowed_chats)
        typer.echo(f"  telegram: obeys chats {chats} (bot token from {loaded.telegram.token_env})")


@app.command()
def run(config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Run the bot unattended until Ctrl-C or SIGTERM, with its web dashboard (unless web.enabled: false)."""
    from bot.approval.links import LinkSigner, access_token, signing_key
    from bot.broker_watch import KeysRefused
    from bot.cli_checks import broker_errors
    from bot.state.lock import AlreadyRunning
    from bot.web.server import DashboardService
    from bot.worker import Bot, build_notifier, connect, run_forever, tick_seconds

    loaded = _load(config)
    with broker_errors(loaded):
        notifier, notify_secrets = build_notifier(loaded)
        chat_token = _chat_token(loaded)
        connections = connect(loaded)
    state_dir = Path(loaded.state_dir)
    store = _store(loaded)
    signer = LinkSigner(signing_key(state_dir))
    services = []
    token = None
    if loaded.web.enabled:
        token, created = access_token(state_dir)
        if created:
            announce_token(token, state_dir / "web-token")
    hidden = [
        *connections.secrets,
        *notify_secrets,
        *([token] if token else []),
        *([chat_token] if chat_token else []),
    ]
    _logging(loaded, secrets=hidden)
    bot = Bot(loaded, connections.brokers, store, notifier=notifier, signer=signer)
    if token is not None:
        services.append(DashboardService(bot, token, loaded.logging.file or state_dir / "bot.log"))
    if chat_token is not None:
        from bot.chat.service import TelegramService

        services.append(TelegramService(bot, loaded.telegram, chat_token))
    try:
        run_forever(
            bot,
            state_dir,
            tick_seconds(loaded, connections),
            services=services,
            on_started=lambda: announce_start(loaded, bot, connections),
        )
    except AlreadyRunning as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    except KeysRefused as exc:  # logged by the bot; nothing changes until a person fixes the keys
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    finally:
        connections.close()


def _chat_token(config) -> str | None:  # noqa: ANN001 - BotConfig
    """The Telegram bot token when ``telegram`` is configured (an unset variable: exit 2 naming it)."""
    if config.telegram is None:
        return None
    from bot.chat.settings import resolve_token

    return resolve_token(config.telegram)


def announce_start(config, bot, connections) -> None:  # noqa: ANN001 - BotConfig, Bot, Connections
    """The start-up banner (:mod:`bot.banner`), printed and logged."""
    from bot.banner import announce

    embedded = getattr(connections.embedded, "url", None)
    urls = {a.name: a.trading_url or embedded or "?" for a in config.accounts}
    for line in announce(config, bot.primary, urls):
        typer.echo(line)


def announce_token(token: str, path: Path, stream: TextIO | None = None) -> None:
    """Tell the person starting the bot about a new dashboard token. Printed only to a terminal: under
    systemd or a container, stdout goes to the journal or a log collector that others may read, so there
    the token stays in its 0600 file and only the file is named."""
    stream = stream or sys.stdout
    if stream.isatty():
        print(f"dashboard access token (shown only now; kept in {path}): {token}", file=stream, flush=True)
    else:
        print(
            f"a dashboard access token was created in {path} (readable only by this user); it is not "
            "printed because stdout is not a terminal",
            file=stream,
            flush=True,
        )


@app.command()
def plan(
    config: ConfigOption = DEFAULT_CONFIG,
    verbose: VerboseOption = False,
) -> None:
    """Dry run: show drift and the plan that would be sent now. Nothing is submitted or stored."""
    from bot.clock import BrokerFollowingClock
    from bot.cycle import AccountBot
    from bot.limit_refusal import preview_lines
    from bot.state.store import StateStore

    loaded = _load(config).deciding_now()
    with _connected(loaded) as connections:
        scratch = StateStore(None)
        if loaded.tax is not None or loaded.household is not None:
            # a dry run's ledger: imported lots from the state, fills from the broker
            _copy_imported_lots(loaded, scratch)
            _refresh_household(loaded, connections.brokers, scratch)
        members = set(loaded.household.names) if loaded.household is not None else set()
        if loaded.household is not None:
            _preview_household(loaded, connections.brokers, scratch)
        for account in loaded.accounts:
            if account.name in members:
                continue
            broker = connections.brokers[account.name]
            clock = BrokerFollowingClock()
            clock.observe(broker.clock().timestamp)
            bot = AccountBot(loaded, account, broker, scratch, clock)
            preview, explanation = bot.preview(brief=None if verbose else " (--verbose for all)")
            typer.echo(f"== account {account.name} at {clock.now():%Y-%m-%d %H:%M} UTC")
            typer.echo(explanation)
            for line in preview_lines(loaded, account.name, preview, clock.now().date()):
                typer.echo(line)


def _preview_household(config, brokers, scratch) -> None:  # noqa: ANN001 - BotConfig, brokers, StateStore
    """The household's plan as the bot would make it now: the trades of every member account, the objective
    term by term, estimated tax and cost per account and the constraints that bound (issue 9)."""
    from bot.clock import BrokerFollowingClock
    from bot.household import HouseholdBot

    household = config.household
    clock = BrokerFollowingClock()
    clock.observe(brokers[household.accounts[0].account].clock().timestamp)
    bot = HouseholdBot(config, brokers, scratch, clock)
    typer.echo(
        f"== household {household.name} ({', '.join(household.names)}) at {clock.now():%Y-%m-%d %H:%M} UTC"
    )
    typer.echo(bot.preview())


def _copy_imported_lots(config, scratch) -> None:  # noqa: ANN001 - BotConfig, StateStore
    """A dry run must not write the real state: it works on a scratch store with the imported lots copied."""
    from bot.state.location import state_exists, state_target
    from bot.state.store import StateStore

    if not state_exists(config):
        return
    with StateStore(state_target(config)) as real:
        for account in config.accounts:
            scratch.replace_imported_lots(account.name, real.tax_fills(account=account.name, source="import"))


def _refresh_household(config, brokers, store) -> None:  # noqa: ANN001
    """Every account's fills, so the wash-sale rule sees the whole household."""
    from bot.tax.sync import refresh_fills

    for account in config.accounts:
        refresh_fills(brokers[account.name], store, account.name)


def _uses_embedded(config) -> bool:  # noqa: ANN001
    return any(a.broker == "embedded" and a.base_url is None for a in config.accounts)


@contextmanager
def _connected(loaded) -> Iterator:  # noqa: ANN001 - BotConfig; yields bot.worker.Connections
    """The config's brokers for a one-off command. With the embedded paper broker the state folder is locked
    first: that broker lives in a running bot's process, and a second one on the same files would diverge."""
    from bot.cli_checks import broker_errors
    from bot.state.lock import AlreadyRunning, StateLock
    from bot.worker import connect

    try:
        lock = StateLock(Path(loaded.state_dir)).__enter__() if _uses_embedded(loaded) else None
    except AlreadyRunning as exc:
        typer.echo(f"error: {exc}; the embedded paper broker lives in that process", err=True)
        raise typer.Exit(1) from exc
    try:
        with broker_errors(loaded):  # unset key variables, a broker down or refusing the keys: exit 2
            connections = connect(loaded, speed=False)
            try:
                yield connections
            finally:
                connections.close()
    finally:
        if lock is not None:
            lock.__exit__(None, None, None)


@app.command()
def status(config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Each account read from its broker now (positions, cash, equity, P&L, weights and drift; the last known
    picture when the broker cannot be read), the latest closes, open orders, pending approvals, last run."""
    from bot.live_picture import status_pictures
    from bot.reports import print_status

    loaded = _load(config)
    store = _store(loaded)
    print_status(loaded, store, pictures=status_pictures(loaded, store))


@app.command()
def history(
    config: ConfigOption = DEFAULT_CONFIG,
    limit: int = 20,
    verbose: VerboseOption = False,
) -> None:
    """Recent plans and their orders, with fills; why each was made, refused or held."""
    from bot.reports import print_history

    loaded = _load(config)
    print_history(_store(loaded), limit, verbose=verbose)


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


lots_app = typer.Typer(help="The tax lot ledger: import lots bought before the bot, list open lots.")
app.add_typer(lots_app, name="lots")


@lots_app.command("import")
def lots_import(
    file: Annotated[
        Path | None,
        typer.Argument(help="CSV: symbol,qty,price,date (or cost_basis). Default: tax.accounts.*.lots_csv."),
    ] = None,
    config: ConfigOption = DEFAULT_CONFIG,
    account: Annotated[
        str | None, typer.Option(help="The account the lots belong to (default: the only one).")
    ] = None,
) -> None:
    """Import the lots of positions bought before the bot (or transferred in); all rows or none. Replaces
    the account's earlier import. Without FILE, every account's ``tax.accounts.NAME.lots_csv`` is imported."""
    from bot.tax.importer import LotsImportError, import_lots

    loaded = _load(config)
    if file is not None:
        jobs = [(_account_name(loaded, account), file)]
    else:
        settings = loaded.tax.accounts if loaded.tax is not None else {}
        jobs = [(n, s.lots_csv) for n, s in settings.items() if s.lots_csv and account in (None, n)]
        if not jobs:
            typer.echo("error: give FILE, or set tax.accounts.NAME.lots_csv in the config", err=True)
            raise typer.Exit(2)
    store = _store(loaded)
    for name, path in jobs:
        try:
            lots = import_lots(store, name, path, today=date.today())
        except LotsImportError as exc:
            typer.echo(f"error: nothing imported from {path}:", err=True)
            for problem in exc.problems:
                typer.echo(f"  {problem}", err=True)
            raise typer.Exit(2) from exc
        symbols = sorted({lot.symbol for lot in lots})
        typer.echo(f"imported {len(lots)} lots of {', '.join(symbols)} into account {name}")
    typer.echo("the running bot reconciles them with the broker on its next cycle")


@lots_app.command("list")
def lots_list(config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Open lots per the ledger (as of the bot's last refresh), and symbols blocked by a mismatch."""
    from bot.tax.ledger import household_ledger

    loaded = _load(config)
    store = _store(loaded)
    ledger, _ = household_ledger(store, loaded)
    for lot in sorted(ledger.lots, key=lambda lot: (lot.account, lot.symbol, lot.acquired)):
        typer.echo(
            f"{lot.account:12} {lot.symbol:6} {lot.qty:>14} sh  bought {lot.acquired.isoformat()}"
            f"  basis {lot.basis:,.2f}  ({lot.lot_id})"
        )
    for block in store.tax_blocks():
        typer.echo(
            f"MISMATCH {block.account} {block.symbol}: ledger {block.ledger_qty} vs broker {block.broker_qty}"
            f" since {block.detected_at:%Y-%m-%d %H:%M} UTC"
        )


def _account_name(config, account: str | None) -> str:  # noqa: ANN001
    names = [a.name for a in config.accounts]
    if account is None:
        if len(names) == 1:
            return names[0]
        typer.echo(f"error: name the account with --account ({', '.join(names)})", err=True)
        raise typer.Exit(2)
    if account not in names:
        typer.echo(f"error: no account {account!r} in the config ({', '.join(names)})", err=True)
        raise typer.Exit(2)
    return account


@app.command()
def taxes(
    config: ConfigOption = DEFAULT_CONFIG,
    year: Annotated[int | None, typer.Option(help="Calendar year (default: the broker's current).")] = None,
    top: Annotated[int, typer.Option(help="How many largest-gain lots to list.")] = 10,
) -> None:
    """Tax report: realised gains and losses year to date by term, harvested losses, wash sales avoided and
    incurred, and the taxable lots with the largest long-term gains (candidates for gifting or donation
    instead of sale; short-term gains are listed apart: a donation of one deducts only its basis)."""
    from bot.reports import print_taxes

    loaded = _load(config)
    with _connected(loaded) as connections:
        print_taxes(loaded, _store(loaded), connections.brokers, year=year, top=top)


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
    """Plans waiting for a person's decision: why, what, estimated cost and tax, until when."""
    from bot.approval.summary import PlanSummary

    loaded = _load(config)
    store = _store(loaded)
    pending = store.pending_approvals()
    if not pending:
        typer.echo("no plans waiting for approval")
    for approval in pending:
        held = store.get_plan(approval.plan_id)
        expires = f"expires {approval.expires_at:%Y-%m-%d %H:%M} UTC" if approval.expires_at else "no expiry"
        typer.echo(f"{approval.plan_id}  (version {approval.content_hash[:12]}, {expires})")
        if held is not None:
            summary = PlanSummary.of(held)
            typer.echo(f"  why you are asked: {summary.why_asked}")
            typer.echo(f"  {summary.cost_line()}")
            typer.echo("  " + held.explanation.replace("\n", "\n  "))
        typer.echo(f"  decide: rebalance-bot approve {approval.plan_id}  (or reject ... --reason ...)")


@app.command()
def approve(plan_id: str, config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Approve a held plan; the running bot executes it on its next tick. A request that has expired (on the
    broker's clock, by the bot's own rule) is refused with exit code 2."""
    from bot.actions import ActionError, approve_plan
    from bot.cli_expiry import refuse_if_lapsed

    loaded = _load(config)
    store = _store(loaded)
    now = refuse_if_lapsed(loaded, store, plan_id)
    try:
        approve_plan(store, plan_id, who=_who(), channel="cli", now=now)
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
    household: Annotated[
        bool,
        typer.Option(
            help="A three-account household (taxable, IRA, Roth; config/household.yaml), planned together."
        ),
    ] = False,
) -> None:
    """Run the bot on the embedded paper broker over Q1 2020 on real prices, approving as a person would."""
    if household:
        from bot.household.demo import run_household_demo

        raise typer.Exit(run_household_demo(state_dir, session_seconds))
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
    broker.start()
    typer.echo(f"paper broker on {broker.url} at simulated {broker.now:%Y-%m-%d %H:%M} UTC (Ctrl-C to stop)")
    for account in broker.engine.accounts.values():
        typer.echo(f"  account {account.name}: key id {account.key_id}, Broker API account_id {account.id}")
    broker.serve_forever()


@app.command()
def backtest(
    config: ConfigOption = DEFAULT_CONFIG,
    start: Annotated[
        str | None,
        typer.Option(help="First session, YYYY-MM-DD (default: the first one with data for every asset)."),
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="Last session, YYYY-MM-DD (default: the last in the data).")
    ] = None,
    targets: Annotated[
        str,
        typer.Option(
            help="60-40 (SPY/AGG), diversified (the example mix on funds with data since 2004), or config."
        ),
    ] = "config",
    policies: Annotated[
        str,
        typer.Option(
            help="Comma-separated: never, monthly, quarterly, annual, band-5pp-monthly, opportunistic-20pct, "
            "bot (the config's own policy), any other registered one, or all."
        ),
    ] = "all",
    data: DataOption = None,
    alpaca: AlpacaOption = False,
    cache: CacheOption = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Write metrics/equity/drift/trades CSV, summary.json and report.html here."),
    ] = None,
    costs: Annotated[
        bool,
        typer.Option(
            "--costs/--no-costs", help="Charge the paper broker's spread and impact (and commission)."
        ),
    ] = True,
    spread_bps: Annotated[
        float | None,
        typer.Option(help="Full bid-ask spread in bp for every asset (default: calibrated per asset)."),
    ] = None,
    commission: Annotated[float, typer.Option(help="Commission per order in dollars (Alpaca: 0).")] = 0.0,
    dividends: Annotated[
        str,
        typer.Option(help="reinvest (trade at adj_close) or cash (trade at close, dividends paid to cash)."),
    ] = "reinvest",
    capital: Annotated[
        float, typer.Option(help="Starting cash, invested at target on the first session.")
    ] = 100_000.0,
    contribution: Annotated[
        float, typer.Option(help="Deposit on every --contribution-every date; negative for a withdrawal.")
    ] = 0.0,
    contribution_every: Annotated[str, typer.Option(help="week, month, quarter or year.")] = "month",
    flows_to: Annotated[
        str,
        typer.Option(
            help="underweight (invest at once where the targets need it) or cash (left to the policy)."
        ),
    ] = "underweight",
    risk_free: Annotated[float, typer.Option(help="Yearly risk-free rate for the Sharpe ratio.")] = 0.0,
) -> None:
    """Replay daily history through the bot's decision code and compare rebalancing policies."""
    from rich.console import Console

    from bot.backtest.costs import FREE, CostModel
    from bot.backtest.data import DividendMode, MarketDataError, load_history
    from bot.backtest.engine import CashFlows, FlowsTo, SimOptions
    from bot.backtest.html import write_html
    from bot.backtest.policies import policies_for, targets_for
    from bot.backtest.progress import progress_bar
    from bot.backtest.report import print_report, write_files
    from bot.backtest.runner import run_policies
    from bot.cli_checks import load_for_backtest
    from strategies.costs import Commission
    from strategies.schedules import Period, Periodic

    loaded = load_for_backtest(config, targets, given=config != DEFAULT_CONFIG)
    try:
        allocation = targets_for(targets, loaded)
        chosen = policies_for([p.strip() for p in policies.split(",") if p.strip()], loaded)
        first = date.fromisoformat(start) if start else None
        last = date.fromisoformat(end) if end else None
        flows = (
            CashFlows(contribution, Periodic(Period(contribution_every)), FlowsTo(flows_to))
            if contribution
            else None
        )
        model = (
            CostModel(spread_bps=spread_bps, commission=Commission(per_order=commission)) if costs else FREE
        )
        options = SimOptions(capital=capital, dividends=DividendMode(dividends), costs=model, flows=flows)
        data_dir = data
        if alpaca:
            data_dir = _alpaca_bars(loaded, allocation.symbols, first, last, cache)
        history = load_history(allocation.symbols, first, last, data_dir)
    except (MarketDataError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if first is None:
        typer.echo(f"start: {history.start} (the first session with data for every asset)")
    console = Console()
    if not console.is_terminal:  # piped or redirected: do not squeeze the tables into 80 columns
        console = Console(width=150)
    with progress_bar(console) as bar:  # a bar per policy, on a terminal only
        comparison = run_policies(
            history, allocation, chosen, options, loaded.bands.to_policy(), risk_free, targets, bar
        )
    print_report(comparison, console)
    if out is not None:
        written = [*write_files(comparison, out), write_html(comparison, out / "report.html")]
        typer.echo("wrote " + ", ".join(str(p) for p in written))


def _alpaca_bars(config, symbols, first, last, cache):  # noqa: ANN001, ANN202 - returns the cache Path
    """Fetch (or reuse) Alpaca daily bars for the backtest with the first account that has keys."""
    from datetime import timedelta

    from alpaca.data.historical import StockHistoricalDataClient

    from bot.backtest.data import fetch_alpaca_bars
    from bot.config import resolve_credentials

    account = next((a for a in config.accounts if a.needs_credentials), None)
    if account is None:
        raise ValueError(
            "--alpaca needs an account with Alpaca keys in the config (alpaca_paper or alpaca_live)"
        )
    credentials = resolve_credentials(account)
    url = account.base_url if account.broker == "embedded" else None
    client = StockHistoricalDataClient(credentials.key_id, credentials.secret_key, url_override=url)
    end = last or date.today() - timedelta(days=1)
    begin = first or date(2016, 1, 4)  # Alpaca's daily history starts in 2016
    return fetch_alpaca_bars(symbols, begin, end, cache or Path(config.state_dir) / "bars", client)


app.command()(tune)  # in its own module (bot/cli_tune.py): this one is long enough
app.command()(init)  # bot/cli_init.py
app.command()(fleet)  # bot/cli_fleet.py


def main() -> None:
    """The console script: a failure no check foresaw is one line too; the trace with --debug."""
    try:
        app()
    except Exception as exc:
        if "--debug" in sys.argv[1:]:
            raise
        print(
            f"error: {type(exc).__name__}: {exc} (run again with --debug for the full trace)", file=sys.stderr
        )
        raise SystemExit(1) from exc


if __name__ == "__main__":
    main()
