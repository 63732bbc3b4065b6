"""Durable state of the bot: the store (SQLite by default, PostgreSQL for fleets) and the one-bot lock."""

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
