"""Structured logging: JSON lines to a rotating file, readable lines on stderr, and no secret in either.

Every line carries ``timestamp`` (ISO-8601 UTC), ``level``, ``event`` and ``logger``, plus whatever is bound
with ``structlog.contextvars.bind_contextvars`` (``run_id``, ``account``, ``client_order_id``...). Records of
the standard ``logging`` module (alpaca-py, urllib3, uvicorn, APScheduler) go through the same handlers and
processors, at WARNING and above.

Redaction is the last step before rendering, after exceptions have been turned into text, so a secret cannot
reach the file or the console through a value, a message, a key name or a traceback: registered secret strings
are replaced by ``***`` wherever they occur, and values under keys naming a secret (``secret``, ``password``,
``token``, ``api_key``) are replaced entirely.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import re
import sys
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import structlog
from structlog.types import EventDict, Processor, WrappedLogger

from bot.state.private import PrivateRotatingFileHandler

REDACTED = "***"
SENSITIVE_KEY_PARTS = ("secret", "password", "passwd", "token", "api_key", "apikey", "authorization")
FOREIGN_MIN_LEVEL = logging.WARNING
"""Other libraries' stdlib records are shown from this level up (or from the configured level if higher)."""
NOISY_LOGGERS = (
    "urllib3",
    "alpaca",
    "uvicorn",
    "uvicorn.access",
    "uvicorn.error",
    "apscheduler",
    "httpx",
    "httpcore",
    "asyncio",
    "websockets",
    "fastapi",
    "telegram",
)
LEVELS = {
    "debug": 10,
    "info": 20,
    "warning": 30,
    "warn": 30,
    "error": 40,
    "exception": 40,
    "critical": 50,
    "fatal": 50,
}
DEFAULT_MAX_BYTES = 10_000_000
DEFAULT_BACKUPS = 5

_secrets_lock = threading.Lock()
_secrets: tuple[str, ...] = ()
_secret_pattern: re.Pattern[str] | None = None
_installed_handlers: list[logging.Handler] = []


# --- redaction --------------------------------------------------------------------------------------------


def register_secrets(values: Iterable[str | None]) -> None:
    """Add strings that must never be logged (API keys...). Empty values are ignored."""
    global _secrets, _secret_pattern
    with _secrets_lock:
        known = set(_secrets) | {str(v) for v in values if v}
        _secrets = tuple(sorted(known, key=len, reverse=True))  # longest first: a secret containing another
        _secret_pattern = re.compile("|".join(re.escape(s) for s in _secrets)) if _secrets else None


def clear_secrets() -> None:
    """Forget registered secrets (tests)."""
    global _secrets, _secret_pattern
    with _secrets_lock:
        _secrets, _secret_pattern = (), None


def redact_text(text: str) -> str:
    pattern = _secret_pattern
    return pattern.sub(REDACTED, text) if pattern is not None else text


def _is_sensitive_key(key: object) -> bool:
    name = str(key).lower()
    return any(part in name for part in SENSITIVE_KEY_PARTS)


def _scrub(value: Any) -> Any:
    """``value`` as JSON-native data with every registered secret replaced. Anything that is not a str,
    number, bool, None, mapping or sequence becomes its text first, so no later ``repr`` or ``str`` leaks."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {
            redact_text(str(k)): (REDACTED if _is_sensitive_key(k) else _scrub(v)) for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrub(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, BaseException):
        return redact_text(f"{type(value).__name__}: {value}")
    try:
        text = str(value)
    except Exception:  # noqa: BLE001 - a broken __str__ must not break logging
        text = f"<unprintable {type(value).__name__}>"
    return redact_text(text)


def redact(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: secrets out of every key and value (run it after exceptions became text)."""
    scrubbed: EventDict = {}
    for key, value in event_dict.items():
        if key in ("exc_info", "stack_info") and value not in (None, False):
            # Not yet rendered: render here rather than let a renderer show it unredacted.
            value = _render_exception(value) if key == "exc_info" else value
            key = "exception" if key == "exc_info" else "stack"
        if _is_sensitive_key(key):
            scrubbed[redact_text(str(key))] = REDACTED
        else:
            scrubbed[redact_text(str(key))] = _scrub(value)
    return scrubbed


def _render_exception(exc_info: Any) -> str:
    rendered = structlog.processors.format_exc_info(None, "error", {"exc_info": exc_info})
    return str(rendered.get("exception", ""))


# --- configuration ----------------------------------------------------------------------------------------


class _ForeignFilter(logging.Filter):
    """Lets every structlog record through; records of other libraries only at ``min_level`` and up."""

    def __init__(self, min_level: int) -> None:
        super().__init__()
        self.min_level = min_level

    def filter(self, record: logging.LogRecord) -> bool:
        return hasattr(record, "_logger") or record.levelno >= self.min_level


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
    ]


_LEADING_KEYS = ("timestamp", "level", "event", "logger")


