"""What the pipeline tells people: an approval prompt for a held plan, and alerts.

The bot's front-ends (the notifier, Telegram, the dashboard's links) are handed in as two callbacks; a
callback that fails is logged and never stops the turn: a prompt or an alert that cannot be sent must not
leave a plan half gated.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import structlog

log = structlog.get_logger(__name__)

Alert = Callable[[str, Sequence[str], str], None]
"""Called with (title, lines, topic) for what needs a person (a hard limit, a tax ledger mismatch...)."""


@dataclass(frozen=True)
class Notices:
    """The two ways the pipeline reaches a person; either may be absent (then the log says it)."""

    on_held: Callable[[str], None] | None = None
    """Called with the plan id when a plan is held for approval (the bot sends the prompt)."""
    on_alert: Alert | None = None

    def held(self, plan_id: str) -> None:
        """Ask a person about the held plan ``plan_id``."""
        if self.on_held is None:
            return
        try:
            self.on_held(plan_id)
        except Exception as exc:  # noqa: BLE001 - a prompt that cannot be sent must not stop the bot
            log.error("could not send the approval prompt", plan_id=plan_id, error=str(exc))

    def alert(self, title: str, lines: Sequence[str], topic: str) -> None:
        """Tell a person about something that needs them; without a callback, a log line says it."""
        if self.on_alert is None:
            log.warning("alert", topic=topic, title=title)
            return
        try:
            self.on_alert(title, lines, topic)
        except Exception as exc:  # noqa: BLE001 - an alert that cannot be sent must not stop the bot
            log.error("could not send an alert", title=title, error=str(exc))
