"""Where the state database is: the config's ``state_url`` (checked by
:func:`bot.config_checks.state_url`), or by default the SQLite file ``<state_dir>/bot.sqlite``. The lock file,
the log, the dashboard's keys and the paper broker's database stay under ``state_dir`` whatever the URL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

STATE_FILE = "bot.sqlite"
SQLITE_URL = "sqlite:///"


def state_target(config: Any) -> Path | str:
    """What :class:`bot.state.store.StateStore` opens for ``config`` (a BotConfig): a SQLite file as a path
    (the default, or a ``sqlite:///`` URL), a server database as its URL."""
    url = config.state_url
    if url is None:
        return Path(config.state_dir) / STATE_FILE
    return Path(url[len(SQLITE_URL) :]) if url.startswith(SQLITE_URL) else url


def state_exists(config: Any) -> bool:
    """Whether the state is there to read (a server database always is; a file once the bot made it)."""
    target = state_target(config)
    return not isinstance(target, Path) or target.exists()
