"""The screens in a real browser (Debian's Chromium through Playwright), on the sample models:

- /agent: from pressing Enter to every panel filled (complaint risk with key phrases, masked
  message, topic and intent, knowledge answers), one message at a time, the sample messages in turn;
- /claims: from "Score file" (the 1,500-claim sample CSV, every claim explained) to the table drawn.

The pages time themselves (`window.ccriskTimings`, performance.now()); nothing else loads the server.
"""

from __future__ import annotations

import csv
import os
import statistics
from pathlib import Path

from benchmarks.servers import start_ccrisk
from tests.ui.browser import launch

ROOT = Path(__file__).resolve().parents[1]
MESSAGES = ROOT / "data_samples" / "contact_messages.csv"
CLAIMS = ROOT / "data_samples" / "claims_sample.csv"
AGENT_MS_BAR = 300.0  # p95, Enter to every /agent panel filled
SHOTS = ROOT / "docs" / "img"  # the README's screenshots (a full run writes them)
SHOWN = (
    "This is Jane Morgan, call me on 07700 900123. Third time I'm asking: my new card still hasn't arrived "
    "and nobody calls back. This is unacceptable, I want to make a formal complaint!"
)


def _figures(ms: list[float]) -> dict:
    ordered = sorted(ms)
    return {
        "runs": len(ms),
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))], 1),
        "max_ms": round(ordered[-1], 1),
    }


def _timed(page, act) -> None:
    done = page.evaluate("() => window.ccriskTimings.length")
    act()
    page.wait_for_function("n => window.ccriskTimings.length > n", arg=done, timeout=120_000)


def _sign_in(page, path: str) -> None:
    page.goto(path)
    page.wait_for_selector("#app:not([hidden]), #signin:not([hidden])")
    if page.is_visible("#signin"):  # once per tab: the key stays in its sessionStorage
        page.fill("#key", os.environ["CCRISK_API_KEY"])  # the bench store's admin key (benchmarks/run.py)
        page.press("#key", "Enter")
    page.wait_for_selector("#app:not([hidden])")


def _screenshots(browser, base: str) -> None:
    """Each screen in use at 1280x800, saved at half size for the README."""
    page = browser.new_page(base_url=base, viewport={"width": 1280, "height": 800}, device_scale_factor=0.5)
    _sign_in(page, "/agent")
    _timed(page, lambda: (page.fill("#message", SHOWN), page.press("#message", "Enter")))
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "agent.png"))
    _sign_in(page, "/claims")
    page.set_input_files("#csv-file", str(CLAIMS))
    _timed(page, lambda: page.click("#score-csv"))
    page.locator("#claims-table tbody tr").first.click()
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / "claims.png"))
    page.close()


def measure(env: dict, logs: Path, workers: int, messages: int, uploads: int, warmup: int = 5,
            screenshots: bool = False) -> dict:  # fmt: skip
    from playwright.sync_api import sync_playwright

    with open(MESSAGES, newline="") as fh:
        texts = [row["text"] for row in csv.DictReader(fh)]
    server = start_ccrisk(env, logs / "ccrisk-screens.log", workers)
    try:
        with sync_playwright() as p:
            browser = launch(p)
            page = browser.new_page(base_url=server.base, viewport={"width": 1280, "height": 800})
            _sign_in(page, "/agent")
            for i in range(warmup + messages):
                text = texts[i % len(texts)]
                _timed(page, lambda text=text: (page.fill("#message", text), page.press("#message", "Enter")))
            agent = page.evaluate("() => window.ccriskTimings")[warmup:]
            _sign_in(page, "/claims")
            page.set_input_files("#csv-file", str(CLAIMS))
            for _ in range(1 + uploads):
                _timed(page, lambda: page.click("#score-csv"))
            claims = page.evaluate("() => window.ccriskTimings")[1:]
            if screenshots:
                _screenshots(browser, server.base)
            browser.close()
    finally:
        server.stop()
    return {
        "browser": "Debian chromium, headless, Playwright",
        "models": "sample",
        "agent_enter_to_panels": _figures(agent),
        "claims_upload_1500_to_table": _figures(claims),
    }


def markdown_lines(report: dict) -> list[str]:
    screens = report["serving"].get("screens")
    if not screens:
        return []
    lines = [
        f"Screens in a real browser ({screens['browser']}, {screens['models']} models), each page timing "
        "itself with performance.now():",
        "",
        "| screen | runs | p50 ms | p95 ms | max ms |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, label in (
        ("agent_enter_to_panels", "/agent: Enter to every panel filled"),
        ("claims_upload_1500_to_table", "/claims: 1,500-claim CSV scored and explained, to the table drawn"),
    ):
        f = screens[name]
        lines.append(f"| {label} | {f['runs']} | {f['p50_ms']} | {f['p95_ms']} | {f['max_ms']} |")
    return [*lines, ""]
