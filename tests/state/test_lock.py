"""One bot per state directory: a second holder is refused, naming the PID; death releases the lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.state.lock import LOCK_FILE, AlreadyRunning, StateLock, holder_pid

ROOT = Path(__file__).resolve().parents[2]
HOLDER = """
import sys, time
from bot.state.lock import StateLock
lock = StateLock(sys.argv[1]).acquire()
print("locked", flush=True)
time.sleep(120)
"""


@pytest.fixture
def holder(tmp_path: Path):
    """A separate process holding the lock on ``tmp_path / 'state'``."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path / "state")], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout.readline().strip() == "locked"
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(30)
        process.stdout.close()


def test_lock_writes_the_pid_and_releases(tmp_path: Path) -> None:
    with StateLock(tmp_path / "state") as lock:
        assert lock.held
        assert holder_pid(tmp_path / "state") == os.getpid()
    assert not lock.held
    assert holder_pid(tmp_path / "state") is None
    assert (tmp_path / "state" / LOCK_FILE).exists()  # never deleted
    with StateLock(tmp_path / "state"):  # free again
        pass


def test_second_lock_in_the_same_process_is_refused(tmp_path: Path) -> None:
    with StateLock(tmp_path), pytest.raises(AlreadyRunning) as refused:
        StateLock(tmp_path).acquire()
    assert refused.value.pid == os.getpid()
    assert str(os.getpid()) in str(refused.value)


def test_another_process_holding_the_lock_is_named(tmp_path: Path, holder: subprocess.Popen) -> None:
    with pytest.raises(AlreadyRunning) as refused, StateLock(tmp_path / "state"):
        pass
    assert refused.value.pid == holder.pid
    assert f"process {holder.pid}" in str(refused.value)


def test_sigkill_of_the_holder_releases_the_lock(tmp_path: Path, holder: subprocess.Popen) -> None:
    with pytest.raises(AlreadyRunning):
        StateLock(tmp_path / "state").acquire()
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(30)
    with StateLock(tmp_path / "state") as lock:
        assert lock.held
        assert holder_pid(tmp_path / "state") == os.getpid()  # the dead holder's PID was overwritten


def test_the_lock_is_not_inherited_by_a_child_program(tmp_path: Path) -> None:
    """A program the bot started must not keep the directory locked after the bot has died."""
    bot = """
import subprocess, sys, time
from bot.state.lock import StateLock
lock = StateLock(sys.argv[1]).acquire()
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], close_fds=False)
print(child.pid, flush=True)
time.sleep(120)
"""
    process = subprocess.Popen(
        [sys.executable, "-c", bot, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    child_pid = int(process.stdout.readline())
    try:
        process.kill()
        process.wait(30)
        os.kill(child_pid, 0)  # the child is still alive...
        with StateLock(tmp_path):  # ...and does not hold the lock
            pass
    finally:
        os.kill(child_pid, signal.SIGKILL)
        process.stdout.close()


def test_release_is_idempotent(tmp_path: Path) -> None:
    lock = StateLock(tmp_path).acquire()
    assert lock.acquire() is lock  # already held by this object: no-op
    lock.release()
    lock.release()
