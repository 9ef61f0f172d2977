// The options form, built from the schema the server embeds (one field per option, with its help).
"use strict";

const CSRF = document.querySelector('meta[name="csrf-token"]').content;
const FORM = JSON.parse(document.getElementById("form-data").textContent);
const GAMEMODES = { 0: "0 · osu!standard", 1: "1 · taiko", 2: "2 · catch", 3: "3 · mania" };

async function api(method, url, body) {
  const options = { method, headers: { "X-CSRF-Token": CSRF } };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(url, options);
  let data = {};
  try { data = await response.json(); } catch (e) { data = { message: response.statusText }; }
  return { ok: response.ok, status: response.status, data };
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) node.append(c);
  return node;
}

function textValue(value) {
  if (value === null || value === undefined) return "";
  if (Array.isArray(value)) return value.join(", ");
  return String(value);
}

// -- one input per field --
function checkboxGroup(field, names, selected) {
  const box = el("div", { class: "choices", "data-option": field.name, "data-kind": "multi" });
  for (const name of names) {
    const id = `opt-${field.name}-${name}`;
    box.append(el("label", { for: id }, el("input", { type: "checkbox", id, value: name, checked: selected.includes(name) }), ` ${name}`));
  }
  return box;
}

function inputFor(field) {
  const name = field.name;
  if (field.kind === "list") {
    const names = field.choices.length ? field.choices : (name.includes("descriptors") ? FORM.descriptors : null);
    if (names) return checkboxGroup(field, names.map(String), (field.default || []).map(String));
  }
  if (field.kind === "bool" && !field.optional) {
    return el("input", { type: "checkbox", id: `opt-${name}`, "data-option": name, "data-kind": "checkbox", checked: !!field.default });
  }
  if (field.kind === "bool" || field.choices.length) {
    const select = el("select", { id: `opt-${name}`, "data-option": name });
    if (field.optional) select.append(el("option", { value: "", text: "(default)" }));
    const choices = field.kind === "bool" ? ["true", "false"] : field.choices.map(String);
    for (const c of choices) {
      select.append(el("option", { value: c, text: name === "gamemode" ? GAMEMODES[c] : c, selected: String(field.default) === c }));
    }
    return select;
  }
  const input = el("input", { type: "text", id: `opt-${name}`, "data-option": name, value: textValue(field.default), placeholder: field.optional ? "(default)" : "", autocomplete: "off" });
  if (field.kind !== "path") return input;
  const browse = el("button", { type: "button", class: "browse", "data-browse": name, text: "Browse…" });
  browse.addEventListener("click", () => openBrowser(field));
  return el("span", { class: "path-input" }, input, browse);
}

function fieldRow(field) {
  const row = el("div", { class: "field", id: `field-${field.name}` });
  row.append(el("label", { for: `opt-${field.name}`, text: field.name.replaceAll("_", " ") }));
  row.append(inputFor(field));
  row.append(el("small", { class: "help", text: field.help }));
  row.append(el("div", { class: "error", "data-error-for": field.name, hidden: true }));
  return row;
}

function buildForm() {
  const basic = document.getElementById("basic-fields");
  const advanced = document.getElementById("advanced-fields");
  if (!basic) return;
  for (const field of FORM.fields) (FORM.basic.includes(field.name) ? basic : advanced).append(fieldRow(field));
}

// -- reading and filling --
function formValues() {
  const values = {};
  for (const node of document.querySelectorAll("#options-form [data-option]")) {
    const name = node.dataset.option;
    if (node.dataset.kind === "multi") values[name] = [...node.querySelectorAll("input:checked")].map((i) => i.value);
    else if (node.dataset.kind === "checkbox") values[name] = node.checked;
    else values[name] = node.value;
  }
  return values;
}

function fillForm(values) {
  for (const [name, value] of Object.entries(values)) {
    const node = document.querySelector(`#options-form [data-option="${name}"]`);
    if (!node) continue;
    if (node.dataset.kind === "multi") {
      for (const box of node.querySelectorAll("input")) box.checked = (value || []).map(String).includes(box.value);
    } else if (node.dataset.kind === "checkbox") node.checked = !!value;
    else node.value = textValue(value);
  }
}

