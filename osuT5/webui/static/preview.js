// The map preview: a playfield and a timeline drawn on canvases, in time with the song, playable with Z/X.
"use strict";

const PLAYFIELD = { w: 512, h: 384 };
const HIT_WINDOW_MS = 150;
const SCROLL_MS = 1500; // how long a taiko, catch or mania note is on screen before it is hit

const state = { map: null, audio: null, hits: new Set(), misses: new Set(), playing: false };

function preempt(ar) {
  return ar < 5 ? 1200 + 600 * (5 - ar) / 5 : ar > 5 ? 1200 - 750 * (ar - 5) / 5 : 1200;
}

function clock(ms) {
  const s = Math.max(ms, 0) / 1000;
  return `${Math.floor(s / 60)}:${(s % 60).toFixed(1).padStart(4, "0")}`;
}

function nowMs() {
  return state.audio.currentTime * 1000;
}

function songMs() {
  const last = state.map.objects.length ? state.map.objects[state.map.objects.length - 1].end : 0;
  return Math.max(isFinite(state.audio.duration) ? state.audio.duration * 1000 : 0, last + 1000);
}

function objectColour(o, alpha) {
  if (state.hits.has(o)) return `rgba(90, 200, 120, ${alpha})`;
  if (state.misses.has(o)) return `rgba(220, 80, 80, ${alpha})`;
  return `rgba(255, 140, 190, ${alpha})`;
}

// -- one frame per mode; each returns how many objects it drew --
function drawStandard(ctx, t, scale, ox, oy) {
  const map = state.map;
  const radius = (54.4 - 4.48 * map.circle_size) * scale;
  const lead = preempt(map.approach_rate);
  let drawn = 0;
  const visible = map.objects.filter((o) => o.t - lead <= t && t <= o.end + 200);
  for (const o of visible.reverse()) {
    const alpha = Math.min(1, (t - (o.t - lead)) / 400) * (t > o.end ? Math.max(0, 1 - (t - o.end) / 200) : 1);
    const x = ox + o.x * scale, y = oy + o.y * scale;
    ctx.lineWidth = 3;
    if (o.kind === "spinner") {
      ctx.strokeStyle = `rgba(255, 255, 255, ${alpha})`;
      ctx.beginPath(); ctx.arc(ox + 256 * scale, oy + 192 * scale, 150 * scale, 0, 2 * Math.PI); ctx.stroke();
    } else {
      if (o.kind === "slider" && o.path) {
        ctx.strokeStyle = `rgba(255, 255, 255, ${alpha * 0.35})`;
        ctx.lineWidth = radius * 1.8; ctx.lineCap = "round"; ctx.lineJoin = "round";
        ctx.beginPath();
        o.path.forEach(([px, py], i) => (i ? ctx.lineTo(ox + px * scale, oy + py * scale) : ctx.moveTo(ox + px * scale, oy + py * scale)));
        ctx.stroke();
        ctx.lineWidth = 3;
      }
      ctx.fillStyle = objectColour(o, alpha);
      ctx.beginPath(); ctx.arc(x, y, radius, 0, 2 * Math.PI); ctx.fill();
      if (t < o.t) {
        const approach = 1 + 2 * (o.t - t) / lead;
        ctx.strokeStyle = `rgba(255, 255, 255, ${alpha})`;
        ctx.beginPath(); ctx.arc(x, y, radius * approach, 0, 2 * Math.PI); ctx.stroke();
      }
    }
    drawn += 1;
  }
  return drawn;
}

function drawScrolling(ctx, t, width, height) {
  const map = state.map;
  let drawn = 0;
  const lanes = map.mode === 3 ? map.keys : 1;
  const laneWidth = width / lanes;
  const hitY = height - 40;
  ctx.strokeStyle = "#888";
  ctx.beginPath(); ctx.moveTo(0, hitY); ctx.lineTo(width, hitY); ctx.stroke();
  for (const o of map.objects) {
    if (o.t - SCROLL_MS > t || o.end + 200 < t) continue;
    const y = hitY - (o.t - t) / SCROLL_MS * hitY;
    const yEnd = hitY - (o.end - t) / SCROLL_MS * hitY;
    ctx.fillStyle = objectColour(o, 1);
    if (map.mode === 1 && !state.hits.has(o) && !state.misses.has(o)) ctx.fillStyle = o.hitsound & 10 ? "#4aa8ff" : "#ff5a4a";
    if (map.mode === 1) { // taiko: one lane across, notes scroll leftwards
      const x = 80 + (o.t - t) / SCROLL_MS * (width - 80);
      ctx.beginPath(); ctx.arc(x, height / 2, o.kind === "circle" ? 22 : 30, 0, 2 * Math.PI); ctx.fill();
    } else if (map.mode === 2) { // catch: fruits fall at their x
      ctx.beginPath(); ctx.arc(o.x / PLAYFIELD.w * width, y, 14, 0, 2 * Math.PI); ctx.fill();
    } else { // mania: columns from x
      const lane = Math.min(lanes - 1, Math.floor(o.x * lanes / PLAYFIELD.w));
      ctx.fillRect(lane * laneWidth + 4, Math.min(y, yEnd) - 8, laneWidth - 8, Math.max(16, y - yEnd + 16));
    }
    drawn += 1;
  }
  return drawn;
}

