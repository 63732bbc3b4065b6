"""Alembic's environment for the state database.

From code (:func:`bot.state.migrate.upgrade`) Alembic is handed an open connection inside the store's write
transaction (``config.attributes["connection"]``): the whole upgrade is one transaction, all or nothing, and
holds the write lock, so two processes opening the same state do not both upgrade it. From the command line
(developers: ``-x url=...``) it opens the database the way the bot does.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from bot.state.migrate import compare_type
from bot.state.schema import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things: autogenerate copy-and-move batches
        compare_type=compare_type,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    from bot.state.db import Database

    database = Database(url)
    try:
        with database.write() as conn:
            _run(conn)
    finally:
        database.close()


_main()
