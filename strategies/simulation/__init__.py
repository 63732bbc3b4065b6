"""Rebalancing policies simulated in weight space, fast enough for calibration and resampled evaluation."""
