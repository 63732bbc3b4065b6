"""The dashboard's outer wall over real sockets (issue 17, items 1 and 4): a huge body is refused as it
streams, without the process that trades ever holding it, and only the allowed Host names are answered."""

from __future__ import annotations

import gc
import socket
import time
import tracemalloc
from pathlib import Path

import requests

from bot.web.guard import MAX_BODY_BYTES, MAX_CONCURRENT
from tests.web.conftest import TOKEN, Rig

MB = 1024 * 1024
CHUNK = memoryview(b"x" * 65536)


def send_request(
    rig: Rig, head: str, body_bytes: int = 0, chunked: bool = False, host: str | None = None
) -> tuple[int, int]:
    """Send ``head`` then up to ``body_bytes`` of body over a raw socket, as fast as the server takes it;
    (response status, body bytes the server accepted before it answered and closed)."""
    host = host or f"127.0.0.1:{rig.server.port}"
    sock = socket.create_connection(("127.0.0.1", rig.server.port), timeout=10)
    sent = 0
    try:
        sock.sendall(f"{head}\r\nHost: {host}\r\n\r\n".encode())
        try:
            while sent < body_bytes:
                if chunked:
                    sock.sendall(b"10000\r\n" + CHUNK + b"\r\n")
                else:
                    sock.sendall(CHUNK)
                sent += len(CHUNK)
        except OSError:
            pass  # the server answered and closed: exactly what should happen
        response = b""
        try:
            while b"\r\n" not in response:
                data = sock.recv(4096)
                if not data:
                    break
                response += data
        except OSError:
            pass
    finally:
        sock.close()
    status = int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.1 ") else 0
    return status, sent


def form_head(path: str, length: int | None) -> str:
    size = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return f"POST {path} HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n{size}"


def test_a_300_mb_body_is_refused_before_it_is_read(rig):
    for path in ("/login", "/approvals/x/approve", "/logout", "/api/approvals/x/approve", "/nowhere"):
        # headers only: the answer comes at once, without waiting for a byte of the announced body
        assert send_request(rig, form_head(path, 300 * MB)) == (413, 0), path
    status, sent = send_request(rig, form_head("/login", 300 * MB), body_bytes=300 * MB)
    assert status == 413 and sent < 300 * MB


def test_a_chunked_body_is_cut_off_as_it_streams(rig):
    for path in ("/login", "/approvals/x/approve", "/logout"):
        status, sent = send_request(rig, form_head(path, None), body_bytes=300 * MB, chunked=True)
        assert status == 413 and sent < 300 * MB, path
    # the JSON API reads JSON, not forms: the guard's own limit cuts it off
    auth_head = form_head("/api/approvals/x/approve", None) + f"\r\nAuthorization: Bearer {TOKEN}"
    status, sent = send_request(rig, auth_head, body_bytes=300 * MB, chunked=True)
    assert status == 413 and sent < 300 * MB
    assert requests.get(f"{rig.base}/health", timeout=10).status_code in (200, 503)  # still serving


