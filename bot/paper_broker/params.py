"""The paper broker's request parameters and JSON bodies, read as Alpaca reads them and range-checked.

Every ``start``/``end``/``after``/``until``/``date`` parameter goes through here, so that no value can reach
date arithmetic it would overflow: out-of-range values get Alpaca's 422 with a message, never a 500. Every
JSON body goes through ``json_body``, so malformed JSON is Alpaca's 400 on every route.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any

from bot.paper_broker import errors
from bot.paper_broker.calendar import EXCHANGE_TZ
from bot.paper_broker.margin import MULTIPLIERS

if TYPE_CHECKING:
    from starlette.requests import Request


async def json_body(request: Request) -> Any:
    """The request's JSON body (None when empty); Alpaca's 400 for anything that is not valid JSON."""
    raw = await request.body()
    try:
        body = json.loads(raw) if raw else None
        json.dumps(
            body, ensure_ascii=False
        ).encode()  # "\ud800" parses to a lone surrogate UTF-8 cannot encode
    except (ValueError, RecursionError):  # bad JSON or UTF-8, an int over Python's digit limit, deep nesting
        raise errors.malformed_body() from None
    return body


EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
"""Times and dates outside [EARLIEST, LATEST) are refused with 422: 0001-01-01 or 9999-12-31 overflowed
date arithmetic deeper down (a 500 that also reset the kept-alive connection), and no market data or
calendar reaches that far anyway."""


def _out_of_range(name: str, value: str) -> errors.BrokerError:
    return errors.invalid_request(
        f"invalid {name}: {value!r} is out of range (from {EARLIEST:%Y-%m-%d} to before {LATEST:%Y-%m-%d})"
    )


def time_param(value: str | None, name: str) -> datetime | None:
    """A query parameter as an aware UTC time: RFC 3339, or a bare date meaning midnight New York time;
    Alpaca's 422 when it is not one or lies outside the supported range."""
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise errors.invalid_request(f"invalid {name}: {value!r} is not an RFC 3339 time or date") from None
    try:
        if parsed.tzinfo is None:
            if len(value) <= 10:  # a bare date means midnight New York time
                parsed = datetime.combine(parsed.date(), time(), EXCHANGE_TZ)
            else:
                parsed = parsed.replace(tzinfo=UTC)
        parsed = parsed.astimezone(UTC)
    except (OverflowError, ValueError):  # e.g. 9999-12-31T23:59:59-14:00 is past year 9999 in UTC
        raise _out_of_range(name, value) from None
    if not EARLIEST <= parsed < LATEST:
        raise _out_of_range(name, value)
    return parsed


def date_param(value: str | None, name: str) -> date | None:
    """A query parameter as a date (the first 10 characters, as Alpaca reads them); 400 when malformed,
    422 when outside the supported range."""
    if value is None or value == "":
        return None
    try:
        day = date.fromisoformat(value[:10])
    except ValueError:
        raise errors.BrokerError(400, 40010000, f"invalid {name}: {value!r} is not a date") from None
    if not EARLIEST.date() <= day < LATEST.date():
        raise _out_of_range(name, value)
    return day


CONFIGURATION_FLAGS = ("suspend_trade", "fractional_trading")


def configuration_changes(body: dict) -> dict:
    """The settings a ``PATCH /v2/account/configurations`` body changes, validated: the boolean flags, and
    ``max_margin_multiplier`` as one of the strings Alpaca's spec lists ("1", "2", "4"). Keys the paper
    broker does not model (e.g. ``trade_confirm_email``) are accepted and ignored, as before."""
    changes = {k: body[k] for k in CONFIGURATION_FLAGS if k in body}
    if any(not isinstance(v, bool) for v in changes.values()):
        raise errors.invalid_request("configuration flags must be booleans")
    if "max_margin_multiplier" in body:
        value = body["max_margin_multiplier"]
        if not isinstance(value, str) or value not in MULTIPLIERS:
            raise errors.invalid_request(
                f"invalid max_margin_multiplier: {value!r}, must be one of {', '.join(MULTIPLIERS)}"
            )
        changes["max_margin_multiplier"] = value
    return changes


