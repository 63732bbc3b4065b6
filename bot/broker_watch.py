"""Whether the broker answers: the bot waits (and says so) while it does not, and carries on when it does.

An unattended bot must outlive its broker's outages. While the broker cannot be reached (connection refused,
timeouts, 5xx bursts, after the adapter's own retries) or refuses the keys (401/403), no scheduler tick
raises: the bot logs one clear line, sends one alert per outage (however many ways it fails during it),
sets the ``broker`` flag that ``status`` and the dashboard show, and tries again with a growing pause (the
scheduler's tick, doubled each failure up to five minutes, on an injected wall clock). A broker that stops
answering in the middle of an account's turn is the same outage as one seen at the clock. The first answer
after an outage clears the flag and says so.

At start-up a refusal of the keys is different: nothing will change until a person fixes the key variables,
so ``rebalance-bot run`` stops with :class:`KeysRefused`, one line naming the variables to check.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence

import structlog

from bot.broker.models import BrokerError, BrokerUnavailable
from bot.config import BotConfig
from bot.state.store import StateStore

log = structlog.get_logger(__name__)

FLAG = "broker"
AUTH_STATUSES = frozenset({401, 403})
MAX_PAUSE = 300.0


class KeysRefused(Exception):
    """The broker refused the API keys (401/403); the message names the variables to check."""


def keys_refused(exc: BaseException) -> bool:
    return isinstance(exc, BrokerError) and exc.status in AUTH_STATUSES


def keys_hint(config: BotConfig) -> str:
    """Which environment variables hold the keys of the accounts that use keys."""
    keyed = [a for a in config.accounts if a.needs_credentials]
    if not keyed:
        return "the embedded paper broker's keys are the bot's own; this should not happen"
    parts = [f"{a.key_id_env} and {a.secret_key_env} (account {a.name})" for a in keyed]
    return "check " + "; ".join(parts)


def describe(exc: BaseException, config: BotConfig) -> str:
    """One line a person can act on, for a broker failure."""
    if keys_refused(exc):
        return f"the broker refused the API keys ({exc}): {keys_hint(config)}"
    urls = sorted({a.trading_url for a in config.accounts if a.trading_url})
    where = f" at {', '.join(urls)}" if urls else ""
    if isinstance(exc, BrokerError) and exc.status == 404 and exc.code is None:
        return (
            f"the server{where} is not an Alpaca API (404: {exc.message[:80]}): check base_url; leave it "
            "out for Alpaca, whose URL the broker setting gives"
        )
    if isinstance(exc, BrokerError):
        return f"the broker refused a request ({exc})"
    return (
        f"cannot reach the broker{where} ({_cause(exc)}); check the network, base_url and the broker's "
        "status page"
    )


_CAUSES = (
    ("Name or service not known", "unknown host name"),
    ("nodename nor servname", "unknown host name"),
    ("Temporary failure in name resolution", "host name cannot be resolved"),
    ("Failed to establish a new connection", "nothing answers there"),
    ("Connection refused", "nothing answers there"),
    ("timed out", "timed out"),
    ("CERTIFICATE_VERIFY_FAILED", "its TLS certificate is not trusted"),
)


def _cause(exc: BaseException) -> str:
    """The root of a connection failure ("nothing answers there"), not urllib3's paragraph around it."""
    text = str(exc)
    attempts = re.search(r"after \d+ attempts", text)
    for needle, cause in _CAUSES:
        if needle in text:
            return cause + (f", {attempts.group(0)}" if attempts else "")
    return text[:200]


class BrokerWatch:
    """Up/down state of the broker, the pause before the next try, and telling people (once per outage)."""

    def __init__(
        self,
        config: BotConfig,
        store: StateStore,
        alert: Callable[[str, Sequence[str], str], None],
        wall: Callable[[], float] = time.monotonic,
        first_pause: float = 15.0,
    ) -> None:
        self.config = config
        self.store = store
        self.alert = alert
        self.wall = wall
        self.first_pause = first_pause
        self.reason: str | None = None
        """Why the broker is taken as down (None: it answered last time)."""
        self.failures = 0
        self._next_try: float | None = None

    def due(self) -> bool:
        """False while pausing after a failure (the tick then does nothing and says why)."""
        return self._next_try is None or self.wall() >= self._next_try

    def failed(self, exc: BaseException) -> str:
        """Record a failure: log, flag and alert on the first of an outage; pause before the next try."""
        reason = describe(exc, self.config)
        self.failures += 1
        pause = min(self.first_pause * 2 ** (self.failures - 1), MAX_PAUSE)
        self._next_try = self.wall() + pause
        if self.reason is None:
            self.reason = reason
            log.error("broker: " + reason + "; the bot waits and tries again", next_try_seconds=pause)
            self.store.set_flag(FLAG, reason)
            self.store.audit("broker_down", reason=reason)
            self.alert(
                "the broker cannot be used; the bot is waiting",
                [reason, "Nothing is traded until it answers again; the bot keeps trying by itself."],
                "broker",
            )
        else:  # the same outage, perhaps failing another way (5xx, then refused): the flag shows the latest
            if reason != self.reason:
                self.reason = reason
                self.store.set_flag(FLAG, reason)
            log.warning(
                "broker still not answering", failures=self.failures, next_try_seconds=pause, reason=reason
            )
        return reason

    def answered(self) -> None:
        """The broker answered: end an outage (flag cleared, people told)."""
        if self.reason is None:
            return
        log.info("broker answers again; the bot carries on", after_failures=self.failures)
        self.store.set_flag(FLAG, None)
        self.store.audit("broker_back", after_failures=self.failures)
        self.alert("the broker answers again", [f"It was down: {self.reason}"], "broker")
        self.reason, self.failures, self._next_try = None, 0, None


BROKER_FAILURES: tuple[type[BaseException], ...] = (BrokerUnavailable, BrokerError)
