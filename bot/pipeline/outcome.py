"""What one tick did: the record every stage of the turn returns, for the worker's summary and for tests."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CycleOutcome:
    """What one tick did, for the caller's summary and for tests."""

    action: str
    plan_id: str | None = None
    detail: str = ""
