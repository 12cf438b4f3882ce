"""The real browser: Debian's chromium driven by pytest-playwright.

The app runs in a werkzeug server on a thread, on the same test database as the
rest of the suite; tests build data with the factories and drive the pages.
"""

from __future__ import annotations

import os
import shutil
import threading

import pytest
from werkzeug.serving import make_server

from tests.conftest import require

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    require(
        os.path.exists(CHROMIUM),
        "chromium is not installed (make browser, or apt-get install chromium)",
    )
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture
def live_server(app):
    """The app served on a free loopback port for the browser; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


MODES = {
    "phone": PHONE,
    "desktop": DESKTOP,
    "no-javascript": {"java_script_enabled": False, **PHONE},
}


@pytest.fixture
def open_page(browser):
    """Pages in fresh contexts (own cookies): ``open_page("phone")``."""
    contexts = []

    def _open(mode: str):
        context = browser.new_context(**MODES[mode])
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield _open
    for context in contexts:
        context.close()


@pytest.fixture
def phone(open_page):
    """A page in a phone-sized context (390 x 844, touch)."""
    return open_page("phone")


@pytest.fixture
def desktop(open_page):
    return open_page("desktop")


@pytest.fixture
def no_js(open_page):
    """A phone-sized page with JavaScript disabled."""
    return open_page("no-javascript")