def test_a_form_with_too_many_fields_is_refused(rig):
    data = "&".join(f"f{i}=1" for i in range(200))
    response = requests.post(
        f"{rig.base}/login",
        data=data,
        headers={"Origin": rig.base, "Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert response.status_code == 413


def _peak_rss_reset() -> bool:
    """Reset this process's peak RSS (VmHWM); False where the kernel does not allow it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(field)


def test_the_trading_process_grows_less_than_10_mb_under_large_bodies(rig):
    """The dashboard runs inside the bot's process (as in production, uvicorn on a thread beside the bot):
    its peak RSS may not grow 10 MB while unauthenticated clients push 300 MB bodies at it, declared and
    chunked, at every kind of route. (Before: 166 MB -> 763 MB.)"""
    attacks = [
        (form_head("/login", 300 * MB), False),
        (form_head("/approvals/x/approve", 300 * MB), False),
        (form_head("/login", None), True),
        (form_head("/approvals/x/approve", None), True),
        (form_head("/api/approvals/x/approve", None) + f"\r\nAuthorization: Bearer {TOKEN}", True),
    ]
    send_request(rig, form_head("/login", None), body_bytes=MB, chunked=True)  # warm the code paths up
    gc.collect()
    if _peak_rss_reset():
        before = _status_kb("VmRSS")
        for head, chunked in attacks:
            assert send_request(rig, head, body_bytes=300 * MB, chunked=chunked)[0] == 413
        growth_mb = (_status_kb("VmHWM") - before) / 1024
    else:  # no /proc/self/clear_refs: count the Python heap's peak instead
        tracemalloc.start()
        try:
            for head, chunked in attacks:
                assert send_request(rig, head, body_bytes=300 * MB, chunked=chunked)[0] == 413
            growth_mb = tracemalloc.get_traced_memory()[1] / MB
        finally:
            tracemalloc.stop()
    assert growth_mb < 10, f"peak grew {growth_mb:.1f} MB"


def test_the_limit_leaves_ordinary_requests_alone(rig):
    response = requests.post(
        f"{rig.base}/login",
        data={"token": TOKEN, "who": "x" * 1000},
        headers={"Origin": rig.base},
        timeout=10,
    )
    assert response.status_code == 200 and "Sign out" in response.text
    assert MAX_BODY_BYTES >= 16_384


# --- Host (DNS rebinding) -----------------------------------------------------------------------------------


def test_a_foreign_host_header_is_refused_on_every_route(rig):
    port = rig.server.port
    evil = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
    for method, path in [
        ("GET", "/"),
        ("GET", "/health"),
        ("GET", "/login"),
        ("POST", "/login"),
        ("GET", "/approvals/x/approve?t=abc"),
        ("POST", "/approvals/x/approve"),
        ("POST", "/logout"),
        ("GET", "/api/status"),
        ("POST", "/api/approvals/x/approve"),
    ]:
        response = requests.request(
            method,
            f"{rig.base}{path}",
            headers={**evil, "Authorization": f"Bearer {TOKEN}"},
            data={"token": TOKEN},
            timeout=10,
        )
        assert response.status_code == 400, (method, path, response.status_code)
        assert "allowed_hosts" in response.text
    # the rebinding attack exactly: a correct token from a page on evil.example signs nobody in
    login = requests.post(f"{rig.base}/login", data={"token": TOKEN}, headers=evil, timeout=10)
    assert login.status_code == 400 and "rb_session" not in login.cookies
    for bad in (f"127.0.0.1:{port + 1}", "127.0.0.1", f"127.0.0.1.evil.example:{port}", "", "a b"):
        response = requests.get(f"{rig.base}/health", headers={"Host": bad}, timeout=10)
        assert response.status_code == 400, bad


def test_the_bound_address_and_localhost_are_allowed(rig):
    port = rig.server.port
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}", f"[::1]:{port}"):
        response = requests.get(f"{rig.base}/login", headers={"Host": host}, timeout=10)
        assert response.status_code == 200, host
        assert response.headers["x-frame-options"] == "DENY"


def test_allowed_hosts_and_the_public_url_extend_the_list(rig_factory):
    rig = rig_factory(
        web={"allowed_hosts": ["bot.lan", "proxy.lan:8443"], "public_url": "https://bot.example.com"}
    )
    port = rig.server.port
    for host, status in [
        (f"bot.lan:{port}", 200),
        ("proxy.lan:8443", 200),
        ("bot.example.com", 200),
        (f"proxy.lan:{port}", 400),
        ("bot.lan:1", 400),
        (f"evil.example:{port}", 400),
    ]:
        assert requests.get(f"{rig.base}/login", headers={"Host": host}, timeout=10).status_code == status, (
            host
        )


def test_requests_beyond_the_concurrency_bound_get_503_at_once_and_the_rest_recover(rig):
    """Slow clients (a body that never comes) hold at most MAX_CONCURRENT places; the next request is told
    to come back instead of queueing, the bot's cycles go on meanwhile, and once they hang up the dashboard
    serves again - without a traceback in the log for each abandoned upload."""
    port = rig.server.port
    head = form_head("/login", 1000) + f"\r\nOrigin: {rig.base}\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    slow = []
    try:
        for _ in range(MAX_CONCURRENT):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(head.encode())  # headers only: the route waits for the body
            slow.append(sock)
        deadline = time.monotonic() + 10
        while True:
            busy = requests.get(f"{rig.base}/login", timeout=10)
            if busy.status_code == 503 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
        # the bot in the same process trades on: its cycles plan while the dashboard is saturated
        assert rig.hold_plan().status == "held"
    finally:
        for sock in slow:
            sock.close()
    deadline = time.monotonic() + 10
    while requests.get(f"{rig.base}/login", timeout=10).status_code != 200:
        assert time.monotonic() < deadline, "the dashboard did not recover"
        time.sleep(0.05)
    assert "Traceback" not in rig.log_file.read_text()
