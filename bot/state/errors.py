"""What the state refuses: the exceptions every repository of :mod:`bot.state` raises."""

from __future__ import annotations


class StateError(Exception):
    """The state database refused an operation (unknown record, conflicting write, newer schema...)."""


class UnknownRecord(StateError, LookupError):
    """No row with that id."""


class InvalidTransition(StateError):
    """A plan status change that is not allowed (e.g. a finished plan moved back to executing)."""


class ApprovalError(StateError):
    """An approval cannot be requested or decided (hash mismatch, not pending, expired, unknown plan)."""
