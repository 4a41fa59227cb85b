// Agent assist: one customer message -> complaint risk with its key phrases, topic, intent and
// the best knowledge answers; the agent marks answers helpful or not.
import { $, api, bandBadge, el, fill, marked, notify, pct, start, tabStore } from "/ui/common.js";

const HISTORY_KEY = "ccrisk.agent.history"; // masked messages and their results only, this tab only
const HISTORY_MAX = 10;
const MAX_QUERY_CHARS = 2000;
const TOP_K = 3;
const state = { current: null, selected: 0, origins: [] };
window.ccriskTimings = []; // ms from Enter to every panel filled (make bench reads them)

// The masked message with each key phrase marked where it occurs.
function highlighted(text, phrases) {
  const spans = [];
  const lower = text.toLowerCase();
  for (const phrase of phrases) {
    const needle = phrase.text.toLowerCase();
    if (!needle) continue;
    for (let at = lower.indexOf(needle); at >= 0; at = lower.indexOf(needle, at + needle.length)) {
      if (!spans.some((s) => at < s.end && s.start < at + needle.length)) {
        spans.push({ start: at, end: at + needle.length, impact: phrase.impact });
      }
    }
  }
  spans.sort((a, b) => a.start - b.start);
  const out = [];
  let at = 0;
  for (const span of spans) {
    out.push(text.slice(at, span.start));
    const how = span.impact >= 0 ? "raises" : "lowers";
    out.push(el("mark", { title: `${how} complaint risk by ${pct(Math.abs(span.impact))}` },
      text.slice(span.start, span.end)));
    at = span.end;
  }
  out.push(text.slice(at));
  return out;
}

function renderRisk(complaint) {
  const phrases = complaint.key_phrases.map((k) =>
    el("li", {}, el("mark", {}, k.text), ` ${k.impact >= 0 ? "+" : "−"}${pct(Math.abs(k.impact))}`));
  fill("risk",
    el("p", { id: "risk-band" }, bandBadge(complaint.band), ` complaint probability ${pct(complaint.probability)}`),
    phrases.length ? el("div", {}, el("p", { class: "hint" }, "Key phrases behind the warning:"),
      el("ul", { class: "plain", id: "key-phrases" }, phrases)) : el("p", { class: "hint" }, "No key phrases."));
}

function renderLabels(topic, intent) {
  const flag = intent.low_confidence
    ? el("p", { class: "flag", id: "low-confidence" }, "Low confidence: confirm the request with the customer.")
    : null;
  fill("labels",
    el("p", { id: "topic" }, el("strong", {}, "Topic: "), topic.label, ` (${pct(topic.probability)})`),
    el("p", { id: "intent" }, el("strong", {}, "Intent: "), intent.label, ` (${pct(intent.probability)})`),
    flag);
}

function answerItem(search, answer, i) {
  const ack = el("span", { class: "ack", role: "status", id: `ack-${i}` });
  const send = (verdict) => feedback(search, answer, verdict, ack);
  return el("li", { id: `answer-${i}`, tabindex: "-1", class: i === state.selected ? "selected" : "" },
    el("h3", {}, `${i + 1}. ${answer.title}`),
    el("p", {}, marked(answer.snippet)),
    el("p", { class: "hint" }, `score ${answer.score.toFixed(2)}`),
    el("div", { class: "row" },
      el("button", { type: "button", onclick: () => send("helpful") }, "Helpful"),
      el("button", { type: "button", class: "secondary", onclick: () => send("dismissed") }, "Not helpful"),
      el("button", { type: "button", class: "secondary", onclick: () => copy(answer, ack) }, "Copy"),
      ack));
}

function renderAnswers(search) {
  if (!search.answers.length) return fill("answers", el("p", { class: "hint" }, "No answers found."));
  const warn = search.no_confident_answer
    ? el("p", { class: "flag" }, "No confident answer: check these before using them.") : null;
  fill("answers", warn, el("ol", { class: "answers" }, search.answers.map((a, i) => answerItem(search, a, i))));
}

async function feedback(search, answer, verdict, ack) {
  try {
    const out = await api("POST", "/v1/kb/feedback",
      { query_id: search.query_id, article_id: answer.article_id, feedback: verdict });
    ack.textContent = `Saved: ${verdict === "helpful" ? "helpful" : "not helpful"} (feedback #${out.feedback_id})`;
  } catch (err) {
    ack.textContent = "";
    notify(err.message);
  }
}

