// anywidget front-end of landscape_widgets.LandscapeWidget: a loss surface
// drawn as a filled colour map on a canvas, with axis ticks in plane
// coordinates, a colour bar, anchor markers and a legend entry for masked
// (NaN / inf) cells.

import { MASKED, colorize, css, finiteRange, lookupTable, makeNorm } from "./colormap.js";
import { decodeArray } from "./codec.js";
import {
  COLORBAR,
  MIN_TICK_GAP,
  cellExtent,
  formatTick,
  logTicks,
  niceTicks,
  plotBox,
  scale,
} from "./axes.js";

const TRAITS = [
  "loss",
  "shape",
  "x_range",
  "y_range",
  "anchors",
  "colormap",
  "log_scale",
  "title",
  "width",
  "height",
];

const FONT = "12px system-ui, -apple-system, 'Segoe UI', sans-serif";
const TITLE_FONT = "bold 13px system-ui, -apple-system, 'Segoe UI', sans-serif";

/** Everything the drawing needs, read from the model in one place. */
function readState(model) {
  const shape = model.get("shape") ?? [0, 0];
  const grid = decodeArray({ buffer: model.get("loss"), dtype: "float32", shape });
  return {
    grid,
    xRange: model.get("x_range"),
    yRange: model.get("y_range"),
    anchors: model.get("anchors") ?? {},
    colormap: model.get("colormap"),
    log: model.get("log_scale"),
    title: model.get("title"),
    width: model.get("width"),
    height: model.get("height"),
  };
}

/** Geometry shared by drawing and the hover read-out. */
function geometry(state) {
  const [ny, nx] = state.grid.shape;
  const box = plotBox(state.width, state.height);
  const [xa, xb] = cellExtent(state.xRange[0], state.xRange[1], nx);
  const [ya, yb] = cellExtent(state.yRange[0], state.yRange[1], ny);
  return {
    nx,
    ny,
    box,
    xExtent: [xa, xb],
    yExtent: [ya, yb],
    px: scale(xa, xb, box.x0, box.x1),
    py: scale(ya, yb, box.y1, box.y0), // y grows upwards
  };
}

