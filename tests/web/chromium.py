"""Headless Chromium for the browser tests: Debian's ``/usr/bin/chromium`` driven by Playwright.

The ``browser`` fixture (tests/web/conftest.py) skips its test when Chromium or Playwright is not installed,
except under CI (``CI`` set), where a missing browser is an error: ``.ci/run`` installs it, and a silent skip
there would hide every browser test."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def launched() -> Iterator:
    """A headless Chromium browser (Playwright's sync API), closed on exit."""
    if os.environ.get("CI"):
        import playwright.sync_api  # noqa: F401 - CI must have it: an ImportError, not a skip
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            raise RuntimeError(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def screenshot(page, tmp_path: Path, name: str) -> Path:  # noqa: ANN001
    """A full-page PNG in ``tmp_path`` (and in ``$REBALANCE_BOT_SCREENSHOTS`` when set, to look at)."""
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("REBALANCE_BOT_SCREENSHOTS"):
        target = Path(os.environ["REBALANCE_BOT_SCREENSHOTS"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target / name)
    return path
