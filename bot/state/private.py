"""Files only the bot's user may read: the state directory is 0700, its files 0600.

The state holds the dashboard's signing key and access token, the audit trail (who decided what, from which
address) and the log (plans, amounts, addresses). On a shared machine the defaults (0755 directories, 0644
files under the usual umask) let every local user read them, so every place that creates state goes
through these helpers, and existing files with looser modes are tightened when the bot next opens them.
SQLite creates its ``-wal`` and ``-shm`` files with the database file's mode, so a 0600 database keeps its
journal private too.
"""

from __future__ import annotations

import contextlib
import logging.handlers
import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path | str) -> Path:
    """Create ``path`` (and missing parents) and make ``path`` itself 0700. Parents are left as they are:
    they may be shared directories the bot does not own."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    _tighten(path, DIR_MODE)
    return path


def private_file(path: Path | str) -> Path:
    """Create ``path`` empty with mode 0600 if missing, else tighten it to 0600; the content is untouched."""
    path = Path(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    os.close(fd)
    _tighten(path, FILE_MODE)
    return path


def _tighten(path: Path, mode: int) -> None:
    with contextlib.suppress(OSError):  # not ours to change (another owner): leave it, never fail on it
        if path.stat().st_mode & 0o777 & ~mode:
            os.chmod(path, mode)


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log whose every file (the live one and each new one after a rollover) is 0600."""

    def _open(self):  # noqa: ANN202 - the stream type of logging.FileHandler
        private_file(self.baseFilename)
        return super()._open()
