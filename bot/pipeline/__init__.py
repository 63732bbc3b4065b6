"""The turn around a plan (store it, hard limits, approval, start, audit), shared by every bot.

The account bot (:mod:`bot.cycle`) and the household bot (:mod:`bot.household.cycle`) differ only in how
they read and decide; what happens to the plan they decide on is this pipeline's:

- :mod:`bot.pipeline.plan_pipeline` the stages in order (:class:`PlanPipeline`);
- :mod:`bot.pipeline.stages` the rules that read and write the state database, one function each;
- :mod:`bot.pipeline.protocols` what a bot hands in (a :class:`Proposal` per plan; :class:`ApprovedStart`);
- :mod:`bot.pipeline.notices` the approval prompt and alerts, which never stop the turn;
- :mod:`bot.pipeline.outcome` what a tick did.
"""

from bot.pipeline.notices import Notices
from bot.pipeline.outcome import CycleOutcome
from bot.pipeline.plan_pipeline import PlanPipeline
from bot.pipeline.protocols import ApprovedStart, Assessment, Proposal, Replacement

__all__ = [
    "ApprovedStart",
    "Assessment",
    "CycleOutcome",
    "Notices",
    "PlanPipeline",
    "Proposal",
    "Replacement",
]
