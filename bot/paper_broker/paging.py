"""Alpaca's paging of historical market data (bars, quotes, trades), as one pure function.

Every historical Market Data endpoint pages the same way: the rows of several symbols, symbol by symbol then
by time (``sort`` orders time only), at most ``limit`` rows in all per page (default 1000, at most 10000), and
a ``next_page_token`` naming the last row sent when more remain. The token here is
``base64(symbol|timestamp)``; the next page resumes strictly after that row, so a request over years costs one
page's work per round trip as long as each fetch builds only the rows it is asked for.

Nothing here knows FastAPI or the engine: ``page`` takes the simulated ``now`` and a fetch function, so the
bars, quotes and trades routes share it wherever they run (a thread pool, another process).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from bot.paper_broker import errors
from bot.paper_broker.calendar import EXCHANGE_TZ
from bot.paper_broker.params import (
    DIRECTIONS,
    HISTORICAL_FEEDS,
    check_feed_and_currency,
    choice,
    date_param,
    market_data_error,
    time_param,
)

__all__ = ["Fetch", "SeriesQuery", "page"]

MAX_LIMIT = 10_000

Fetch = Callable[[str, datetime, datetime, int], list[dict]]
"""``fetch(symbol, lo, hi, wanted)``: at most ``wanted`` rows of ``symbol`` with ``lo <= t <= hi`` in the
query's order, each a JSON dict with its ``t``; [] for a symbol with no data."""


@dataclass(frozen=True)
class SeriesQuery:
    """The parameters every historical endpoint takes, validated (Alpaca's 400 naming the bad one)."""

    start: datetime | None
    end: datetime | None
    limit: int
    resume: tuple[str, str] | None
    sort: str

    @classmethod
    def parse(  # noqa: PLR0913 - Alpaca's parameters, one by one
        cls,
        start: str | None,
        end: str | None,
        limit: int,
        page_token: str | None,
        sort: str,
        feed: str | None,
        asof: str | None,
        currency: str | None,
    ) -> SeriesQuery:
        if not 1 <= limit <= MAX_LIMIT:
            raise market_data_error(f"limit must be between 1 and {MAX_LIMIT}")
        choice(sort, "sort", DIRECTIONS, market_data=True)
        check_feed_and_currency(feed, HISTORICAL_FEEDS, currency)
        try:
            date_param(asof, "asof")
        except errors.BrokerError as exc:
            raise market_data_error(exc.message) from None
        return cls(
            start=time_param(start, "start"),
            end=time_param(end, "end"),
            limit=limit,
            resume=decode_page_token(page_token),
            sort=sort,
        )


def page(symbols: list[str], query: SeriesQuery, now: datetime, fetch: Fetch) -> tuple[dict, str | None]:
    """One page: ``{symbol: [row, ...]}`` and the token of the next page (None on the last).

    ``start`` defaults to the beginning of the simulated day (New York), ``end`` to ``now``, and nothing after
    ``now`` is ever fetched, so no page shows the simulated future."""
    start, end = window(query, now)
    out: dict[str, list[dict]] = {}
    count, last = 0, ("", "")
    for symbol in sorted(set(symbols)):
        if query.resume and symbol < query.resume[0]:
            continue
        lo, hi = start, end
        if query.resume and symbol == query.resume[0]:
            lo, hi = after_token(query.resume[1], query.sort, lo, hi)
        if lo > hi:
            continue
        for row in fetch(symbol, lo, hi, query.limit - count + 1):  # one more than fits: is there more?
            if count == query.limit:
                return out, encode_page_token(*last)
            out.setdefault(symbol, []).append(row)
            count, last = count + 1, (symbol, row["t"])
    return out, None


def window(query: SeriesQuery, now: datetime) -> tuple[datetime, datetime]:
    """[start, end] as Alpaca reads them (``page`` says how); the bars routes also estimate a page's size
    from it."""
    start = query.start or datetime.combine(now.astimezone(EXCHANGE_TZ).date(), time(), EXCHANGE_TZ)
    return start, min(query.end or now, now)


def after_token(stamp: str, sort: str, lo: datetime, hi: datetime) -> tuple[datetime, datetime]:
    """The interval left after the row a page token names: strictly later (asc) or earlier (desc)."""
    at = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    step = timedelta(microseconds=1)
    return (max(lo, at + step), hi) if sort != "desc" else (lo, min(hi, at - step))


def encode_page_token(symbol: str, stamp: str) -> str:
    return base64.urlsafe_b64encode(f"{symbol}|{stamp}".encode()).decode()


def decode_page_token(token: str | None) -> tuple[str, str] | None:
    if not token:
        return None
    try:
        symbol, stamp = base64.urlsafe_b64decode(token.encode()).decode().split("|", 1)
        datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except (ValueError, UnicodeDecodeError):
        raise market_data_error("invalid page_token") from None
    return symbol, stamp
