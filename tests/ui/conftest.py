"""The UI tier: Playwright (PyPI) drives Debian's Chromium headless against the real `bentoml serve`
that the integration tier uses (tests/servers.py). Screenshots go to .ccrisk/test-output/ui/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.ui.browser import CHROMIUM, MISSING, launch

AXE = ROOT / "tests" / "ui" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / ".ccrisk" / "test-output" / "ui"
WIDE, PANEL = {"width": 1280, "height": 800}, {"width": 400, "height": 800}


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if Path(item.fspath).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.ui)


# Per module: Playwright's sync API runs an event loop on this thread while it is started, and
# later tests that call asyncio.run() need none running.
@pytest.fixture(scope="module")
def browser() -> Iterator:
    if not CHROMIUM.exists():
        pytest.fail(MISSING)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = launch(p)
        yield launched
        launched.close()


class Screen:
    """One browser tab on the served screens, with the JavaScript errors it raised."""

    def __init__(self, browser, base_url: str, viewport: dict, bypass_csp: bool = False):
        # bypass_csp only where the test injects axe-core: the pages' policy refuses injected scripts
        self.context = browser.new_context(base_url=base_url, viewport=viewport, bypass_csp=bypass_csp)
        # local-network-access: a phone system's site framing the screen on loopback (Chromium asks)
        self.context.grant_permissions(["clipboard-read", "clipboard-write", "local-network-access"])
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def sign_in(self, path: str, key: str) -> None:
        self.page.goto(path)
        self.page.fill("#key", key)
        self.page.press("#key", "Enter")
        self.page.wait_for_selector("#app:not([hidden]), #denied:not([hidden]), #signin-msg:not([hidden])")

    def shot(self, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=False)
        return path

    def axe(self) -> list[dict]:
        """Critical and serious axe-core violations on the page as it is now."""
        if not AXE.exists():
            pytest.fail(f"{AXE} is missing: `make browser` runs npm ci --prefix tests/ui")
        self.page.add_script_tag(path=str(AXE))
        found = self.page.evaluate("async () => (await axe.run(document)).violations")
        return [
            {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:3]}
            for v in found
            if v["impact"] in ("critical", "serious")
        ]

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def screen(browser, server) -> Iterator:
    """A factory of tabs; each is closed after the test, which fails on any JavaScript error."""
    opened: list[Screen] = []

    def open_screen(viewport: dict = WIDE, bypass_csp: bool = False) -> Screen:
        tab = Screen(browser, str(server.base_url), viewport, bypass_csp)
        opened.append(tab)
        return tab

    yield open_screen
    errors = [e for tab in opened for e in tab.errors]
    for tab in opened:
        tab.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
