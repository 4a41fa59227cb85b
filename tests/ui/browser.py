"""Debian's Chromium as the UI tier and `make bench` start it (Playwright from PyPI, no browser download)."""

from __future__ import annotations

import shutil
from pathlib import Path

CHROMIUM = Path(shutil.which("chromium") or "/usr/bin/chromium")
# The closed network refuses Chromium's background calls; these flags stop it from making them.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip
MISSING = "Chromium is not installed: `make browser` installs Debian's chromium package"


def launch(playwright):
    """A headless Chromium; raises with the fix when it is not installed."""
    if not CHROMIUM.exists():
        raise FileNotFoundError(MISSING)
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
