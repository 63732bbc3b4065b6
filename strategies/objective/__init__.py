"""The rebalancing decision as one objective: tracking risk kept against the cost and tax of trading.

* ``problem``: the convex problem and its exact no-trade test (Clarabel);
* ``risk``: the forecast covariance and its scaling;
* ``calibrate``: the user's tracking target turned into a risk aversion, refitted on a rolling window;
* ``trigger``: the decision as a ``Trigger`` for the live bot, ``plan`` and the backtester;
* ``explain``: the numbers behind each decision, in words.
"""
