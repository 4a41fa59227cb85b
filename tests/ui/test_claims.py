"""The claims-review screen in a real browser: upload, sorted table with reasons, one claim, outcome."""

from __future__ import annotations

import json

from tests.conftest import MAX_BATCH, SAMPLE_CLAIMS
from tests.ui.conftest import PANEL, WIDE

ROWS = len(SAMPLE_CLAIMS.read_text().strip().splitlines()) - 1


def upload(page, path=SAMPLE_CLAIMS, rows: int = ROWS) -> None:
    """The file through the screen: over this server's serving.max_batch_claims, it goes in parts."""
    page.set_input_files("#csv-file", str(path))
    page.click("#score-csv")
    page.wait_for_function("n => document.querySelectorAll('#claims-table tbody tr').length === n", arg=rows)


def test_upload_sorts_claims_with_reasons(screen, api_keys):
    tab = screen()
    tab.sign_in("/claims", api_keys["claims_system"])
    page = tab.page
    upload(page)
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


def test_outcome_changes_the_hit_rate_panel(screen, api_keys):
    tab = screen()
    tab.sign_in("/claims", api_keys["claims_system"])
    page = tab.page
    upload(page)
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


def test_a_bad_cell_is_named_by_its_row_in_the_whole_file(screen, api_keys, tmp_path):
    lines = SAMPLE_CLAIMS.read_text().splitlines()[: MAX_BATCH + 21]  # two parts on this server
    header = lines[0].split(",")
    cells = lines[MAX_BATCH + 10].split(",")  # data row MAX_BATCH + 10, in the second part
    cells[header.index("Age")] = "forty"
    lines[MAX_BATCH + 10] = ",".join(cells)
    path = tmp_path / "claims.csv"
    path.write_text("\n".join(lines) + "\n")
    tab = screen()
    tab.sign_in("/claims", api_keys["claims_system"])
    tab.page.set_input_files("#csv-file", str(path))
    tab.page.click("#score-csv")
    tab.page.wait_for_selector("#notice:has-text('Please fix the input')")
    assert f"row {MAX_BATCH + 10} Age" in tab.page.inner_text("#notice")