function showError(message, field) {
  for (const node of document.querySelectorAll("[data-error-for]")) { node.hidden = true; node.textContent = ""; }
  for (const node of document.querySelectorAll(".field.invalid")) node.classList.remove("invalid");
  const box = document.getElementById("form-error");
  box.hidden = !message;
  box.textContent = message || "";
  if (message && field) {
    const slot = document.querySelector(`[data-error-for="${field}"]`);
    if (slot) {
      slot.hidden = false;
      slot.textContent = message;
      slot.closest(".field").classList.add("invalid");
      if (!FORM.basic.includes(field)) document.getElementById("more-options").open = true;
    }
  }
}

async function validateForm() {
  const { data } = await api("POST", "/api/validate", { mode: FORM.mode, values: formValues() });
  showError(data.ok ? null : data.message, data.field);
  return data.ok;
}

// -- the file browser (server side, inside the allowed folders) --
let browsing = null;

async function showFolder(path) {
  const url = `/api/browse?option=${encodeURIComponent(browsing.name)}` + (path ? `&path=${encodeURIComponent(path)}` : "");
  const { ok, data } = await api("GET", url);
  const error = document.getElementById("browser-error");
  error.hidden = ok;
  error.textContent = ok ? "" : data.message;
  if (!ok) return;
  browsing.path = data.path;
  browsing.parent = data.parent;
  document.getElementById("browser-path").textContent = data.path || "Allowed folders";
  const list = document.getElementById("browser-entries");
  list.replaceChildren();
  for (const entry of data.entries) {
    const item = el("li", { class: entry.dir ? "dir" : "file" }, el("button", { type: "button", text: entry.dir ? `${entry.name}/` : entry.name }));
    item.firstChild.addEventListener("click", () => (entry.dir ? showFolder(entry.path) : pick(entry.path)));
    list.append(item);
  }
  document.getElementById("browser-up").disabled = !data.parent && !data.path;
  document.getElementById("browser-pick-folder").hidden = browsing.path_target !== "folder" || !data.path;
}

function pick(path) {
  document.querySelector(`#options-form [data-option="${browsing.name}"]`).value = path;
  document.getElementById("browser").close();
  validateForm();
}

function openBrowser(field) {
  browsing = { ...field };
  const current = document.querySelector(`#options-form [data-option="${field.name}"]`).value;
  document.getElementById("browser").showModal();
  showFolder(current && field.path_target === "folder" ? current : null);
}

function wireBrowser() {
  document.getElementById("browser-close").addEventListener("click", () => document.getElementById("browser").close());
  document.getElementById("browser-up").addEventListener("click", () => showFolder(browsing.parent));
  document.getElementById("browser-pick-folder").addEventListener("click", () => pick(browsing.path));
}

// -- presets --
async function refreshPresets() {
  const { data } = await api("GET", "/api/presets");
  const list = document.getElementById("preset-list");
  list.replaceChildren(el("option", { value: "", text: "presets…" }));
  for (const name of data.presets || []) list.append(el("option", { value: name, text: name }));
}

function wirePresets() {
  document.getElementById("preset-save").addEventListener("click", async () => {
    const name = document.getElementById("preset-name").value.trim();
    const { data } = await api("POST", "/api/presets", { name, mode: FORM.mode, values: formValues() });
    showError(data.ok ? null : data.message);
    await refreshPresets();
  });
  document.getElementById("preset-load").addEventListener("click", async () => {
    const name = document.getElementById("preset-list").value;
    if (!name) return;
    const { ok, data } = await api("GET", `/api/presets/${encodeURIComponent(name)}`);
    if (ok) { fillForm(data.values); validateForm(); } else showError(data.message);
  });
  refreshPresets();
}

window.osuT5 = { api, el, formValues, fillForm, showError, validateForm, FORM };

document.addEventListener("DOMContentLoaded", () => {
  if (!document.getElementById("options-form")) return;
  buildForm();
  wireBrowser();
  wirePresets();
  document.getElementById("options-form").addEventListener("change", validateForm);
});
