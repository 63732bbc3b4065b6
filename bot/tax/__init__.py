"""Tax-aware execution in the live bot (issue 8): the I/O around the pure tax code of ``strategies.tax``.

- :mod:`bot.tax.sync` keeps the store's copy of the broker's FILL activities up to date (the ledger's input);
- :mod:`bot.tax.importer` reads a CSV of lots bought before the bot, all rows or none;
- :mod:`bot.tax.ledger` replays the stored fills into the household's lot ledger, wash sales applied;
- :mod:`bot.tax.reconcile` compares the ledger with the broker's positions and blocks mismatched symbols;
- :mod:`bot.tax.annotate` estimates what a plan's sells realise and cost in tax, and guards wash sales;
- :mod:`bot.tax.reports` the year-to-date report: realised by term, harvests, wash sales, largest gains.
"""
