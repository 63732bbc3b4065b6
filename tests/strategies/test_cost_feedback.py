"""The calibrated prior blended with measured costs: how far fills move the estimate the decision uses."""

from __future__ import annotations

import pytest

from strategies.cost_feedback import PRIOR_WEIGHT, blend


def test_no_fills_means_the_prior() -> None:
    estimate = blend("VTI", 0.3, [])
    assert estimate.using_bp == 0.3 and estimate.measured_bp is None
    assert estimate.describe() == "cost estimate for VTI: prior 0.30 bp, no fills yet, using it"


def test_fills_costing_more_than_the_prior_raise_it_in_proportion_to_how_many_they_are() -> None:
    one = blend("VTI", 0.3, [1.3])
    ten = blend("VTI", 0.3, [1.3] * int(PRIOR_WEIGHT))
    hundred = blend("VTI", 0.3, [1.3] * 100)
    assert 0.3 < one.using_bp < ten.using_bp < hundred.using_bp < 1.3
    assert one.using_bp == pytest.approx((PRIOR_WEIGHT * 0.3 + 1.3) / (PRIOR_WEIGHT + 1))
    assert ten.using_bp == pytest.approx(0.8)  # as many fills as the prior is worth: half way
    assert ten.spread_bps == pytest.approx(1.6)  # the full spread the decision charges: twice one way
    assert ten.describe() == (
        "cost estimate for VTI: prior 0.30 bp, measured 1.30 bp over 10 fills, using 0.80 bp"
    )


def test_fills_that_beat_the_mid_never_make_trading_free() -> None:
    assert blend("SPY", 0.15, [-5.0] * 50).using_bp == 0.0


def test_a_negative_prior_or_weight_is_refused() -> None:
    with pytest.raises(ValueError, match="prior cost"):
        blend("SPY", -0.1, [])
    with pytest.raises(ValueError, match="prior weight"):
        blend("SPY", 0.1, [1.0], k=0)
