"""The dashboard's HTTP server: uvicorn on a thread beside the bot, bound to 127.0.0.1 by default."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import structlog
import uvicorn
from fastapi import FastAPI

if TYPE_CHECKING:
    from bot.worker import Bot

log = structlog.get_logger(__name__)

MAX_CONNECTIONS = 64


class WebServer:
    """Serve ``app`` on ``host:port`` (0 = a free port) in a daemon thread."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> WebServer:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        # Bounded so that no client can make the trading process hold unbounded connections: beyond
        # MAX_CONNECTIONS uvicorn answers 503 at once; headers are capped by h11 (16 KiB), bodies by the
        # app's guard, idle kept-alive connections closed after a few seconds.
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            proxy_headers=False,
            limit_concurrency=MAX_CONNECTIONS,
            backlog=MAX_CONNECTIONS,
            timeout_keep_alive=5,
            # a backstop: open dashboards' event streams end on stop() (see below) well before this
            timeout_graceful_shutdown=3,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True, name="dashboard"
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the dashboard did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving: open pages' event streams are told to end first, so uvicorn, which waits for
        every response to finish, has none left to wait for."""
        streams = getattr(self.app.state, "streams", None)
        if streams is not None:
            streams.close()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._thread = None


class DashboardService:
    """The dashboard as a service of :func:`bot.worker.run_forever`: started once the state lock is held; it
    tells the bot its URL so that prompts carry approve/reject links."""

    name = "dashboard"

    def __init__(self, bot: Bot, token: str, log_file: Path | None) -> None:
        self.bot = bot
        self.token = token
        self.log_file = log_file
        self.server: WebServer | None = None

    def start(self) -> None:
        from bot.web.app import create_app

        web = self.bot.config.web
        self.server = WebServer(create_app(self.bot, self.token, self.log_file), web.host, web.port).start()
        self.bot.base_url = web.public_url or self.server.url
        log.info("dashboard running", url=self.server.url, public_url=self.bot.base_url)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
