"""An HTTP proxy set in the environment carries the adapter's requests (read once, when it is made)."""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.broker.alpaca import _environment_settings
from bot.paper_broker.server import PaperBroker
from tests.broker.conftest import AdapterFactory


class _Forward(BaseHTTPRequestHandler):
    """A forwarding proxy for plain HTTP: the request line holds the absolute URL; it is fetched as is."""

    seen: list[str]

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.server.seen.append(self.path)  # type: ignore[attr-defined]
        request = urllib.request.Request(self.path, headers={k: v for k, v in self.headers.items()})
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=5) as answer:
            body = answer.read()
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.headers.get("Content-Type", "application/json"))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def proxy() -> Iterator[ThreadingHTTPServer]:
    _environment_settings.cache_clear()  # kept per process and URL: a reused port must not see an old one
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Forward)
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    _environment_settings.cache_clear()  # nor may a later test see this one's proxy


def test_a_proxy_in_the_environment_is_used_and_read_once(
    broker: PaperBroker, make_adapter: AdapterFactory, proxy: ThreadingHTTPServer, monkeypatch
) -> None:
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_port}")
    adapter = make_adapter(broker)
    monkeypatch.delenv("HTTP_PROXY")  # changed after the adapter was made: not seen (read once)
    clock = adapter.clock()
    assert clock.timestamp is not None
    assert any(path.endswith("/v2/clock") and path.startswith(broker.url) for path in proxy.seen)


def test_no_proxy_for_the_broker_host_goes_direct(
    broker: PaperBroker, make_adapter: AdapterFactory, proxy: ThreadingHTTPServer, monkeypatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_port}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    make_adapter(broker).clock()
    assert proxy.seen == []
