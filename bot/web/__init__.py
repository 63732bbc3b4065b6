"""The web dashboard: weights against targets, pending approvals with approve/reject buttons, recent plans and
orders, the log tail, a health endpoint, and the pages behind the signed links in approval prompts.

``auth`` (token, sessions, CSRF, origin checks), ``pages`` (server-rendered HTML, no external assets),
``app`` (the FastAPI routes; every decision goes through :mod:`bot.actions`) and ``server`` (uvicorn in a
thread beside the bot, started by ``rebalance-bot run``).
"""
