"""Structured logging: JSON lines with context, rotation, filters, and secrets that never reach the file."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
import structlog

from bot.config import Credentials
from bot.logging_setup import (
    clear_secrets,
    configure_logging,
    read_log_lines,
    register_secrets,
    reset_logging,
)

SECRET = "sk-TOPSECRET-9f8e7d6c5b4a"
KEY_ID = "PKKEYID0123456789"


@pytest.fixture(autouse=True)
def _clean_logging() -> Iterator[None]:
    structlog.contextvars.clear_contextvars()
    yield
    structlog.contextvars.clear_contextvars()
    reset_logging()
    clear_secrets()


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    path = tmp_path / "logs" / "bot.log"
    configure_logging(path, level="INFO", console=True, secrets=[SECRET, KEY_ID, ""])
    return path


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_each_line_is_one_json_object_with_the_standard_keys(log_file: Path) -> None:
    log = structlog.get_logger("bot.cycle")
    log.info("cycle", equity=Decimal("100000.50"), orders=3, when=datetime(2020, 3, 2, 15, 0))
    log.warning("plan held", reasons=["above $5,000"])
    log.debug("not at INFO")
    first, second = lines(log_file)
    assert list(first)[:4] == ["timestamp", "level", "event", "logger"]
    assert (first["level"], first["event"], first["logger"]) == ("info", "cycle", "bot.cycle")
    assert (first["equity"], first["orders"], first["when"]) == ("100000.50", 3, "2020-03-02T15:00:00")
    stamp = datetime.fromisoformat(first["timestamp"].replace("Z", "+00:00"))
    assert stamp.utcoffset().total_seconds() == 0
    assert (second["level"], second["reasons"]) == ("warning", ["above $5,000"])


def test_bound_context_is_on_every_line(log_file: Path) -> None:
    structlog.contextvars.bind_contextvars(run_id="20200302T150000Z-abc", account="taxable")
    structlog.get_logger("bot.cycle").info("cycle")
    structlog.contextvars.bind_contextvars(client_order_id="rb-taxable-1-0")
    structlog.get_logger("bot.execution").info("order submitted")
    logging.getLogger("urllib3.connectionpool").warning("Retrying (%s) after connection broken", 1)
    structlog.contextvars.unbind_contextvars("client_order_id")
    structlog.get_logger("bot.cycle").info("plan finished")
    written = lines(log_file)
    assert [line["event"] for line in written] == [
        "cycle",
        "order submitted",
        "Retrying (1) after connection broken",
        "plan finished",
    ]
    assert all(line["run_id"] == "20200302T150000Z-abc" and line["account"] == "taxable" for line in written)
    assert [line.get("client_order_id") for line in written] == [
        None,
        "rb-taxable-1-0",
        "rb-taxable-1-0",
        None,
    ]
    assert written[2]["logger"] == "urllib3.connectionpool" and written[2]["level"] == "warning"


def test_other_libraries_log_at_warning_and_above_only(log_file: Path) -> None:
    logging.getLogger("uvicorn.access").info("GET /v2/clock 200")
    logging.getLogger("alpaca").info("request")
    logging.getLogger("someone.else").info("chatty")
    logging.getLogger("apscheduler.scheduler").error("job missed")
    assert [line["event"] for line in lines(log_file)] == ["job missed"]


def test_secrets_never_reach_the_file_or_the_console(log_file: Path, capsys: pytest.CaptureFixture) -> None:
    configure_logging(log_file, console=True)  # again, so that the console handler writes to capsys
    log = structlog.get_logger("bot.worker")
    structlog.contextvars.bind_contextvars(run_id="r1", api_key=KEY_ID)
    log.info("as a value", key=SECRET, nested={"deep": [f"x{SECRET}y", {"k": SECRET}]}, tupled=(SECRET,))
    log.info(f"inside an f-string message: secret={SECRET}")
    log.info(
        "under sensitive key names",
        secret_key="plain",
        password="hunter2",
        token="t0k3n",
        Authorization="Bearer abc",
        apca_api_key="id",
    )
    log.info("as an object", credentials=Credentials(KEY_ID, SECRET), odd=_LeakyObject())
    log.info("a key naming it", **{f"field_{SECRET}": 1})
    try:
        raise RuntimeError(f"403 from Alpaca for key {KEY_ID} and secret {SECRET}")
    except RuntimeError as exc:
        log.exception("submit failed", error=str(exc), exc=exc)
    try:
        _raise_with_secret_in_cause()
    except ValueError:
        logging.getLogger("alpaca.common.rest").exception("request failed with %s", SECRET)
    logging.getLogger("urllib3").warning("header X-Secret: %s", SECRET)

    raw = log_file.read_bytes()
    console = capsys.readouterr().err
    for leaked in (SECRET, KEY_ID, "hunter2", "t0k3n", "Bearer abc"):
        assert leaked.encode() not in raw
        assert leaked not in console
    written = lines(log_file)
    assert len(written) == 8
    assert written[0]["key"] == "***" and written[0]["nested"] == {"deep": ["x***y", {"k": "***"}]}
    assert written[0]["api_key"] == "***"
    assert written[1]["event"] == "inside an f-string message: secret=***"
    assert {written[2][k] for k in ("secret_key", "password", "token", "Authorization", "apca_api_key")} == {
        "***"
    }
    failed = written[5]
    assert "Traceback" in failed["exception"]
    assert "RuntimeError: 403 from Alpaca for key *** and secret ***" in failed["exception"]
    assert "Traceback" in written[6]["exception"] and "ValueError" in written[6]["exception"]
    assert "as a value" in console and "***" in console


class _LeakyObject:
    def __str__(self) -> str:
        return f"LeakyObject({SECRET})"

    __repr__ = __str__


def _raise_with_secret_in_cause() -> None:
    try:
        raise KeyError(SECRET)
    except KeyError as cause:
        raise ValueError("wrapped") from cause


def test_secrets_registered_later_are_redacted_too(log_file: Path) -> None:
    register_secrets(["late-secret-value"])
    structlog.get_logger("bot").info("late-secret-value shows?")
    assert b"late-secret-value" not in log_file.read_bytes()


def test_reconfiguring_does_not_duplicate_lines(log_file: Path) -> None:
    configure_logging(log_file, level="INFO", console=False)
    configure_logging(log_file, level="INFO", console=False)
    structlog.get_logger("bot").info("once")
    assert [line["event"] for line in lines(log_file)] == ["once"]


def test_rotation_and_reading_back_in_order(tmp_path: Path) -> None:
    path = tmp_path / "bot.log"
    configure_logging(path, console=False, max_bytes=2048, backups=3)
    log = structlog.get_logger("bot")
    for n in range(200):
        log.info("tick", n=n, padding="x" * 40)
    rotated = sorted(p.name for p in tmp_path.iterdir())
    assert rotated == ["bot.log", "bot.log.1", "bot.log.2", "bot.log.3"]
    assert all(p.stat().st_size <= 2048 for p in tmp_path.iterdir())
    numbers = [line["n"] for line in read_log_lines(path)]
    assert numbers == list(range(numbers[0], 200))  # oldest kept first, nothing out of order
    assert 20 < len(numbers) < 200
    assert [line["n"] for line in read_log_lines(path, limit=3)] == [197, 198, 199]


def test_filters(log_file: Path) -> None:
    log = structlog.get_logger("bot")
    for run_id, account in (("r1", "taxable"), ("r1", "ira"), ("r2", "taxable")):
        structlog.contextvars.bind_contextvars(run_id=run_id, account=account)
        log.info("cycle")
        log.warning("held")
        log.error("failed")
    structlog.contextvars.clear_contextvars()
    log.critical("no context")
    assert len(read_log_lines(log_file)) == 10
    assert len(read_log_lines(log_file, run_id="r1")) == 6
    assert len(read_log_lines(log_file, run_id="r1", account="ira")) == 3
    assert [line["level"] for line in read_log_lines(log_file, account="ira", level="WARNING")] == [
        "warning",
        "error",
    ]
    assert [line["event"] for line in read_log_lines(log_file, level="error")] == ["failed"] * 3 + [
        "no context"
    ]
    assert read_log_lines(log_file, run_id="r2", limit=1)[0]["event"] == "failed"
    with pytest.raises(ValueError):
        read_log_lines(log_file, level="loud")


def test_reading_tolerates_a_torn_last_line_and_a_missing_file(tmp_path: Path, log_file: Path) -> None:
    structlog.get_logger("bot").info("whole")
    with log_file.open("a", encoding="utf-8") as handle:
        handle.write('{"event": "cut sho')
    assert [line["event"] for line in read_log_lines(log_file)] == ["whole"]
    assert read_log_lines(tmp_path / "never.log") == []
