// Job cards: start, live progress and log over Server-Sent Events, cancel, outputs, MaiMod suggestions.
"use strict";

// api, el, formValues, showError and FORM come from form.js (scripts share one global scope).
const MAX_LOG_LINES = 300;

function card(job) {
  let node = document.getElementById(`job-${job.id}`);
  if (node) return node;
  node = el("article", { class: "job", id: `job-${job.id}`, "data-job": job.id, "data-state": job.state },
    el("header", {}, el("strong", { text: job.title }), el("span", { class: "mode", text: ` ${job.mode}` }),
      el("span", { class: "state", text: job.state })),
    el("progress", { max: 1, value: 0 }),
    el("span", { class: "progress-text" }),
    el("div", { class: "job-actions" }, el("button", { type: "button", class: "cancel", text: "Cancel" })),
    el("p", { class: "message error job-error", hidden: true }),
    el("div", { class: "outputs" }),
    el("div", { class: "suggestions" }),
    el("details", { class: "log-box" }, el("summary", { text: "Log" }), el("pre", { class: "log" })));
  node.querySelector(".cancel").addEventListener("click", () => api("POST", `/api/jobs/${job.id}/cancel`));
  document.getElementById("jobs").prepend(node);
  return node;
}

function setState(node, state, error) {
  node.dataset.state = state;
  node.querySelector(".state").textContent = state;
  node.querySelector(".cancel").hidden = !["queued", "running"].includes(state);
  if (error) {
    const box = node.querySelector(".job-error");
    box.hidden = false;
    box.textContent = error;
  }
}

function showProgress(node, event) {
  const bar = node.querySelector("progress");
  bar.max = Math.max(event.total, 1);
  bar.value = event.done;
  node.querySelector(".progress-text").textContent = ` ${event.done} / ${event.total} ${event.unit}`;
}

function appendLog(node, text) {
  const log = node.querySelector(".log");
  const lines = (log.textContent ? log.textContent.split("\n") : []).concat([text]);
  log.textContent = lines.slice(-MAX_LOG_LINES).join("\n");
}

function showFiles(node, job, files) {
  const box = node.querySelector(".outputs");
  box.replaceChildren();
  const list = el("ul", { class: "files" });
  for (const f of files) {
    const link = el("a", { href: `/api/jobs/${job.id}/files/${f.index}`, download: f.name, class: `download ${f.kind}`, text: f.name });
    const item = el("li", {}, link);
    if (f.kind === "osu") {
      item.append(` · ${f.objects} objects, ${f.stars} stars `);
      const show = el("button", { type: "button", class: "preview", text: "Preview" });
      show.addEventListener("click", () => window.osuT5.preview(job.id, f, files));
      item.append(show);
    }
    list.append(item);
  }
  const open = el("button", { type: "button", class: "open-folder", text: "Open output folder" });
  const status = el("span", { class: "open-status" });
  open.addEventListener("click", async () => {
    const { data } = await api("POST", `/api/jobs/${job.id}/open-folder`);
    status.textContent = data.ok ? ` opened ${data.folder}` : ` ${data.message}`;
  });
  box.append(list, open, status);
  const first = files.find((f) => f.kind === "osu");
  if (first) window.osuT5.preview(job.id, first, files);
}

function showSuggestions(node, result) {
  const box = node.querySelector(".suggestions");
  box.replaceChildren(el("p", { class: "suggestion-count", text: result.summary }));
  for (const group of result.categories) {
    const table = el("table", { class: "suggestion-table", "data-category": group.key });
    table.append(el("caption", { text: `${group.label} (${group.suggestions.length})` }));
    table.append(el("tr", {}, el("th", { text: "time" }), el("th", { text: "score" }),
      el("th", { text: "what looks wrong" }), el("th", { text: "expected" })));
    for (const s of group.suggestions) {
      table.append(el("tr", { class: "suggestion" }, el("td", { class: "time", text: s.time_text }),
        el("td", { text: Number(s.score).toFixed(1) }), el("td", { text: s.message }), el("td", { text: s.expected })));
    }
    box.append(table);
  }
}

function follow(job) {
  const node = card(job);
  setState(node, job.state, job.error);
  const source = new EventSource(`/api/jobs/${job.id}/events`);
  source.addEventListener("state", (m) => { const e = JSON.parse(m.data); setState(node, e.state, e.error); });
  source.addEventListener("progress", (m) => showProgress(node, JSON.parse(m.data)));
  source.addEventListener("log", (m) => appendLog(node, JSON.parse(m.data).text));
  source.addEventListener("error", (m) => { if (m.data) setState(node, node.dataset.state, JSON.parse(m.data).message); });
  source.addEventListener("result", (m) => {
    const e = JSON.parse(m.data);
    if (e.categories) showSuggestions(node, e);
    if (e.files && e.files.length) showFiles(node, job, e.files);
  });
  source.addEventListener("end", () => source.close());
}

async function start(event) {
  event.preventDefault();
  const { ok, data } = await api("POST", "/api/jobs", { mode: FORM.mode, values: formValues() });
  showError(ok ? null : data.message, data.field);
  if (ok) follow(data.job);
}

document.addEventListener("DOMContentLoaded", async () => {
  const form = document.getElementById("options-form");
  if (form) form.addEventListener("submit", start);
  const { data } = await api("GET", "/api/jobs");
  for (const job of data.jobs || []) if (job.mode === FORM.mode) follow(job);
});
