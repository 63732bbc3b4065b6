"""Bid-ask spreads estimated from bar prices (high, low, close), for data that has no quotes.

Pure functions on float arrays (no I/O). ``scripts/calibrate_costs.py`` applies them to the bundled real bars
to build the per-symbol spread table every cost reader shares (``bot/paper_broker/data/costs.json``).

Why two estimators: both are published, closed-form and need only bar prices; Abdi-Ranaldo (2017) is the one
the calibration uses (it also uses the close, which makes it less sensitive to how volatile a bar was),
Corwin-Schultz (2012) is reported beside it as a cross-check. The well-kept library of the field, ``bidask``
(Ardia, Guidotti & Kroencke), implements only their later EDGE estimator, not these two.

Both estimators see the spread through the bid-ask bounce of a bar's extremes and close, against the
bar's own price range: on *daily* bars the range of a liquid ETF (50-150 bp) dwarfs a one-cent spread
(0.3 bp for SPY), and the estimates are dominated by noise and volatility (tens of bp for SPY, a hundred
times the quoted spread). On 1-minute bars the range is a few bp and the bounce shows: applied to the
bundled real minute bars they land at one or two ticks, as published spreads do. Hence :func:`tick_floor`:
a quoted spread can never be narrower than one tick.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["abdi_ranaldo", "abdi_ranaldo_squared", "corwin_schultz", "tick_floor"]

BP = 10_000.0


def _logs(*series: ArrayLike) -> list[np.ndarray]:
    arrays = [np.asarray(s, dtype=float) for s in series]
    n = arrays[0].size
    if any(a.size != n for a in arrays):
        raise ValueError("high, low and close must have the same length")
    if n < 2:
        raise ValueError("a spread estimate needs at least two consecutive bars")
    if any(np.any(~np.isfinite(a) | (a <= 0)) for a in arrays):
        raise ValueError("bar prices must be finite and > 0")
    if np.any(arrays[0] < arrays[1]):
        raise ValueError("a bar's high is below its low")
    return [np.log(a) for a in arrays]


def abdi_ranaldo_squared(high: ArrayLike, low: ArrayLike, close: ArrayLike) -> np.ndarray:
    """The two-bar estimates of the squared relative spread, one per pair of consecutive bars.

    Abdi, F. & Ranaldo, A. (2017), "A Simple Estimation of Bid-Ask Spreads from Daily Close, High, and Low
    Prices", *Review of Financial Studies* 30(12), 4437-4480, eq. (8)/(9)::

        s_t^2 = 4 (c_t - eta_t)(c_t - eta_{t+1}),   eta_t = (h_t + l_t) / 2

    with ``c``, ``h``, ``l`` the log close, high and low. The close sits half a spread from the efficient
    price on one side or the other, the mid-range ``eta`` is an (almost) unbiased proxy of the efficient
    price, and the product of the close's distance to this bar's and the next bar's mid-range has
    expectation ``s^2 / 4``. A single pair is noisy and can be negative; average before taking the root.
    """
    h, lo, c = _logs(high, low, close)
    eta = (h + lo) / 2
    return 4 * (c[:-1] - eta[:-1]) * (c[:-1] - eta[1:])


def abdi_ranaldo(high: ArrayLike, low: ArrayLike, close: ArrayLike) -> float:
    """Relative spread (fraction of the mid, full width) over a window of bars: ``sqrt(max(mean(s_t^2), 0))``.

    Abdi & Ranaldo (2017), eq. (10): the window's squared estimates are averaged first and a negative
    average is set to zero (their "monthly" estimator; here the window is whatever the caller passes, e.g.
    one session of 1-minute bars).
    """
    mean = float(np.mean(abdi_ranaldo_squared(high, low, close)))
    return math.sqrt(max(mean, 0.0))


def corwin_schultz(high: ArrayLike, low: ArrayLike) -> np.ndarray:
    """Two-bar spread estimates (fraction of the mid, full width), negative ones set to zero.

    Corwin, S. A. & Schultz, P. (2012), "A Simple Way to Estimate Bid-Ask Spreads from Daily High and Low
    Prices", *Journal of Finance* 67(2), 719-760, eq. (14), (18)-(20)::

        beta  = sum over j in {t, t+1} of ln(H_j / L_j)^2
        gamma = ln(max(H_t, H_t+1) / min(L_t, L_t+1))^2
        alpha = (sqrt(2 beta) - sqrt(beta)) / (3 - 2 sqrt 2) - sqrt(gamma / (3 - 2 sqrt 2))
        S     = 2 (e^alpha - 1) / (1 + e^alpha)

    A high is almost always a buy at the ask and a low a sell at the bid, so the high-low range holds the
    spread plus the volatility; the range over two bars holds twice the variance but only one spread, and
    the difference isolates the spread. The paper sets negative two-day estimates to zero before averaging
    (section II.C); so does this function. (No overnight adjustment: it is for bars without gaps.)
    """
    h, lo = _logs(high, low, low)[:2]
    hl = (h - lo) ** 2
    beta = hl[1:] + hl[:-1]
    gamma = (np.maximum(h[1:], h[:-1]) - np.minimum(lo[1:], lo[:-1])) ** 2
    k = 3 - 2 * math.sqrt(2)
    alpha = (np.sqrt(2 * beta) - np.sqrt(beta)) / k - np.sqrt(gamma / k)
    spread = 2 * (np.exp(alpha) - 1) / (1 + np.exp(alpha))
    return np.maximum(spread, 0.0)


def tick_floor(spread: float, price: float, tick: float = 0.01) -> float:
    """``spread`` (fraction of the mid) but never less than one tick at ``price``: a quoted market has at
    least one tick between bid and ask (a cent on US exchanges for prices from $1, Reg NMS rule 612)."""
    if price <= 0:
        raise ValueError("price must be > 0")
    return max(spread, tick / price)