def _leading_keys_first(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    """timestamp, level, event, logger, then the context in the order it was given: easy to read raw."""
    ordered = {key: event_dict[key] for key in _LEADING_KEYS if key in event_dict}
    ordered.update((key, value) for key, value in event_dict.items() if key not in ordered)
    return ordered


def _final_processors(renderer: Processor) -> list[Processor]:
    return [
        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        redact,
        _leading_keys_first,
        renderer,
    ]


def configure_logging(
    log_file: Path | str | None,
    level: str = "INFO",
    console: bool = True,
    max_bytes: int = DEFAULT_MAX_BYTES,
    backups: int = DEFAULT_BACKUPS,
    secrets: Iterable[str] = (),
) -> None:
    """Set up structlog and the stdlib root logger. Safe to call again (replaces what an earlier call set up;
    handlers installed by others, e.g. pytest's, are left alone). ``secrets`` are added to the redaction list
    (see :func:`register_secrets`; later registrations add to it)."""
    register_secrets(secrets)
    numeric = logging.getLevelName(level.upper()) if isinstance(level, str) else int(level)
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    root = logging.getLogger()
    for handler in _installed_handlers:
        root.removeHandler(handler)
        handler.close()
    _installed_handlers.clear()

    shared = _shared_processors()
    foreign = _ForeignFilter(max(numeric, FOREIGN_MIN_LEVEL))
    if log_file is not None:
        path = Path(log_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        file_handler = PrivateRotatingFileHandler(  # 0600: the log names plans, amounts and addresses
            path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
        )
        file_handler.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                processors=_final_processors(structlog.processors.JSONRenderer(default=str)),
                foreign_pre_chain=shared,
            )
        )
        _installed_handlers.append(file_handler)
    if console:
        console_handler = logging.StreamHandler(sys.stderr)
        console_handler.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                processors=_final_processors(
                    structlog.dev.ConsoleRenderer(
                        colors=_isatty(sys.stderr), exception_formatter=structlog.dev.plain_traceback
                    )
                ),
                foreign_pre_chain=shared,
            )
        )
        _installed_handlers.append(console_handler)
    for handler in _installed_handlers:
        handler.setLevel(numeric)
        handler.addFilter(foreign)
        root.addHandler(handler)
    root.setLevel(numeric)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(max(numeric, FOREIGN_MIN_LEVEL))

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            redact,  # already here, so that no handler (ours or anyone's) sees a secret from structlog
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        context_class=dict,
        cache_logger_on_first_use=False,
    )


def reset_logging() -> None:
    """Undo :func:`configure_logging` (remove and close its handlers, structlog defaults); for tests."""
    root = logging.getLogger()
    for handler in _installed_handlers:
        root.removeHandler(handler)
        handler.close()
    _installed_handlers.clear()
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)
    root.setLevel(logging.WARNING)
    structlog.reset_defaults()


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except Exception:  # noqa: BLE001 - replaced streams (pytest capture) may not support it
        return False


# --- reading the log back ---------------------------------------------------------------------------------


def log_files(log_file: Path | str) -> list[Path]:
    """The log file and its rotated copies, oldest first (``bot.log.5`` ... ``bot.log.1``, ``bot.log``)."""
    path = Path(log_file)
    rotated = []
    for candidate in path.parent.glob(path.name + ".*"):
        suffix = candidate.name[len(path.name) + 1 :]
        if suffix.isdigit():
            rotated.append((int(suffix), candidate))
    files = [p for _, p in sorted(rotated, reverse=True)]
    if path.exists():
        files.append(path)
    return files


def _iter_lines(files: Iterable[Path]) -> Iterator[dict]:
    for path in files:
        try:
            handle = path.open(encoding="utf-8", errors="replace")
        except FileNotFoundError:  # rotated away between listing and opening
            continue
        with handle:
            for raw in handle:
                raw = raw.strip()
                if not raw:
                    continue
                try:
                    line = json.loads(raw)
                except json.JSONDecodeError:
                    continue  # a line cut short by a crash
                if isinstance(line, dict):
                    yield line


def read_log_lines(
    log_file: Path | str,
    run_id: str | None = None,
    account: str | None = None,
    level: str | None = None,
    limit: int | None = None,
) -> list[dict]:
    """JSON log lines from the current and rotated files, oldest first, filtered by run id, account and
    minimum level (debug, info, warning, error, critical); ``limit`` keeps the last N that match."""
    minimum = None
    if level is not None:
        minimum = LEVELS.get(level.lower())
        if minimum is None:
            raise ValueError(f"unknown level {level!r}; use debug, info, warning, error or critical")
    kept: deque[dict] = deque(maxlen=limit if limit is not None and limit >= 0 else None)
    for line in _iter_lines(log_files(log_file)):
        if run_id is not None and line.get("run_id") != run_id:
            continue
        if account is not None and line.get("account") != account:
            continue
        if minimum is not None and LEVELS.get(str(line.get("level", "")).lower(), 0) < minimum:
            continue
        kept.append(line)
    return list(kept)


__all__ = [
    "REDACTED",
    "clear_secrets",
    "configure_logging",
    "log_files",
    "read_log_lines",
    "redact",
    "redact_text",
    "register_secrets",
    "reset_logging",
]
