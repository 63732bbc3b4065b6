"""Fleet mode (issue 19, item 2): many households planned on a distributed engine, all state in PostgreSQL.

``rebalance-bot fleet -c FLEET.yaml`` reads a fleet file (:mod:`bot.fleet.config`: the households, the shared
PostgreSQL ``state_url``, a Dask scheduler or a LocalCluster, the per-key rate limit), then, each pass:

1. :mod:`bot.fleet.due` decides from the shared database which households to visit (an unfinished plan, or a
   cycle due on the broker's clock since the household's last cycle);
2. :mod:`bot.fleet.runner` sends one Dask task per such household and collects the outcomes one by one, so a
   household that fails, waits for an approval or is slow never holds up another;
3. each task (:mod:`bot.fleet.task`) takes the household's advisory lock (:mod:`bot.fleet.lock`), builds the
   SAME :class:`bot.worker.Bot` the single bot runs (its :class:`bot.household.HouseholdBot` and the shared
   plan pipeline) on the PostgreSQL state, runs one tick and stores what it did (:mod:`bot.fleet.tables`).

Every broker request of every worker first takes a token from its key's bucket in PostgreSQL
(:mod:`bot.fleet.ratelimit`), so a Broker API key shared by many households stays under Alpaca's limit
whichever machine sends the request.
"""
