// agegender-edge web page: photos -> POST /v1/predict -> boxes and labels on a canvas + a table.
// Plain JS, served by the app; nothing is loaded from anywhere else.
"use strict";

const COLOURS = { female: "rgb(255,105,180)", male: "rgb(60,160,255)" };
const MAX_SIDE = 640;

function authHeaders() {
  const token = document.getElementById("token").value.trim();
  sessionStorage.setItem("agegender-token", token);
  return token ? { Authorization: "Bearer " + token } : {};
}

function faceLabel(face) {
  const g = (face.gender || "?").charAt(0).toUpperCase();
  return `${g} ${face.gender_probability.toFixed(2)} | ${Math.round(face.age)}y (${face.age_group})`;
}

function setStatus(text) {
  document.getElementById("status").textContent = text;
}

async function loadModel() {
  try {
    const r = await fetch("/v1/model", { headers: authHeaders() });
    const m = await r.json();
    document.getElementById("model").textContent = r.ok
      ? `model ${m.name} (${m.file}), ${m.detector}, ${m.backend}, agegender-edge ${m.sdk_version}`
      : `model: ${m.error}`;
  } catch (e) {
    document.getElementById("model").textContent = "model: server not reachable";
  }
}

function loadImage(url) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error("the browser cannot show this file"));
    img.src = url;
  });
}

function drawResult(canvas, img, result) {
  // the server reports boxes in the upright image (EXIF orientation applied), as the browser shows it
  const w = result.width || img.naturalWidth, h = result.height || img.naturalHeight;
  const scale = Math.min(1, MAX_SIDE / Math.max(w, h));
  canvas.width = Math.round(w * scale);
  canvas.height = Math.round(h * scale);
  const ctx = canvas.getContext("2d");
  ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
  ctx.lineWidth = 2;
  ctx.font = "bold 13px system-ui, sans-serif";
  ctx.textBaseline = "bottom";
  for (const face of result.faces) {
    const colour = COLOURS[face.gender] || "rgb(0,200,0)";
    const x = face.box.x * scale, y = face.box.y * scale;
    const bw = face.box.width * scale, bh = face.box.height * scale;
    ctx.strokeStyle = colour;
    ctx.strokeRect(x, y, bw, bh);
    const label = faceLabel(face);
    const tw = ctx.measureText(label).width + 6;
    const ty = y - 18 >= 0 ? y - 18 : y + bh;
    const lx = Math.max(0, Math.min(x, canvas.width - tw));   // the tag stays inside the picture
    ctx.fillStyle = colour;
    ctx.fillRect(lx, ty, tw, 18);
    ctx.fillStyle = "#000";
    ctx.fillText(label, lx + 3, ty + 16);
  }
}

function addRows(name, result) {
  const body = document.querySelector("#results tbody");
  const row = (cells, cls) => {
    const tr = document.createElement("tr");
    if (cls) tr.className = cls;
    for (const c of cells) {
      const td = document.createElement("td");
      td.textContent = c;
      tr.appendChild(td);
    }
    body.appendChild(tr);
  };
  if (result.error) {
    row([name, "-", "error: " + result.error, "", "", "", "", ""], "error");
    return;
  }
  if (!result.faces.length) row([name, "-", "no face found", "", "", "", "", ""]);
  result.faces.forEach((f, i) => {
    const b = f.box;
    row([name, String(i + 1), f.gender, f.gender_probability.toFixed(2), f.age.toFixed(1),
         `${f.age_interval_80[0].toFixed(0)}-${f.age_interval_80[1].toFixed(0)}`, f.age_group,
         [b.x, b.y, b.width, b.height].map((v) => Math.round(v)).join(", ")], "face");
  });
}

async function predictFile(file) {
  const figure = document.createElement("figure");
  figure.className = "result";
  figure.dataset.name = file.name;
  const canvas = document.createElement("canvas");
  const caption = document.createElement("figcaption");
  caption.textContent = file.name + ": predicting…";
  figure.append(canvas, caption);
  document.getElementById("images").appendChild(figure);
  const url = URL.createObjectURL(file);
  try {
    const form = new FormData();
    form.append("image", file, file.name);        // multipart: the answer names the file
    const response = await fetch("/v1/predict", { method: "POST", body: form, headers: authHeaders() });
    const result = await response.json();
    if (!response.ok && !result.faces) throw new Error(result.error || `HTTP ${response.status}`);
    caption.textContent = `${file.name}: ` + (result.error ? "" : `${result.faces.length} face(s)`);
    if (result.error) {
      caption.innerHTML = "";
      const err = document.createElement("span");
      err.className = "error";
      err.textContent = `${file.name}: ${result.error}`;
      caption.appendChild(err);
      canvas.remove();
    } else {
      drawResult(canvas, await loadImage(url), result);
      const list = document.createElement("ol");
      list.className = "labels";
      for (const face of result.faces) {
        const li = document.createElement("li");
        li.textContent = faceLabel(face);
        list.appendChild(li);
      }
      caption.appendChild(list);
    }
    addRows(file.name, result);
    figure.dataset.state = "done";
  } catch (e) {
    caption.innerHTML = "";
    const err = document.createElement("span");
    err.className = "error";
    err.textContent = `${file.name}: ${e.message}`;
    caption.appendChild(err);
    addRows(file.name, { error: e.message });
    figure.dataset.state = "failed";
  } finally {
    URL.revokeObjectURL(url);
  }
}

async function predictFiles(files) {
  const list = Array.from(files);
  setStatus(`predicting ${list.length} photo(s)…`);
  await Promise.all(list.map(predictFile));
  setStatus(`done: ${list.length} photo(s)`);
}

document.addEventListener("DOMContentLoaded", () => {
  const token = document.getElementById("token");
  token.value = sessionStorage.getItem("agegender-token") || "";
  token.addEventListener("change", loadModel);
  document.getElementById("files").addEventListener("change", (e) => predictFiles(e.target.files));
  const drop = document.getElementById("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    predictFiles(e.dataTransfer.files);
  });
  loadModel();
});
