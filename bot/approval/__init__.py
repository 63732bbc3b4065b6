"""Human approval of large changes: the policy (which plans wait), the lifecycle rules (expiry, re-check on
approval, re-asking after a rejection), cost and tax estimates, and signed approve/reject links.

Everything here except :mod:`bot.approval.links`' key files is pure: no broker, no database, no clock of its
own, so each rule is tested on its own.
"""