# -- enumerated parameters: Alpaca refuses values outside its lists, so a typo never passes as a default
ACTIVITY_TYPES = tuple(
    [
        "FILL",
        "TRANS",
        "MISC",
        "ACATC",
        "ACATS",
        "CFEE",
        "CGD",
        "CSD",
        "CSW",
        "DIV",
        "DIVCGL",
        "DIVCGS",
        "DIVFEE",
        "DIVFT",
        "DIVNRA",
        "DIVROC",
        "DIVTW",
        "DIVTXEX",
        "FEE",
        "INT",
        "INTNRA",
        "INTTW",
        "JNL",
        "JNLC",
        "JNLS",
        "MA",
        "NC",
        "OPASN",
        "OPCA",
        "OPCSH",
        "OPEXC",
        "OPEXP",
        "OPTRD",
        "PTC",
        "PTR",
        "REO",
        "REORG",
        "SPIN",
        "SPLIT",
        "FOPT",
        "OCT",
    ]
)
"""The Trading API spec's ``ActivityType`` enum."""
ACTIVITY_CATEGORIES = {"trade_activity": frozenset({"FILL"}), "non_trade_activity": None}
ASSET_CLASSES = (
    "us_equity",
    "us_option",
    "crypto",
    "crypto_perp",
    "treasury",
    "corporate",
    "global_equity",
    "us_index",
    "us_equity_chain",
    "ipo",
)
ASSET_STATUSES = ("active", "inactive")
EXCHANGES = ("AMEX", "ARCA", "BATS", "NYSE", "NASDAQ", "NYSEARCA", "OTC", "CRYPTO")
ASSET_ATTRIBUTES = tuple(
    [
        "ptp_no_exception",
        "ptp_with_exception",
        "ipo",
        "has_options",
        "options_late_close",
        "fractional_eh_enabled",
        "overnight_tradable",
        "overnight_halted",
    ]
)
ORDER_SIDES = ("buy", "sell")
DIRECTIONS = ("asc", "desc")
HISTORICAL_FEEDS = ("iex", "otc", "sip", "boats")
LATEST_FEEDS = ("delayed_sip", "iex", "otc", "sip", "boats", "overnight")
ADJUSTMENTS = ("raw", "split", "dividend", "spin-off", "all")


def market_data_error(message: str) -> errors.BrokerError:
    """The Market Data API's answer to a bad parameter: 400, code 40010000, the message naming it."""
    return errors.BrokerError(400, 40010000, message)


def check_feed_and_currency(feed: str | None, feeds: tuple[str, ...], currency: str | None) -> None:
    """The ``feed`` and ``currency`` every Market Data endpoint takes: one of ``feeds``, and USD only."""
    choice(feed, "feed", feeds, market_data=True)
    if currency not in (None, "", "USD"):
        raise market_data_error(f"invalid currency: {currency!r}, the paper broker quotes USD only")


def symbols_param(text: str) -> list[str]:
    """A comma-separated ``symbols`` list, upper-cased; 400 when it names none."""
    symbols = [s.strip().upper() for s in text.split(",") if s.strip()]
    if not symbols:
        raise market_data_error("symbols is required")
    return symbols


def _invalid(name: str, value: str, allowed: tuple[str, ...], market_data: bool) -> errors.BrokerError:
    message = f"invalid {name}: {value!r}, must be one of {', '.join(allowed)}"
    # The Market Data API answers a bad parameter with 400, the Trading API with 422 (as its other fields).
    return market_data_error(message) if market_data else errors.invalid_request(message)


def choice(
    value: str | None, name: str, allowed: tuple[str, ...], *, market_data: bool = False
) -> str | None:
    """``value`` if it is one of ``allowed`` (None if absent), else Alpaca's error naming the parameter."""
    if value is None or value == "":
        return None
    if value not in allowed:
        raise _invalid(name, value, allowed, market_data)
    return value


def choices(
    text: str | None, name: str, allowed: tuple[str, ...], *, upper: bool = False, market_data: bool = False
) -> frozenset[str] | None:
    """A comma-separated list parameter, each item checked against ``allowed``; None if absent."""
    if text is None or text.strip() == "":
        return None
    items = [item.strip().upper() if upper else item.strip() for item in text.split(",") if item.strip()]
    for item in items:
        choice(item, name, allowed, market_data=market_data)
    return frozenset(items)


def adjustment(text: str | None) -> frozenset[str]:
    """Alpaca's ``adjustment``: one of raw/split/dividend/spin-off/all or a comma-separated combination;
    ``all`` means split and dividend (the bundled data has no spin-offs); default raw."""
    chosen = choices(text, "adjustment", ADJUSTMENTS, market_data=True) or frozenset({"raw"})
    if "all" in chosen:
        return frozenset({"split", "dividend"})
    return frozenset(chosen - {"raw", "spin-off"})


def uuid_param(value: str | None, name: str) -> str | None:
    if value is None or value == "":
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise errors.invalid_request(f"invalid {name}: {value!r} is not a UUID") from None


class AssetFilter:
    """``GET /v2/assets`` filters, validated: each narrows the list (an unknown value is refused)."""

    def __init__(
        self,
        status: str | None,
        asset_class: str | None,
        exchange: str | None,
        attributes: frozenset[str] | None,
    ) -> None:
        self.status, self.asset_class, self.exchange, self.attributes = (
            status,
            asset_class,
            exchange,
            attributes,
        )

    @classmethod
    def parse(
        cls, status: str | None, asset_class: str | None, exchange: str | None, attributes: str | None
    ) -> AssetFilter:
        return cls(
            choice(status, "status", ASSET_STATUSES),
            choice(asset_class, "asset_class", ASSET_CLASSES),
            choice(exchange.upper() if exchange else None, "exchange", EXCHANGES),
            choices(attributes, "attributes", ASSET_ATTRIBUTES),
        )

    def matches(self, asset: dict) -> bool:
        return (
            (self.status is None or asset["status"] == self.status)
            and (self.asset_class is None or asset["class"] == self.asset_class)
            and (self.exchange is None or asset["exchange"] == self.exchange)
            and (self.attributes is None or bool(self.attributes & set(asset["attributes"])))
        )