function drawTimeline(t) {
  const canvas = document.getElementById("timeline");
  const ctx = canvas.getContext("2d");
  const total = songMs();
  ctx.fillStyle = "#1b1b24"; ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = "#ff8cbe";
  for (const o of state.map.objects) {
    const x = o.t / total * canvas.width;
    ctx.fillRect(x, 10, Math.max(1, (o.end - o.t) / total * canvas.width), canvas.height - 20);
  }
  ctx.fillStyle = "#fff";
  ctx.fillRect(t / total * canvas.width - 1, 0, 2, canvas.height);
}

function judgeMisses(t) {
  for (const o of state.map.objects) {
    if (!state.hits.has(o) && !state.misses.has(o) && o.t + HIT_WINDOW_MS < t && state.playing) state.misses.add(o);
  }
}

function draw() {
  if (!state.map) return;
  const canvas = document.getElementById("playfield");
  const ctx = canvas.getContext("2d");
  const t = nowMs();
  judgeMisses(t);
  ctx.fillStyle = "#101018"; ctx.fillRect(0, 0, canvas.width, canvas.height);
  const scale = Math.min((canvas.width - 64) / PLAYFIELD.w, (canvas.height - 48) / PLAYFIELD.h);
  const drawn = state.map.mode === 0
    ? drawStandard(ctx, t, scale, (canvas.width - PLAYFIELD.w * scale) / 2, (canvas.height - PLAYFIELD.h * scale) / 2)
    : drawScrolling(ctx, t, canvas.width, canvas.height);
  canvas.dataset.visible = drawn;
  drawTimeline(t);
  document.getElementById("preview-clock").textContent = clock(t);
  document.getElementById("preview-score").textContent = `hits ${state.hits.size} · misses ${state.misses.size}`;
  if (state.playing) requestAnimationFrame(draw);
}

function hit() {
  if (!state.map || !state.playing) return;
  const t = nowMs();
  const target = state.map.objects.find((o) => !state.hits.has(o) && !state.misses.has(o) && Math.abs(o.t - t) <= HIT_WINDOW_MS);
  if (target) state.hits.add(target);
}

async function preview(jobId, file, files) {
  const { ok, data } = await window.osuT5.api("GET", `/api/jobs/${jobId}/preview/${file.index}`);
  if (!ok) return;
  state.map = data;
  state.hits = new Set(); state.misses = new Set();
  const song = files.find((f) => f.kind === "audio");
  state.audio.pause();
  state.playing = false;
  if (song) state.audio.src = `/api/jobs/${jobId}/files/${song.index}?inline=1`;
  document.getElementById("preview-panel").hidden = false;
  document.getElementById("preview-title").textContent = `${data.name} (${data.objects.length} objects)`;
  const canvas = document.getElementById("playfield");
  canvas.dataset.objects = data.objects.length;
  canvas.dataset.mode = data.mode;
  document.getElementById("preview-play").textContent = "Play";
  draw();
}

function seek(ms) {
  state.audio.currentTime = Math.max(0, ms) / 1000;
  draw();
}

document.addEventListener("DOMContentLoaded", () => {
  state.audio = document.getElementById("preview-audio");
  const play = document.getElementById("preview-play");
  play.addEventListener("click", async () => {
    if (state.playing) { state.audio.pause(); state.playing = false; play.textContent = "Play"; draw(); return; }
    state.playing = true; play.textContent = "Pause";
    try { await state.audio.play(); } catch (e) { /* no sound device: the clock still runs */ }
    requestAnimationFrame(draw);
  });
  state.audio.addEventListener("ended", () => { state.playing = false; play.textContent = "Play"; draw(); });
  state.audio.addEventListener("seeked", draw);
  document.getElementById("timeline").addEventListener("click", (e) => {
    const rect = e.target.getBoundingClientRect();
    seek((e.clientX - rect.left) / rect.width * songMs());
  });
  document.getElementById("playfield").addEventListener("mousedown", hit);
  document.addEventListener("keydown", (e) => { if (["z", "x", "Z", "X"].includes(e.key) && e.target.tagName !== "INPUT") hit(); });
});

window.osuT5.preview = preview;
window.osuT5.seekPreview = seek;
