// The review page: one image at a time from GET /reviews/queue, decided with one key, the next
// image already loaded. The API key lives in sessionStorage (this tab only) and goes out as a
// Bearer header: no cookie, so no cross-site request can review in the reviewer's name.
const STYLES = window.STYLES;
const $ = (id) => document.getElementById(id);
const store = window.sessionStorage;
let queue = [];
const shown = new Set();
let current = null;
let reviewed = 0;
let busy = false;

function say(text) { $("message").textContent = text; $("message").hidden = !text; }

function headers() { return { Authorization: `Bearer ${store.getItem("stylecat-key")}`, "Content-Type": "application/json" }; }

function refused(response) {
  if (response.status !== 401 && response.status !== 403) return false;
  store.removeItem("stylecat-key");
  $("panel").hidden = true;
  $("key-form").hidden = false;
  say(response.status === 401 ? "That key was refused: it is unknown or revoked." : "That key has no review scope.");
  return true;
}

async function refill() {
  const params = new URLSearchParams({ size: "20", strategy: store.getItem("stylecat-strategy") || "low_confidence" });
  [...shown].slice(-400).forEach((id) => params.append("exclude", id));
  const response = await fetch(`/reviews/queue?${params}`, { headers: headers() });
  if (refused(response)) return false;
  if (!response.ok) { say(`The review queue answered ${response.status}.`); return false; }
  const { items } = await response.json();
  items.forEach((item) => { if (!shown.has(item.id)) { shown.add(item.id); queue.push(item); } });
  return true;
}

function preload(item) { if (item) { const image = new Image(); image.src = item.thumbnail; } }

function render(item) {
  $("panel").dataset.id = item.id;
  $("picture").src = item.thumbnail;
  $("picture").alt = `${item.title || "Image " + item.id}, predicted ${item.style}`;
  $("caption").textContent = `${item.title || "Image " + item.id} · #${item.id}`;
  $("predicted").textContent = item.style;
  $("predicted").className = `badge style-${item.style}`;
  $("confidence").textContent = item.confidence == null ? "" : `(${Math.round(item.confidence * 100)}%)`;
  $("probs").replaceChildren(...STYLES.map((name, index) => {
    const row = document.createElement("tr");
    const p = (item.probs || {})[name] || 0;
    row.dataset.style = name;
    row.innerHTML = `<th scope="row">${index + 1} ${name}</th><td class="bar-cell"><span class="bar style-${name}"></span></td><td class="value">${p.toFixed(3)}</td>`;
    row.querySelector(".bar").style.width = `${(p * 100).toFixed(1)}%`;
    return row;
  }));
}

async function next() {
  if (queue.length < 3) await refill();
  current = queue.shift() || null;
  $("panel").hidden = !current;
  $("empty").hidden = !!current;
  if (current) { render(current); preload(queue[0]); }
}

async function decide(style) {
  if (!current || busy) return;
  busy = true;
  const item = current;
  try {
    const response = await fetch(`/images/${item.id}/review`, {
      method: "POST",
      headers: headers(),
      body: JSON.stringify({ style, reviewer: store.getItem("stylecat-reviewer") || "web reviewer" }),
    });
    if (refused(response)) return;
    if (!response.ok) { say(`Image ${item.id}: the review was refused (${response.status}).`); return; }
    reviewed += 1;
    $("done").textContent = `${reviewed} reviewed`;
    say("");
    await next();
  } finally { busy = false; }
}

async function skip() { if (current && !busy) { busy = true; try { await next(); } finally { busy = false; } } }

async function start() {
  $("key-form").hidden = true;
  say("");
  if (await refill()) await next();
  if (current) $("panel").focus();  // the keys act on the page, not on the hidden form's button
}

$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  store.setItem("stylecat-key", $("key").value.trim());
  store.setItem("stylecat-reviewer", $("reviewer").value.trim() || "web reviewer");
  store.setItem("stylecat-strategy", $("strategy").value);
  $("key").value = "";
  start();
});
$("forget").addEventListener("click", () => { store.removeItem("stylecat-key"); location.reload(); });
$("accept").addEventListener("click", () => current && decide(current.style));
$("skip").addEventListener("click", skip);
document.querySelectorAll(".choice").forEach((button) => button.addEventListener("click", () => decide(button.dataset.style)));
document.addEventListener("keydown", (event) => {
  if ($("panel").hidden || event.target.closest("input, select, textarea") || event.ctrlKey || event.metaKey || event.altKey) return;
  const index = "1234".indexOf(event.key);
  if (index >= 0 && index < STYLES.length) { event.preventDefault(); decide(STYLES[index]); }
  else if (event.key === "Enter" && !event.target.closest("button")) { event.preventDefault(); decide(current.style); }
  else if (event.key === "s") { event.preventDefault(); skip(); }
});
if (store.getItem("stylecat-key")) start();
