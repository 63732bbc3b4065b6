"""Durable state of the bot: the SQLite store and the one-bot-per-directory lock."""

from bot.state.lock import AlreadyRunning, StateLock
from bot.state.store import (
    ApprovalError,
    ApprovalRecord,
    AuditRecord,
    FillRecord,
    InvalidTransition,
    OrderRecord,
    PlanRecord,
    RunRecord,
    StateError,
    StateStore,
    UnknownRecord,
)

__all__ = [
    "AlreadyRunning",
    "ApprovalError",
    "ApprovalRecord",
    "AuditRecord",
    "FillRecord",
    "InvalidTransition",
    "OrderRecord",
    "PlanRecord",
    "RunRecord",
    "StateError",
    "StateLock",
    "StateStore",
    "UnknownRecord",
]
