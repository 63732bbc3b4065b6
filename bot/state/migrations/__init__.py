"""Alembic migrations of the state database (run from code by :func:`bot.state.migrate.upgrade` when a store
opens; no ``alembic.ini`` is needed at run time).

To add a revision after changing :mod:`bot.state.schema`, against a scratch database at the current head::

    alembic -c bot/state/migrations/alembic.ini -x url=sqlite:////tmp/s.sqlite upgrade head
    alembic -c bot/state/migrations/alembic.ini -x url=sqlite:////tmp/s.sqlite revision --autogenerate -m why

then read the generated file (SQLite ALTERs go through batch mode) and keep each released revision unchanged.
"""
