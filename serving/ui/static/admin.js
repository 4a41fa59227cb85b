// Keys and trail: a delegated administrator (tenant_admin) or the insurer's admin creates, rotates
// and revokes keys within its tenants and reads their audit trail. What it may do is decided by the
// server (/v1/admin/*); this page only shows the server's answers.
import { $, api, el, fill, notify, start } from "/ui/common.js";

const state = { tenants: [] };
const when = (epoch) => (epoch ? new Date(epoch * 1000).toISOString().slice(0, 16).replace("T", " ") : "never");

function showSecret(what, answer) {
  $("secret-what").textContent = `${what}: ${answer.name} (${answer.tenant}, ${answer.role}, id ${answer.key_id})`;
  $("secret-value").textContent = answer.key;
  $("secret").hidden = false;
}

function fillRoles() {
  const tenant = state.tenants.find((t) => t.name === $("key-tenant").value);
  const roles = tenant ? tenant.roles.filter((r) => r !== "admin") : [];
  fill("key-role", ...roles.map((r) => el("option", { value: r }, r)));
}

async function loadTenants() {
  state.tenants = (await api("GET", "/v1/admin/tenants")).tenants;
  fill("key-tenant", ...state.tenants.map((t) => el("option", { value: t.name }, `${t.name} (${t.kind})`)));
  fillRoles();
}

async function act(what, method, path) {
  notify("");
  try {
    const answer = await api(method, path);
    if (answer && answer.key) showSecret(what, answer);
    else {
      $("secret").hidden = true; // a secret on screen belongs to the last key made or rotated only
      notify(`${what}: done.`, "ok");
    }
    await Promise.all([loadKeys(), loadTrail()]);
  } catch (err) {
    notify(err.message);
  }
}

function keyRow(key) {
  const rotate = () => { if (window.confirm(`Rotate ${key.name}? Its old secret works only for the grace period.`)) act("Rotated key", "POST", `/v1/admin/keys/${key.key_id}/rotate`); };
  const revoke = () => { if (window.confirm(`Revoke ${key.name}? It stops working at once.`)) act(`Revoked ${key.name}`, "DELETE", `/v1/admin/keys/${key.key_id}`); };
  return el("tr", { "data-key-id": key.key_id },
    el("td", {}, key.name), el("td", {}, key.tenant), el("td", {}, key.role),
    el("td", {}, when(key.created)), el("td", {}, when(key.expires)),
    el("td", {}, el("button", { type: "button", class: "secondary", onclick: rotate, "aria-label": `Rotate ${key.name}` }, "Rotate"),
      " ", el("button", { type: "button", class: "secondary", onclick: revoke, "aria-label": `Revoke ${key.name}` }, "Revoke")));
}

async function loadKeys() {
  const keys = (await api("GET", "/v1/admin/keys")).keys;
  const head = ["Holder", "Tenant", "Role", "Created (UTC)", "Expires (UTC)", ""].map((h) => el("th", { scope: "col" }, h));
  fill("keys", el("table", { id: "keys-table" }, el("thead", {}, el("tr", {}, head)),
    el("tbody", {}, keys.map(keyRow))));
}

function what(record) {
  const o = record.outcome || {};
  if (!o.action) return "";
  const target = o.target ? ` ${o.target.name || o.target.key_id || ""}` : "";
  return `${o.action}${target}${o.refused ? ` (refused: ${o.refused})` : ""}`;
}

async function loadTrail() {
  const records = (await api("GET", "/v1/admin/audit?limit=100")).records;
  const head = ["#", "Time (UTC)", "Tenant", "Who", "Call", "Status", "What"].map((h) => el("th", { scope: "col" }, h));
  const rows = records.map((r) => el("tr", {}, el("td", { class: "num" }, r.seq), el("td", {}, r.time.slice(0, 19)),
    el("td", {}, r.tenant || "—"), el("td", {}, `${r.caller} (${r.role})`), el("td", {}, r.endpoint),
    el("td", { class: "num" }, r.status), el("td", {}, what(r))));
  fill("trail", el("table", { id: "trail-table" }, el("thead", {}, el("tr", {}, head)), el("tbody", {}, rows)));
}

async function createKey(event) {
  event.preventDefault();
  notify("");
  const days = $("key-days").value.trim();
  if (days && !(Number(days) > 0)) return notify("Expires after: give a number of days, or leave it empty.");
  const body = { tenant: $("key-tenant").value, role: $("key-role").value, name: $("key-name").value.trim() };
  if (days) body.expires_days = Number(days);
  try {
    showSecret("New key", await api("POST", "/v1/admin/keys", body));
    $("key-name").value = "";
    await Promise.all([loadKeys(), loadTrail()]);
  } catch (err) {
    notify(err.message);
  }
}

start("admin", async () => {
  $("key-tenant").addEventListener("change", fillRoles);
  $("key-form").addEventListener("submit", createKey);
  $("refresh-trail").addEventListener("click", () => loadTrail().catch((err) => notify(err.message)));
  try {
    await Promise.all([loadTenants(), loadKeys(), loadTrail()]);
  } catch (err) {
    notify(err.message);
  }
});
