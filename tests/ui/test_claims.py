"""The claims-review screen in a real browser: upload, sorted table with reasons, one claim, outcome."""

from __future__ import annotations

import json

from tests.conftest import MAX_BATCH, SAMPLE_CLAIMS
from tests.ui.conftest import PANEL, WIDE


def upload(page, path) -> None:
    page.set_input_files("#csv-file", str(path))
    page.click("#score-csv")
    page.wait_for_function(
        "n => document.querySelectorAll('#claims-table tbody tr').length === n", arg=MAX_BATCH
    )


def test_upload_sorts_claims_with_reasons(screen, api_keys, claims_csv):
    tab = screen()
    tab.sign_in("/claims", api_keys["claims_system"])
    page = tab.page
    upload(page, claims_csv)
    cells = page.eval_on_selector_all(
        "#claims-table tbody tr td:nth-child(3)", "tds => tds.map(td => parseFloat(td.textContent))"
    )
    assert cells == sorted(cells, reverse=True) and cells[0] > cells[-1]
    first = page.locator("#claims-table tbody tr").first
    assert first.locator("td:nth-child(4)").inner_text().strip().lower() in ("high", "medium")
    assert first.locator("td:nth-child(5) li").count() >= 1, "no top reasons in the table"
    tab.shot("claims-1280")
    page.set_viewport_size(PANEL)
    tab.shot("claims-400")
    page.set_viewport_size(WIDE)
    first.click()
    reasons = page.locator("#reasons li")
    assert reasons.count() >= 2
    directions = " ".join(reasons.all_inner_texts())
    assert "raises risk" in directions
    assert page.inner_text("#model-version").startswith("Model ccrisk-fraud version ")


def panel_count(page, band: str, column: str) -> int:
    return int(page.inner_text(f"#hit-rate tr[data-band={band}] td.{column}"))


def test_outcome_changes_the_hit_rate_panel(screen, api_keys, claims_csv):
    tab = screen()
    tab.sign_in("/claims", api_keys["claims_system"])
    page = tab.page
    upload(page, claims_csv)
    row = page.locator("#claims-table tbody tr").first
    band = row.locator("td:nth-child(4)").inner_text().strip().lower()
    row.click()
    page.click("#detail button:has-text('Inconclusive')")
    page.wait_for_selector("#outcome-ack:has-text('Recorded: Inconclusive')")
    page.wait_for_selector(f"#hit-rate tr[data-band={band}]")
    before = panel_count(page, band, "confirmed")
    page.click("#detail button:has-text('Confirmed fraud')")
    page.wait_for_selector("#outcome-ack:has-text('Recorded: Confirmed fraud')")
    page.wait_for_function(
        "([band, n]) => Number(document.querySelector(`#hit-rate tr[data-band=${band}] td.confirmed`)"
        ".textContent) === n",
        arg=[band, before + 1],
    )
    assert row.locator("td.outcome").inner_text() == "Confirmed fraud"


def test_one_pasted_claim_and_a_bad_one(screen, api_keys, spec):
    tab = screen()
    tab.sign_in("/claims", api_keys["claims_system"])
    page = tab.page
    claim = {**spec.example, "claim_id": "UI-PASTED-1"}
    page.fill("#claim-json", json.dumps(claim))
    page.click("#score-json")
    page.wait_for_selector("#claims-table tbody tr[data-claim-id='UI-PASTED-1']")
    page.fill("#claim-json", json.dumps({**claim, "Age": "very old"}))
    page.click("#score-json")
    notice = page.locator("#notice")
    notice.wait_for(state="visible")
    assert notice.inner_text().startswith("Please fix the input:") and "Age" in notice.inner_text()
    page.fill("#claim-json", "{not json")
    page.click("#score-json")
    page.wait_for_selector("#notice:has-text('not valid JSON')")


def test_a_file_over_the_batch_limit_says_what_to_do(screen, api_keys):
    tab = screen()
    tab.sign_in("/claims", api_keys["claims_system"])
    page = tab.page
    page.set_input_files("#csv-file", str(SAMPLE_CLAIMS))  # 1,500 claims; this server takes 80 a call
    page.click("#score-csv")
    page.wait_for_selector("#notice:has-text('Too much at once')")
    assert f"over {MAX_BATCH} claims" in page.inner_text("#notice")
