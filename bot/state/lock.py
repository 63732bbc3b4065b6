"""One bot per state directory: an exclusive ``flock`` on ``<state_dir>/bot.lock``.

Two bots on one state directory would both resume the same plans and could send orders twice, so the second
one must refuse to start. ``flock`` locks belong to the open file, so the kernel releases the lock whenever
the holder dies, even on SIGKILL or a power cut: there is no stale lock to clean up. The holder writes its
PID into the file so the refusal can say who holds it. The file itself is never deleted (deleting a lock
file lets two processes lock two different files).

The descriptor is not inherited by programs the bot ``exec``s; a child made with a bare ``fork`` would share
the lock until it exits.

A state on PostgreSQL may be shared by bots on several hosts, which no lock file sees: given the store's
database, the lock also holds a session-level advisory lock on it
(:meth:`bot.state.db.Database.hold_bot_lock`), released by the server when the holder's connection ends,
however it ends.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from bot.state.private import private_dir

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from bot.state.db import Database

LOCK_FILE = "bot.lock"


class AlreadyRunning(RuntimeError):
    """Another process holds the state directory's lock."""

    def __init__(self, state_dir: Path, pid: int | None, database: str | None = None) -> None:
        self.state_dir = state_dir
        self.pid = pid
        if database is not None:
            super().__init__(
                f"another bot is already running on the state database {database} (it holds its lock)"
            )
            return
        holder = f"process {pid}" if pid is not None else "another process"
        super().__init__(
            f"another bot is already running on {state_dir} ({holder} holds {state_dir / LOCK_FILE})"
        )


class StateLock:
    """Exclusive, non-blocking lock on a state directory. Use as a context manager, or acquire()/release()."""

    def __init__(self, state_dir: Path | str, database: Database | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / LOCK_FILE
        self.database = database if database is not None and database.dialect == "postgresql" else None
        self._fd: int | None = None
        self._session: Connection | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> StateLock:
        """Take the lock or raise :class:`AlreadyRunning` (naming the holder's PID) at once; never waits."""
        if self._fd is not None:
            return self
        private_dir(self.state_dir)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise AlreadyRunning(self.state_dir, holder_pid(self.state_dir)) from None
            raise
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            os.fsync(fd)
        except BaseException:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
            raise
        self._fd = fd
        if self.database is not None:
            self._session = self.database.hold_bot_lock()
            if self._session is None:
                self.release()
                raise AlreadyRunning(self.state_dir, None, database=self.database.describe())
        return self

    def release(self) -> None:
        """Give the lock up (clearing the PID). Safe to call when not held."""
        session, self._session = self._session, None
        if session is not None:
            with contextlib.suppress(Exception):  # ending the session releases its lock on the server
                session.invalidate()  # really closed, not handed back to the pool still holding the lock
                session.close()
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> StateLock:
        return self.acquire()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    def __del__(self) -> None:
        # Closing the descriptor releases the flock; do it if the owner forgot, without raising at shutdown.
        fd = getattr(self, "_fd", None)
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)


def holder_pid(state_dir: Path | str) -> int | None:
    """The PID written by the lock's holder (None when unknown: no file, empty, or being written)."""
    try:
        text = (Path(state_dir) / LOCK_FILE).read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
