"""HiGHS prints its copyright banner to stdout once per process, when the first ``Highs`` is constructed
(before any option can stop it). The household solve (``strategies.household.solver``) constructs one, and the
bot's stdout may be JSON a user pipes on, so the bot constructs the process's first ``Highs`` here, with file
descriptor 1 on /dev/null. Here rather than in the solver: ``strategies/`` does no I/O."""

from __future__ import annotations

import os
import sys

import highspy


def construct_first_highs_quietly() -> None:
    """Swallow HiGHS's once-per-process banner (see the module docstring)."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


construct_first_highs_quietly()
