// Claims review: score a CSV or one claim, work the list by fraud probability, open a claim to see
// every reason and rule, record the investigation's outcome, watch the hit rate per band.
import { $, api, bandBadge, el, fill, notify, pct, start } from "/ui/common.js";

const OUTCOMES = [["confirmed_fraud", "Confirmed fraud"], ["legitimate", "Not fraud"], ["inconclusive", "Inconclusive"]];
const BANDS = ["high", "medium", "low"];
const PANEL_DAYS = 30;
const PANEL_LAG_MS = 1000;
const state = { claims: [], open: null, session: null, outcomes: {} };
window.ccriskTimings = []; // ms from "Score file" to the table drawn (make bench reads them)

const outcomeLabel = (value) => (OUTCOMES.find(([v]) => v === value) || [null, ""])[1];

function topReasons(claim, n = 2) {
  const raising = claim.reasons.filter((r) => r.contribution > 0).slice(0, n);
  return raising.length ? el("ul", { class: "plain" }, raising.map((r) => el("li", {}, r.text))) : "—";
}

function renderTable() {
  const rows = state.claims.map((claim, i) => {
    const open = () => openClaim(i);
    return el("tr", { tabindex: "0", "data-claim-id": claim.claim_id || "", class: state.open === i ? "open" : "",
      onclick: open, onkeydown: (e) => { if (e.key === "Enter") open(); } },
    el("td", { class: "num" }, i + 1),
    el("td", {}, claim.claim_id || "(no id)"),
    el("td", { class: "num" }, pct(claim.fraud_probability)),
    el("td", {}, bandBadge(claim.risk_band)),
    el("td", { class: "wide" }, topReasons(claim)),
    el("td", {}, claim.rules_hit.length ? claim.rules_hit.map((r) => r.description).join("; ") : "—"),
    el("td", { class: "outcome" }, outcomeLabel(state.outcomes[claim.claim_id])));
  });
  const head = ["#", "Claim", "Fraud probability", "Band", "Top reasons", "Rules hit", "Outcome"].map((h, i) =>
    el("th", { scope: "col", class: i === 4 ? "wide" : "" }, h));
  fill("table", el("table", { id: "claims-table" }, el("caption", { class: "visually-hidden" }, "Scored claims"),
    el("thead", {}, el("tr", {}, head)), el("tbody", {}, rows)));
  const flagged = state.claims.filter((c) => c.risk_band !== "low").length;
  $("table-summary").textContent = `${state.claims.length} claims, ${flagged} flagged (medium or high), highest risk first.`;
}

function reasonItem(reason) {
  const up = reason.contribution > 0;
  return el("li", { class: up ? "up" : "down" },
    el("span", { "aria-hidden": "true" }, up ? "▲ " : "▼ "),
    el("strong", {}, up ? "raises risk: " : "lowers risk: "), reason.text, ` (${reason.contribution.toFixed(2)})`);
}

function openClaim(i) {
  state.open = i;
  const claim = state.claims[i];
  document.querySelectorAll("#claims-table tbody tr").forEach((tr, n) => tr.classList.toggle("open", n === i));
  const ack = el("p", { class: "ack", role: "status", id: "outcome-ack" });
  const buttons = OUTCOMES.map(([value, label]) => el("button", { type: "button", class: "secondary",
    disabled: !claim.claim_id, onclick: () => record(claim, value, ack) }, label));
  const m = claim.model;
  fill("detail",
    el("p", {}, el("strong", {}, claim.claim_id || "(no id)"), " ", bandBadge(claim.risk_band),
      ` fraud probability ${pct(claim.fraud_probability)}`),
    el("h3", {}, "Reasons"),
    claim.reasons.length ? el("ul", { class: "plain", id: "reasons" }, claim.reasons.map(reasonItem))
      : el("p", { class: "hint" }, "No reasons were computed for this claim."),
    el("h3", {}, "Rules hit"),
    claim.rules_hit.length ? el("ul", { class: "plain", id: "rules" },
      claim.rules_hit.map((r) => el("li", {}, `${r.severity}: ${r.description} (${r.id})`)))
      : el("p", { class: "hint" }, "No rules hit."),
    el("p", { class: "hint", id: "model-version" },
      `Model ${m.name} version ${m.version} (${claim.variant}), rules ${m.rules_version}`),
    el("h3", {}, "Investigation outcome"),
    claim.claim_id ? null : el("p", { class: "hint" }, "This claim has no id, so an outcome cannot be recorded."),
    el("div", { class: "row", role: "group", "aria-label": "Record the outcome" }, buttons),
    ack);
  $("detail").scrollIntoView({ block: "nearest" });
}

