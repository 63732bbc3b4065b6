"""Two-way control from a chat (Telegram): approval prompts with buttons, and commands that approve, reject,
halt, resume and report status.

A front-end like the CLI and the dashboard: every decision goes through :mod:`bot.actions`, so a plan
approved from the chat leaves the same audit trail (who, channel ``telegram``, when, which plan version) and
passes the same checks as one approved anywhere else. Only the chats named in the config are obeyed.
"""
