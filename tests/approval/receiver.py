"""A tiny local HTTP receiver for Apprise's ``json://`` URLs: it records every POST (tests read the prompts
the bot sent from it), and can be told to fail the first N requests to exercise retries."""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    def __init__(self, fail_first: int = 0) -> None:
        self.messages: list[dict] = []
        self.attempts = 0
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.attempts += 1
                    failing = receiver.attempts <= receiver.fail_first
                    if not failing:
                        receiver.messages.append({"path": self.path, **json.loads(body or b"{}")})
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"json://127.0.0.1:{self.port}{path}"

    def wait_for(self, count: int, timeout: float = 20.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} messages, got {len(self.messages)}")
            time.sleep(0.02)
        return list(self.messages)

    def prompts(self) -> list[dict]:
        return [m for m in self.messages if "is waiting for your decision" in m.get("message", "")]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


LINK = re.compile(r"^(Approve|Reject): (\S+)$", re.MULTILINE)


def links_in(message: dict) -> dict[str, str]:
    """``{"approve": url, "reject": url}`` from a prompt's text."""
    return {kind.lower(): url for kind, url in LINK.findall(message["message"])}
