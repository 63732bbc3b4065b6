"""The paper broker's date and time query parameters, read as Alpaca reads them and range-checked.

Every ``start``/``end``/``after``/``until``/``date`` parameter goes through here, so that no value can reach
date arithmetic it would overflow: out-of-range values get Alpaca's 422 with a message, never a 500.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from bot.paper_broker import errors
from bot.paper_broker.margin import MULTIPLIERS
from bot.paper_broker.serialize import NEW_YORK

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
                parsed = datetime.combine(parsed.date(), time(), NEW_YORK)
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