async function copy(answer, ack) {
  const text = `${answer.title}\n${answer.snippet.replace(/<\/?mark>/g, "")}`;
  try {
    await navigator.clipboard.writeText(text);
    ack.textContent = "Copied";
  } catch {
    ack.textContent = "Copy is blocked by the browser: select the text instead";
  }
}

// Key phrases as they occur in the masked message: one that held personal data was masked there,
// so it is neither shown nor kept in the tab's history.
function maskedPhrases(analysis) {
  const text = (analysis.masked_text || "").toLowerCase();
  const phrases = analysis.complaint.key_phrases.filter((k) => text.includes(k.text.toLowerCase()));
  return { ...analysis, complaint: { ...analysis.complaint, key_phrases: phrases } };
}

function render(entry) {
  state.current = entry;
  state.selected = 0;
  const result = entry.analysis;
  renderRisk(result.complaint);
  fill("masked", ...highlighted(result.masked_text || "", result.complaint.key_phrases));
  $("masked").className = "masked";
  renderLabels(result.topic, result.intent);
  renderAnswers(entry.search);
}

function history() {
  try { return JSON.parse(tabStore.getItem(HISTORY_KEY) || "[]"); } catch { return []; }
}

function renderHistory() {
  const items = history();
  if (!items.length) return;
  fill("history", ...items.map((entry, i) =>
    el("button", { type: "button", title: entry.analysis.masked_text, onclick: () => render(entry), id: `history-${i}` },
      `${new Date(entry.at).toLocaleTimeString()} · ${entry.analysis.complaint.band} · ${entry.analysis.masked_text}`)));
}

async function analyse() {
  const text = $("message").value;
  if (!text.trim()) return notify("Type or paste the customer's message first.");
  const started = performance.now();
  document.body.dataset.state = "busy";
  $("analyse").disabled = true;
  notify("");
  try {
    const [analysis, search] = await Promise.all([
      api("POST", "/v1/contact/analyze", { text, key_phrases: "all" }),
      api("POST", "/v1/kb/search", { query: text.slice(0, MAX_QUERY_CHARS), top_k: TOP_K }),
    ]);
    const entry = { at: Date.now(), analysis: maskedPhrases(analysis), search };
    render(entry);
    tabStore.setItem(HISTORY_KEY, JSON.stringify([entry, ...history()].slice(0, HISTORY_MAX)));
    renderHistory();
    window.ccriskTimings.push(performance.now() - started);
    document.body.dataset.state = "ready";
  } catch (err) {
    notify(err.message);
    document.body.dataset.state = "error";
  } finally {
    $("analyse").disabled = false;
  }
}

function select(i) {
  const items = document.querySelectorAll("ol.answers li");
  if (!items.length) return;
  state.selected = (i + items.length) % items.length;
  items.forEach((li, n) => li.classList.toggle("selected", n === state.selected));
  items[state.selected].focus();
}

function shortcut(event) {
  if (event.target.matches("textarea, input") || event.ctrlKey || event.metaKey || event.altKey) return;
  const entry = state.current;
  const answer = entry && entry.search.answers[state.selected];
  const ack = () => $(`ack-${state.selected}`);
  const actions = {
    j: () => select(state.selected + 1),
    k: () => select(state.selected - 1),
    y: () => answer && feedback(entry.search, answer, "helpful", ack()),
    n: () => answer && feedback(entry.search, answer, "dismissed", ack()),
    c: () => answer && copy(answer, ack()),
    "/": () => $("message").focus(),
  };
  if (actions[event.key]) {
    event.preventDefault();
    actions[event.key]();
  }
}

function ready(session) {
  state.origins = session.message_origins;
  renderHistory();
  if (state.wired) return; // signed in again in the same tab
  state.wired = true;
  $("analyse-form").addEventListener("submit", (event) => { event.preventDefault(); analyse(); });
  $("message").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); analyse(); }
    if (event.key === "Escape") { $("message").blur(); select(state.selected); }
  });
  document.addEventListener("keydown", shortcut);
  // A phone system can hand over a message: postMessage({type: "ccrisk.message", text}), from this
  // origin or one in serving.ui_message_origins (which may also frame this page).
  window.addEventListener("message", (event) => {
    const trusted = event.origin === location.origin || state.origins.includes(event.origin);
    if (!trusted || !event.data || event.data.type !== "ccrisk.message") return;
    $("message").value = String(event.data.text || "");
    analyse();
  });
  $("message").focus();
}

start("agent", ready);
