"""The backtester: daily history replayed through the live bot's decision code (``strategies/``).

One concern per module: ``data`` (price history: bundled, CSV directories, Alpaca bars with a cache),
``costs`` (the paper broker's cost model applied to a fill), ``engine`` (the simulation loop), ``policies``
(the policy registry and target portfolios), ``metrics``, ``runner`` (several policies over one history),
``report`` (terminal tables, CSV, JSON) and ``html`` (the self-contained HTML report with plots).
"""