async function record(claim, outcome, ack) {
  try {
    const out = await api("POST", "/v1/claims/feedback",
      { claim_id: claim.claim_id, outcome, investigator: state.session.name });
    state.outcomes[claim.claim_id] = outcome;
    ack.textContent = `Recorded: ${outcomeLabel(outcome)} (feedback #${out.feedback_id})`;
    renderTable();
    await refreshPanel();
  } catch (err) {
    notify(err.message);
  }
}

function panelRows(rows) {
  const versions = [...new Set(rows.map((r) => r.model_version))].sort((a, b) => Number(b) - Number(a));
  const shown = state.claims.length ? state.claims[0].model.version : versions[0];
  return [shown, rows.filter((r) => r.model_version === shown)];
}

async function refreshPanel() {
  let report;
  try {
    report = await api("GET", `/v1/ui/hit_rate?days=${PANEL_DAYS}`);
  } catch (err) {
    return fill("panel", el("p", { class: "hint" }, err.message));
  }
  if (!report.rows.length) return fill("panel", el("p", { class: "hint" }, "No scored claims yet."));
  const [version, rows] = panelRows(report.rows);
  const body = BANDS.map((band) => rows.find((r) => r.band === band)).filter(Boolean).map((r) =>
    el("tr", { "data-band": r.band },
      el("td", {}, bandBadge(r.band)),
      el("td", { class: "num" }, pct(r.share)),
      el("td", { class: "num" }, r.reviewed),
      el("td", { class: "num confirmed" }, r.confirmed),
      el("td", { class: "num hit-rate" }, r.ci_low === null ? "—"
        : `${pct(r.hit_rate)} [${pct(r.ci_low)}, ${pct(r.ci_high)}]`)));
  const head = ["Band", "Share of claims", "Reviewed", "Confirmed", "Hit rate [95 % CI]"].map((h) => el("th", { scope: "col" }, h));
  fill("panel",
    el("p", { class: "hint" }, `${report.model} version ${version}: confirmed fraud ÷ claims scored in the band.`),
    el("table", { id: "hit-rate" }, el("thead", {}, el("tr", {}, head)), el("tbody", {}, body)));
}

function show(results) {
  const seen = new Set(results.map((c) => c.claim_id).filter(Boolean));
  const kept = state.claims.filter((c) => !c.claim_id || !seen.has(c.claim_id));
  state.claims = [...results, ...kept].sort((a, b) => b.fraud_probability - a.fraud_probability);
  state.open = null;
  renderTable();
  fill("detail", el("p", { class: "hint" }, "No claim open."));
  // The service logs scored claims in the background (a monitoring log): read the panel again shortly.
  refreshPanel().then(() => setTimeout(refreshPanel, PANEL_LAG_MS));
  document.body.dataset.state = "ready";
}

async function busy(button, work) {
  button.disabled = true;
  notify("");
  try { await work(); } catch (err) { notify(err.message); } finally { button.disabled = false; }
}

// The header and each record of a CSV, split where a line ends outside quotes (records may hold
// quoted newlines); the service reads each record's cells.
function csvRecords(text) {
  const records = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i <= text.length; i++) {
    const ch = text[i];
    if (ch === '"') quoted = !quoted;
    else if (i === text.length || (ch === "\n" && !quoted)) {
      const record = text.slice(start, i).replace(/\r$/, "");
      if (record.trim()) records.push(record);
      start = i + 1;
    }
  }
  return [records[0] || "", records.slice(1)];
}

async function scoreFile() {
  const file = $("csv-file").files[0];
  if (!file) return notify("Choose a CSV file first.");
  const started = performance.now();
  const [header, rows] = csvRecords(await file.text());
  const size = state.session.limits.max_batch_claims; // a file over one call's limit goes in parts
  const results = [];
  for (let at = 0; at === 0 || at < rows.length; at += size) {
    $("table-summary").textContent = `Scoring claims ${at + 1} to ${Math.min(at + size, rows.length)} of ${rows.length}…`;
    const csv = [header, ...rows.slice(at, at + size)].join("\n");
    const out = await api("POST", "/v1/claims/score_csv", { csv, explain: "all", first_row: at + 1 });
    results.push(...out.results);
  }
  show(results);
  window.ccriskTimings.push(performance.now() - started);
}

async function scoreJson() {
  let claim;
  try {
    const parsed = JSON.parse($("claim-json").value);
    claim = parsed && parsed.claim ? parsed.claim : parsed;
  } catch (err) {
    return notify(`Please fix the input: the claim is not valid JSON (${err.message}).`);
  }
  show([await api("POST", "/v1/claims/score", { claim })]);
}

function ready(session) {
  state.session = session;
  refreshPanel();
  if (state.wired) return;
  state.wired = true;
  $("csv-form").addEventListener("submit", (e) => { e.preventDefault(); busy($("score-csv"), scoreFile); });
  $("json-form").addEventListener("submit", (e) => { e.preventDefault(); busy($("score-json"), scoreJson); });
}

start("claims", ready);
