"""The keys-and-trail screen (/admin) as a broker's delegated administrator uses it: create a key and
see it once, rotate and revoke keys, read the trail, be refused outside its tenant; axe-core."""

from __future__ import annotations

import pytest

from features.ops import delegation
from features.ops.keys import issue_key
from features.settings import load_settings
from tests.ui.conftest import PANEL, WIDE


@pytest.fixture(scope="module")
def west_admin(trained) -> str:
    """A tenant admin of broker-west (claims and its own admins)."""
    url = load_settings(trained.settings_path).stores_url
    delegation.create_tenant(url, delegation.operator(), "broker-west", ["claims_system", "tenant_admin"])
    return issue_key(url, "bw-admin", "tenant_admin", tenant="broker-west").secret


def test_a_delegated_admin_creates_rotates_and_revokes_keys_and_reads_the_trail(screen, west_admin):
    tab = screen()
    tab.sign_in("/admin", west_admin)
    page = tab.page
    assert page.is_visible("#app"), page.inner_text("body")[:500]
    assert "bw-admin (tenant_admin)" in page.inner_text("#who")
    page.wait_for_selector("#key-tenant option[value='broker-west']", state="attached")
    assert page.eval_on_selector_all("#key-role option", "os => os.map(o => o.value)") == [
        "claims_system", "tenant_admin"
    ]  # fmt: skip
    page.fill("#key-name", "bw-claims")
    page.fill("#key-days", "30")
    page.click("#create-key")
    page.wait_for_selector("#secret:not([hidden])")
    first = page.inner_text("#secret-value")
    assert first.startswith("ccrisk_") and "bw-claims" in page.inner_text("#secret-what")
    page.wait_for_selector("#keys-table tr:has-text('bw-claims')")
    page.once("dialog", lambda d: d.accept())
    page.click("button[aria-label='Rotate bw-claims']")
    page.wait_for_function("f => document.getElementById('secret-value').textContent !== f", arg=first)
    assert page.inner_text("#secret-value").startswith("ccrisk_")
    page.once("dialog", lambda d: d.accept())
    page.click("button[aria-label='Revoke bw-claims']")
    page.wait_for_selector("#notice.ok")
    page.wait_for_function("() => !document.querySelector(\"#keys-table\").innerText.includes('bw-claims')")
    trail = page.inner_text("#trail-table")
    for action in ("key.create bw-claims", "key.rotate bw-claims", "key.revoke bw-claims"):
        assert action in trail, trail[:1000]
    tab.shot("admin-delegated")


def test_the_admin_screen_says_why_a_request_is_refused(screen, west_admin):
    tab = screen()
    tab.sign_in("/admin", west_admin)
    page = tab.page
    page.wait_for_selector("#key-tenant option[value='broker-west']", state="attached")
    page.evaluate("""() => { const o = document.createElement('option'); o.value = 'insurer';
        o.textContent = 'insurer'; document.getElementById('key-tenant').append(o); }""")
    page.select_option("#key-tenant", "insurer")
    page.evaluate("""() => { const o = document.createElement('option'); o.value = 'claims_system';
        document.getElementById('key-role').append(o); }""")
    page.fill("#key-name", "bw-sneaky")
    page.click("#create-key")
    page.wait_for_selector("#notice.error")
    assert "may not manage tenant 'insurer'" in page.inner_text("#notice")


def test_the_admin_screen_has_no_serious_accessibility_violations(screen, west_admin):
    found: list[str] = []
    for viewport in (WIDE, PANEL):
        tab = screen(viewport, bypass_csp=True)
        tab.sign_in("/admin", west_admin)
        tab.page.wait_for_selector("#keys-table")
        tab.page.wait_for_selector("#trail-table")
        found += [f"/admin {viewport['width']}: {v}" for v in tab.axe()]
    assert not found, "\n".join(found)
