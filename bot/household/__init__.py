"""The live bot's household (issue 9): several accounts planned, approved and traded as one portfolio.

The decision is :mod:`strategies.household` (one MILP over every account); this package only feeds it and
carries its plan out, one concern per module:

* :mod:`.inputs` - the config's ``household`` section as the optimizer's terms (types, cash flows, menus,
  location preferences, settings);
* :mod:`.gather` - one reading of every member account (broker and lot ledger) as a ``Household``;
* :mod:`.record` - the household plan as ONE stored plan row (what a person approves), and the child plan of
  each account it fans out into;
* :mod:`.execution` - the fan-out: each child plan run by that account's own :class:`~bot.execution.
  PlanExecutor`, through that account's own broker client;
* :mod:`.cycle` - :class:`HouseholdBot`, the scheduler's turn for the whole household.
"""

import bot.household.highs_banner  # noqa: F401 - before any household solve prints HiGHS's banner
from bot.household.cycle import HouseholdBot, HouseholdOutcome

__all__ = ["HouseholdBot", "HouseholdOutcome"]
