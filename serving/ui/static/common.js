// Sign-in, API calls and error messages shared by the screens.
// The API key is kept only in this tab's sessionStorage and sent as a Bearer header: never in a
// cookie (so no other site can make the browser send it), never in a URL or localStorage.
const KEY = "ccrisk.key";

// The tab's sessionStorage; in a page framed by another site (a phone system), where the browser
// refuses it storage, this page's memory: forgotten when the page goes.
export const tabStore = (() => {
  try {
    window.sessionStorage.getItem(KEY);
    return window.sessionStorage;
  } catch {
    const memory = new Map();
    return {
      getItem: (k) => (memory.has(k) ? memory.get(k) : null),
      setItem: (k, v) => memory.set(k, String(v)),
      clear: () => memory.clear(),
    };
  }
})();

export const $ = (id) => document.getElementById(id);

// Replace an element's children with `nodes` (null and undefined left out).
export function fill(id, ...nodes) {
  $(id).replaceChildren(...nodes.filter((n) => n !== null && n !== undefined));
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export const pct = (p) => `${(100 * p).toFixed(1)} %`;

export function bandBadge(band) {
  return el("span", { class: `band ${band}` }, band);
}

// Text with the server's <mark>…</mark> around query terms, built as nodes (never as HTML).
export function marked(snippet) {
  const out = [];
  const parts = snippet.split(/(<mark>|<\/mark>)/);
  let inMark = false;
  for (const part of parts) {
    if (part === "<mark>") inMark = true;
    else if (part === "</mark>") inMark = false;
    else if (part) out.push(inMark ? el("mark", {}, part) : document.createTextNode(part));
  }
  return out;
}

export class ApiError extends Error {
  constructor(status, message, problem) {
    super(message);
    this.status = status;
    this.problem = problem;
  }
}

// What a person should do about a failed call, in words.
export function explain(status, problem, retryAfter) {
  const detail = problem && problem.detail ? problem.detail : "";
  if (status === 401) return "Your key was not accepted (revoked, expired or mistyped). Sign in again.";
  if (status === 403) return `Not allowed${detail ? `: ${detail}` : ""}. Ask an administrator for a key with the right role or tenant.`;
  if (status === 413) return `Too much at once. ${detail} Send fewer claims or a shorter text.`;
  if (status === 400 || status === 422) return `Please fix the input: ${detail}`;
  if (status === 429) return `Too many requests. Wait ${retryAfter || "a few"} seconds, then retry.`;
  if (status === 503) return "The models are loading or the service is busy. Try again in a few seconds.";
  if (status === 504) return "The service took too long to answer. Try again, or send less at once.";
  const id = problem && problem.request_id ? ` Quote request id ${problem.request_id} to your administrator.` : "";
  return `Something went wrong on the server (HTTP ${status}).${id}`;
}

export function storedKey() {
  return tabStore.getItem(KEY);
}

export async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${storedKey() || ""}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit", cache: "no-store" });
  } catch (err) {
    throw new ApiError(0, "The service cannot be reached. Check your connection, then retry.", null);
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!response.ok) {
    const error = new ApiError(response.status, explain(response.status, data, response.headers.get("retry-after")), data);
    if (response.status === 401) signedOut(error.message);
    throw error;
  }
  return data;
}

export function notify(message, kind = "error") {
  const box = $("notice");
  box.className = `notice ${kind}`;
  box.textContent = message;
  box.hidden = !message;
}

function show(id) {
  for (const name of ["signin", "denied", "app"]) $(name).hidden = name !== id;
}

let onReady = null;

function signedOut(message) {
  tabStore.clear(); // the key and anything the screens kept for this person
  $("who").textContent = "";
  $("signout").hidden = true;
  show("signin");
  const msg = $("signin-msg");
  msg.textContent = message || "";
  msg.hidden = !message;
  $("key").focus();
}

async function checkSession(screen) {
  let session;
  try {
    session = await api("GET", "/v1/ui/session");
  } catch (err) {
    if (err.status !== 401) signedOut(err.message);
    return;
  }
  $("who").textContent = `${session.name} (${session.role})`;
  $("signout").hidden = false;
  if (!session.screens.includes(screen)) {
    const other = session.screens.map((s) => `/${s}`).join(" or ");
    $("denied-msg").textContent =
      `A ${session.role} key may not use this screen.` + (other ? ` You can open ${other}.` : "");
    show("denied");
    return;
  }
  show("app");
  onReady(session);
}

// Wire the sign-in form, sign-out and the role check for `screen`; `ready(session)` runs once signed in.
export function start(screen, ready) {
  onReady = ready;
  $("signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("key");
    tabStore.setItem(KEY, input.value.trim());
    input.value = "";
    checkSession(screen);
  });
  for (const id of ["signout", "denied-signout"]) {
    $(id).addEventListener("click", () => signedOut("You are signed out."));
  }
  if (storedKey()) checkSession(screen);
  else signedOut("");
}
