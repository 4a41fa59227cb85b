"""Sign-in, roles and errors on the screens; axe-core on every page."""

from __future__ import annotations

import time

import pytest

from features.ops.keys import RELOAD_S, create_key, revoke_key
from features.settings import load_settings
from tests.conftest import SAMPLE_CLAIMS
from tests.ui.conftest import PANEL, WIDE


@pytest.mark.parametrize(("path", "role"), [("/agent", "claims_system"), ("/claims", "agent_assist")])
def test_a_wrong_role_sees_the_403_page(screen, api_keys, path, role):
    tab = screen()
    tab.sign_in(path, api_keys[role])
    page = tab.page
    assert page.is_visible("#denied") and not page.is_visible("#app")
    assert "403" in page.inner_text("#denied-title")
    assert f"A {role} key may not use this screen" in page.inner_text("#denied-msg")
    page.click("#denied-signout")
    page.wait_for_selector("#signin:not([hidden])")


def test_an_unknown_key_is_refused_at_sign_in(screen):
    tab = screen()
    tab.sign_in("/agent", "ccrisk_not-a-key")
    assert tab.page.is_visible("#signin")
    assert "Sign in again" in tab.page.inner_text("#signin-msg")


def test_a_revoked_key_is_sent_back_to_sign_in(screen, trained):
    keys = load_settings(trained.settings_path).stores_url
    key = create_key(keys, "ui-revoked", "agent_assist", replace=True)
    time.sleep(RELOAD_S + 0.2)  # every worker has read the new key by then
    tab = screen()
    tab.sign_in("/agent", key)
    page = tab.page
    assert page.is_visible("#app")
    revoke_key(keys, "ui-revoked")
    time.sleep(RELOAD_S + 0.2)  # every worker has re-read the keys by then
    page.fill("#message", "Where is my card?")
    page.press("#message", "Enter")
    page.wait_for_selector("#signin:not([hidden])")
    assert "not accepted" in page.inner_text("#signin-msg")
    assert page.evaluate("sessionStorage.length") == 0


def test_pages_are_served_with_a_strict_policy(server):
    for path in ("/agent", "/claims"):
        answer = server.get(path, headers={"Authorization": ""})
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'self'" in policy
        assert "unsafe-inline" not in policy
    assert server.get("/ui/missing.js").status_code == 404


@pytest.mark.parametrize(
    ("status", "headers", "words"),
    [
        (413, {}, "Too much at once. request body over 1 bytes: split the batch"),
        (429, {"retry-after": "7"}, "Wait 7 seconds, then retry"),
        (503, {}, "The models are loading"),
        (500, {}, "Quote request id r-1 to your administrator"),
    ],
)
def test_errors_are_said_in_words(screen, api_keys, status, headers, words):
    """Answers the server rarely gives on demand, played by the browser in its place."""
    tab = screen()
    tab.sign_in("/agent", api_keys["agent_assist"])
    problem = {"status": status, "detail": "request body over 1 bytes: split the batch", "request_id": "r-1"}
    tab.page.route(
        "**/v1/contact/analyze",
        lambda route: route.fulfill(status=status, headers=headers, json=problem),
    )
    tab.page.fill("#message", "Where is my card?")
    tab.page.press("#message", "Enter")
    tab.page.wait_for_selector("#notice:not([hidden])")
    assert words in tab.page.inner_text("#notice")
    assert tab.page.is_visible("#app"), "only a 401 signs the person out"


def _violations(tab, label: str) -> list[str]:
    return [f"{label}: {v}" for v in tab.axe()]


def test_no_serious_accessibility_violations(screen, api_keys):
    found: list[str] = []
    for path, role in (("/agent", "agent_assist"), ("/claims", "claims_system")):
        for viewport in (WIDE, PANEL):
            tab = screen(viewport, bypass_csp=True)
            tab.page.goto(path)
            tab.page.wait_for_selector("#signin:not([hidden])")
            found += _violations(tab, f"{path} sign-in {viewport['width']}")
            tab.sign_in(path, api_keys[role])
            if path == "/agent":
                tab.page.fill("#message", "My claim was rejected and nobody explains why. Unacceptable!")
                tab.page.press("#message", "Enter")
                tab.page.wait_for_function("() => document.body.dataset.state === 'ready'")
            else:
                tab.page.set_input_files("#csv-file", str(SAMPLE_CLAIMS))
                tab.page.click("#score-csv")
                tab.page.wait_for_selector("#claims-table tbody tr")
                tab.page.locator("#claims-table tbody tr").first.click()
                tab.page.wait_for_selector("#hit-rate")
            found += _violations(tab, f"{path} in use {viewport['width']}")
    denied = screen(WIDE, bypass_csp=True)
    denied.sign_in("/claims", api_keys["agent_assist"])
    found += _violations(denied, "/claims 403")
    assert not found, "\n".join(found)
