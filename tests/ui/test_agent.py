"""The agent-assist screen in a real browser: analyse, feedback stored, history, keyboard."""

from __future__ import annotations

from features.kb.feedback import FeedbackStore
from features.settings import load_settings
from tests.conftest import PHONE_ORIGIN
from tests.ui.conftest import PANEL, WIDE

COMPLAINT = (
    "This is John Smith, call me on 07700 900123. Third time I'm asking: my new card still hasn't "
    "arrived and nobody calls back. This is unacceptable, I want to make a formal complaint!"
)
QUESTION = "How do I report a stolen car to make a claim?"


def analyse(page, text: str) -> None:
    done = page.evaluate("() => window.ccriskTimings.length")
    page.fill("#message", text)
    page.press("#message", "Enter")
    page.wait_for_function("n => window.ccriskTimings.length > n", arg=done)


def test_analyse_shows_masked_phrases_band_intent_and_answers(screen, api_keys):
    tab = screen()
    tab.sign_in("/agent", api_keys["agent_assist"])
    page = tab.page
    analyse(page, COMPLAINT)
    masked = page.inner_text("#masked")
    assert "07700 900123" not in masked and "[PHONE]" in masked, masked
    assert page.locator("#masked mark").count() >= 1, "no key phrase highlighted in the message"
    assert page.inner_text("#risk-band").split()[0].lower() in ("low", "medium", "high")
    assert page.locator("#key-phrases li").count() >= 1
    assert page.inner_text("#intent").startswith("Intent: ")
    assert page.inner_text("#topic").startswith("Topic: ")
    answers = page.locator("ol.answers li")
    assert answers.count() >= 1 and answers.first.locator("h3").inner_text().strip()
    # the key: in this tab's sessionStorage only, never in a URL, a cookie or localStorage
    assert api_keys["agent_assist"] not in page.url
    assert page.evaluate("localStorage.length") == 0 and page.evaluate("document.cookie") == ""
    tab.shot("agent-1280")
    page.set_viewport_size(PANEL)
    tab.shot("agent-400")
    page.set_viewport_size(WIDE)


def test_feedback_is_stored_and_acknowledged(screen, api_keys, trained):
    tab = screen()
    tab.sign_in("/agent", api_keys["agent_assist"])
    page = tab.page
    analyse(page, QUESTION)
    page.press("#message", "Escape")
    page.keyboard.press("y")  # helpful, from the keyboard, on the first answer
    page.wait_for_selector("#ack-0:has-text('Saved')")
    first = int(page.inner_text("#ack-0").rsplit("#", 1)[1].rstrip(")"))
    if page.locator("ol.answers li").count() > 1:
        page.keyboard.press("j")
        page.locator("#answer-1 button", has_text="Not helpful").click()
        page.wait_for_selector("#ack-1:has-text('Saved: not helpful')")
    rows = FeedbackStore(load_settings(trained.settings_path).stores_url).feedback_rows()
    assert [r["verdict"] for r in rows if r["id"] == first] == ["helpful"]
    page.locator("#answer-0 button", has_text="Copy").click()
    page.wait_for_selector("#ack-0:has-text('Copied')")
    title = page.locator("#answer-0 h3").inner_text().split(". ", 1)[1]
    assert page.evaluate("navigator.clipboard.readText()").startswith(title)


def test_history_reopens_an_earlier_message(screen, api_keys):
    tab = screen()
    tab.sign_in("/agent", api_keys["agent_assist"])
    page = tab.page
    analyse(page, COMPLAINT)
    analyse(page, QUESTION)
    assert "stolen car" in page.inner_text("#masked")
    page.click("#history-1")
    assert "[PHONE]" in page.inner_text("#masked")
    stored = page.evaluate("Object.values(sessionStorage).join(' ')")
    for secret in ("07700 900123", "John Smith"):
        assert secret not in stored, f"raw personal data kept in the browser: {secret}"
        assert secret not in page.inner_text("#app")
    page.click("#signout")
    page.wait_for_selector("#signin:not([hidden])")
    assert page.evaluate("sessionStorage.length") == 0


def test_a_message_handed_over_by_the_phone_system_is_analysed(screen, api_keys):
    tab = screen()
    tab.sign_in("/agent", api_keys["agent_assist"])
    page = tab.page
    page.evaluate("text => window.postMessage({type: 'ccrisk.message', text}, location.origin)", QUESTION)
    page.wait_for_function("() => window.ccriskTimings.length === 1")
    assert page.input_value("#message") == QUESTION


def _serve(page, origin: str, html: str) -> None:
    """A page at `origin` (another site) without a server: the browser is handed its HTML."""
    page.route(f"{origin}/**", lambda route: route.fulfill(content_type="text/html", body=html))


def test_a_phone_system_allowed_in_the_settings_frames_the_screen_and_hands_a_message_over(
    screen, api_keys, server
):
    base = str(server.base_url).rstrip("/")
    page = screen().page
    _serve(
        page, PHONE_ORIGIN, f'<iframe id="agent" title="agent" src="{base}/agent" width="400" height="700">'
    )
    page.goto(f"{PHONE_ORIGIN}/")
    frame = page.frame_locator("#agent")
    frame.locator("#key").fill(api_keys["agent_assist"])
    frame.locator("#key").press("Enter")
    frame.locator("#app:not([hidden])").wait_for()
    page.evaluate(
        "([text, to]) => document.getElementById('agent').contentWindow"
        ".postMessage({type: 'ccrisk.message', text}, to)",
        [QUESTION, base],
    )
    frame.locator("ol.answers li").first.wait_for()
    assert frame.locator("#message").input_value() == QUESTION


def test_a_message_from_any_other_site_is_ignored(screen, api_keys, server):
    base = str(server.base_url).rstrip("/")
    page = screen().page
    _serve(page, "http://elsewhere.test", "<p>another site</p>")
    page.goto("http://elsewhere.test/")
    with page.expect_popup() as opened:
        page.evaluate("url => { window.agent = window.open(url) }", f"{base}/agent")
    agent = opened.value
    agent.fill("#key", api_keys["agent_assist"])
    agent.press("#key", "Enter")
    agent.wait_for_selector("#app:not([hidden])")
    page.evaluate(
        "to => window.agent.postMessage({type: 'ccrisk.message', text: 'from elsewhere'}, to)", base
    )
    # then one from the screen's own origin, delivered after it: had the first been taken, two
    # analyses would run, and the count would reach 2 once the network is quiet
    agent.evaluate("() => window.postMessage({type: 'ccrisk.message', text: 'own origin'}, location.origin)")
    agent.wait_for_function("() => window.ccriskTimings.length === 1")
    agent.wait_for_load_state("networkidle")
    assert agent.evaluate("() => window.ccriskTimings.length") == 1
    assert agent.input_value("#message") == "own origin"