function draw(ctx, state) {
  const { width, height } = state;
  const { data } = state.grid;
  const g = geometry(state);
  const { box, nx, ny } = g;

  ctx.save();
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, width, height);
  ctx.font = FONT;
  ctx.fillStyle = "#222";
  ctx.strokeStyle = "#222";

  if (state.title) {
    ctx.font = TITLE_FONT;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText(state.title, (box.x0 + box.x1) / 2, box.y0 / 2);
    ctx.font = FONT;
  }

  if (nx === 0 || ny === 0) {
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText("no data", (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2);
    ctx.restore();
    return { masked: 0, range: null };
  }

  // The filled map: one pixel per cell, row 0 (the smallest y) at the bottom.
  const range = finiteRange(data);
  const norm = range ? makeNorm(range.min, range.max, state.log) : () => NaN;
  const rgba = colorize(data, state.colormap, norm);
  const flipped = new Uint8ClampedArray(rgba.length);
  let masked = 0;
  for (let i = 0; i < ny; i++) {
    const src = i * nx * 4;
    flipped.set(rgba.subarray(src, src + nx * 4), (ny - 1 - i) * nx * 4);
  }
  for (let k = 0; k < data.length; k++) if (!Number.isFinite(data[k])) masked++;
  const cells = document.createElement("canvas");
  cells.width = nx;
  cells.height = ny;
  cells.getContext("2d").putImageData(new ImageData(flipped, nx, ny), 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(cells, box.x0, box.y0, box.x1 - box.x0, box.y1 - box.y0);

  // Frame and axis ticks in plane coordinates.
  ctx.lineWidth = 1;
  ctx.strokeRect(box.x0 + 0.5, box.y0 + 0.5, box.x1 - box.x0 - 1, box.y1 - box.y0 - 1);
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (const t of niceTicks(g.xExtent[0], g.xExtent[1], 5)) {
    const x = Math.round(g.px(t)) + 0.5;
    tick(ctx, x, box.y1, x, box.y1 + 5);
    ctx.fillText(formatTick(t), x, box.y1 + 7);
  }
  ctx.fillText("x", (box.x0 + box.x1) / 2, box.y1 + 24);
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const t of niceTicks(g.yExtent[0], g.yExtent[1], 5)) {
    const y = Math.round(g.py(t)) + 0.5;
    tick(ctx, box.x0 - 5, y, box.x0, y);
    ctx.fillText(formatTick(t), box.x0 - 7, y);
  }
  ctx.save();
  ctx.translate(14, (box.y0 + box.y1) / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textAlign = "center";
  ctx.fillText("y", 0, 0);
  ctx.restore();

  drawColorbar(ctx, box, range, state);
  if (masked > 0) drawMaskedLegend(ctx, box, masked);
  drawAnchors(ctx, g, state.anchors);
  ctx.restore();
  return { masked, range };
}

function tick(ctx, x0, y0, x1, y1) {
  ctx.beginPath();
  ctx.moveTo(x0, y0);
  ctx.lineTo(x1, y1);
  ctx.stroke();
}

function drawColorbar(ctx, box, range, state) {
  const x = box.x1 + COLORBAR.gap;
  const h = box.y1 - box.y0;
  if (!range) {
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    ctx.fillText("no finite", x, (box.y0 + box.y1) / 2 - 8);
    ctx.fillText("values", x, (box.y0 + box.y1) / 2 + 8);
    return;
  }
  // Colours along the bar follow the normalisation, so its ticks sit where
  // their values are.
  const lut = lookupTable(state.colormap, 256);
  for (let r = 0; r < h; r++) {
    const k = Math.round((1 - r / Math.max(1, h - 1)) * 255) * 3;
    ctx.fillStyle = css([lut[k], lut[k + 1], lut[k + 2]]);
    ctx.fillRect(x, box.y0 + r, COLORBAR.width, 1);
  }
  ctx.fillStyle = "#222";
  ctx.strokeRect(x + 0.5, box.y0 + 0.5, COLORBAR.width - 1, h - 1);
  const norm = makeNorm(range.min, range.max, state.log);
  const ticks =
    range.max > range.min
      ? state.log && range.min > 0
        ? logTicks(range.min, range.max)
        : niceTicks(range.min, range.max, 5)
      : [range.min];
  ctx.textAlign = "left";
  ctx.textBaseline = "middle";
  let last = null;
  for (const t of ticks) {
    const y = Math.round(box.y1 - norm(t) * (h - 1)) + 0.5;
    // Labels would overlap (a log scale crowds the top): skip this one.
    if (last !== null && Math.abs(y - last) < MIN_TICK_GAP) continue;
    last = y;
    tick(ctx, x + COLORBAR.width, y, x + COLORBAR.width + 4, y);
    ctx.fillText(formatTick(t), x + COLORBAR.width + 6, y);
  }
}

function drawMaskedLegend(ctx, box, count) {
  const x = box.x1 + COLORBAR.gap;
  const y = box.y1 + 10;
  ctx.fillStyle = css(MASKED);
  ctx.fillRect(x, y, 12, 12);
  ctx.strokeRect(x + 0.5, y + 0.5, 11, 11);
  ctx.fillStyle = "#222";
  ctx.textAlign = "left";
  ctx.textBaseline = "middle";
  ctx.fillText("NaN/inf", x + 16, y + 6);
  ctx.fillText(`(${count})`, x + 16, y + 20);
}

function drawAnchors(ctx, g, anchors) {
  ctx.textAlign = "left";
  ctx.textBaseline = "bottom";
  ctx.lineJoin = "round";
  for (const [name, point] of Object.entries(anchors)) {
    const x = g.px(point[0]);
    const y = g.py(point[1]);
    ctx.beginPath();
    ctx.arc(x, y, 5, 0, 2 * Math.PI);
    ctx.fillStyle = "#fff";
    ctx.fill();
    ctx.lineWidth = 2;
    ctx.strokeStyle = "#000";
    ctx.stroke();
    ctx.lineWidth = 3;
    ctx.strokeStyle = "rgba(255, 255, 255, 0.85)";
    ctx.strokeText(name, x + 7, y - 4);
    ctx.fillStyle = "#000";
    ctx.fillText(name, x + 7, y - 4);
  }
  ctx.lineWidth = 1;
  ctx.strokeStyle = "#222";
}

/** Text for the hover read-out at canvas position (cx, cy), or "". */
function readout(state, cx, cy) {
  const g = geometry(state);
  const { box, nx, ny } = g;
  if (nx === 0 || cx < box.x0 || cx >= box.x1 || cy < box.y0 || cy >= box.y1) return "";
  const j = Math.min(nx - 1, Math.floor(((cx - box.x0) / (box.x1 - box.x0)) * nx));
  const i = Math.min(ny - 1, Math.floor(((box.y1 - cy) / (box.y1 - box.y0)) * ny));
  const x = nx > 1 ? state.xRange[0] + ((state.xRange[1] - state.xRange[0]) * j) / (nx - 1) : state.xRange[0];
  const y = ny > 1 ? state.yRange[0] + ((state.yRange[1] - state.yRange[0]) * i) / (ny - 1) : state.yRange[0];
  const v = state.grid.data[i * nx + j];
  const value = Number.isFinite(v) ? v.toPrecision(4) : String(v);
  return `x = ${x.toPrecision(3)}, y = ${y.toPrecision(3)}: ${value}`;
}

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "lw-landscape";
  root.style.display = "inline-block";
  root.style.fontFamily = "system-ui, sans-serif";
  const canvas = document.createElement("canvas");
  canvas.style.display = "block";
  const info = document.createElement("div");
  info.className = "lw-readout";
  info.style.cssText = "font-size: 12px; color: #444; min-height: 16px; padding-left: 58px;";
  root.append(canvas, info);
  el.append(root);

  let state = null;
  let frame = 0;

  const redraw = () => {
    frame = 0;
    try {
      state = readState(model);
    } catch (err) {
      root.dataset.status = "error";
      info.textContent = `cannot draw: ${err.message}`;
      return;
    }
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(state.width * dpr);
    canvas.height = Math.round(state.height * dpr);
    canvas.style.width = `${state.width}px`;
    canvas.style.height = `${state.height}px`;
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const { masked } = draw(ctx, state);
    // For tests and for the curious: what was drawn.
    root.dataset.status = "drawn";
    root.dataset.masked = String(masked);
    root.dataset.colormap = state.colormap;
  };
  const schedule = () => {
    if (!frame) frame = requestAnimationFrame(redraw);
  };

  const onMove = (ev) => {
    if (!state) return;
    const r = canvas.getBoundingClientRect();
    info.textContent = readout(state, ev.clientX - r.left, ev.clientY - r.top);
  };
  const onLeave = () => {
    info.textContent = "";
  };
  canvas.addEventListener("mousemove", onMove);
  canvas.addEventListener("mouseleave", onLeave);
  for (const name of TRAITS) model.on(`change:${name}`, schedule);
  redraw();

  return () => {
    if (frame) cancelAnimationFrame(frame);
    for (const name of TRAITS) model.off(`change:${name}`, schedule);
    canvas.removeEventListener("mousemove", onMove);
    canvas.removeEventListener("mouseleave", onLeave);
  };
}

export default { render };
