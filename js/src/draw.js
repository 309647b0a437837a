// Drawing the map on a 2D canvas: the coloured grid, contour lines, paths,
// overlays, points and their labels, with what surrounds them (decorations.js).
// `state` is read from the model by map/state.js, or built from a recorded
// frame by curve/scene.js (which also fixes the colour scale with
// `state.range`).

import { cellExtent, plotBox } from "./axes.js";
import { strokeWithHalo } from "./canvas.js";
import { colorize, finiteRange, makeNorm } from "./colormap.js";
import { contourLevels, contourRings } from "./contour.js";
import { polylineSegments, runLabel } from "./labels.js";
import {
  dashOf,
  drawAxes,
  drawColorbar,
  drawLabels,
  drawMaskedLegend,
  drawProgress,
  fitText,
} from "./decorations.js";
import { FONT, PATH_COLORS, ROLE_STYLE, TITLE_FONT } from "./styles.js";
import { pointsAtStep } from "./trajectories.js";
import { equalAspect, equalBox, pathPolyline, transform } from "./view.js";

/** Extent of the grid's cells in plane coordinates: [xa, xb, ya, yb]. */
export function gridExtent(state) {
  const [ny, nx] = state.grid.shape;
  const [xa, xb] = cellExtent(state.xRange[0], state.xRange[1], nx);
  const [ya, yb] = cellExtent(state.yRange[0], state.yRange[1], ny);
  return [xa, xb, ya, yb];
}

/** The window shown: the view if set, else the grid's extent. */
export function shownWindow(state) {
  if (state.view && state.view.length === 4) return state.view;
  if (state.grid.shape[0] && state.grid.shape[1]) return gridExtent(state);
  return [0, 1, 0, 1];
}

/** `range` as {min, max} when it is a usable colour scale, else null. */
function fixedRange(range) {
  if (!range) return null;
  const { min, max } = range;
  return Number.isFinite(min) && Number.isFinite(max) && max >= min ? { min, max } : null;
}

/** Per-grid work kept between redraws: the coloured cells and the contour rings. */
export class GridCache {
  constructor() {
    this.key = null;
  }

  get(state) {
    const fixed = fixedRange(state.range);
    const key = [
      state.gridVersion,
      state.colormap,
      state.log,
      state.contours,
      fixed ? `${fixed.min},${fixed.max}` : "",
    ].join("|");
    if (key === this.key) return this;
    this.key = key;
    const { data, shape } = state.grid;
    const [ny, nx] = shape;
    // A fixed range keeps colours comparable across grids (the frames of an
    // animation); values beyond it clamp to the ends of the colour map.
    this.range = fixed ?? finiteRange(data);
    this.norm = this.range ? makeNorm(this.range.min, this.range.max, state.log) : () => NaN;
    const rgba = colorize(data, state.colormap, this.norm);
    const flipped = new Uint8ClampedArray(rgba.length);
    for (let i = 0; i < ny; i++) {
      const src = i * nx * 4;
      flipped.set(rgba.subarray(src, src + nx * 4), (ny - 1 - i) * nx * 4);
    }
    this.masked = 0;
    for (let k = 0; k < data.length; k++) if (!Number.isFinite(data[k])) this.masked++;
    this.cells = document.createElement("canvas");
    this.cells.width = nx;
    this.cells.height = ny;
    this.cells.getContext("2d").putImageData(new ImageData(flipped, nx, ny), 0, 0);
    this.rings = this.range
      ? contourRings(data, nx, ny, this.norm, contourLevels(state.contours))
      : [];
    return this;
  }
}

export function drawMap(ctx, state, cache) {
  const { width, height } = state;
  // equal aspect: a live map shows more of the plane, a fixed grid a narrower plot
  let box = plotBox(width, height);
  let view = shownWindow(state);
  if (state.aspect === "equal" && state.interactive) view = equalAspect(view, box);
  else if (state.aspect === "equal") box = equalBox(box, view);
  const tf = transform(box, view);
  const [ny, nx] = state.grid.shape;

  ctx.save();
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, width, height);
  ctx.font = FONT;
  ctx.fillStyle = "#222";
  ctx.strokeStyle = "#222";
  if (state.title) {
    // centred over the plot, moved left (never under the colour bar's name) and
    // shortened with "…" when it is wider than the room left of the colour bar
    ctx.font = TITLE_FONT;
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    const room = box.x1 - 4;
    const title = fitText(ctx, state.title, room);
    const w = ctx.measureText(title).width;
    const left = Math.max(4, Math.min((box.x0 + box.x1) / 2 - w / 2, box.x1 - w));
    ctx.fillText(title, left, box.y0 / 2);
    ctx.font = FONT;
  }

  let got = null;
  ctx.save();
  ctx.beginPath();
  ctx.rect(box.x0, box.y0, box.x1 - box.x0, box.y1 - box.y0);
  ctx.clip();
  ctx.fillStyle = "#f4f4f4";
  ctx.fillRect(box.x0, box.y0, box.x1 - box.x0, box.y1 - box.y0);
  if (nx > 0 && ny > 0) {
    got = cache.get(state);
    const [xa, xb, ya, yb] = gridExtent(state);
    // crisp cells (each a computed value) unless the state asks for blended ones
    ctx.imageSmoothingEnabled = state.smooth === true;
    ctx.drawImage(got.cells, tf.px(xa), tf.py(yb), tf.px(xb) - tf.px(xa), tf.py(ya) - tf.py(yb));
    drawContours(ctx, got.rings, tf, [xa, xb, ya, yb], nx, ny);
  } else {
    ctx.fillStyle = "#222";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    const msg = state.status === "computing" ? "computing…" : "no data";
    ctx.fillText(msg, (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2);
  }
  const lines = overlayLines(state.overlays, tf, state.playerStep);
  drawOverlays(ctx, lines);
  const pathLines = drawPaths(ctx, state.paths, state.points, tf);
  drawPoints(ctx, state.points, tf, state.dragging);
  ctx.restore();
  const labels = drawLabels(ctx, labelItems(state, tf, box, lines), box, obstaclesOf(state, tf, lines, pathLines));

  ctx.lineWidth = 1;
  ctx.strokeStyle = "#222";
  ctx.fillStyle = "#222";
  ctx.strokeRect(box.x0 + 0.5, box.y0 + 0.5, box.x1 - box.x0 - 1, box.y1 - box.y0 - 1);
  // equal aspect where the axes share units; said where they do not
  const xlabel = state.aspect === "unequal" ? `${state.xlabel ?? "x"} (axes not to scale)` : state.xlabel;
  drawAxes(ctx, box, view, tf, xlabel, state.ylabel);
  if (got) {
    drawColorbar(ctx, box, got.range, state);
    if (got.masked > 0) drawMaskedLegend(ctx, box, got.masked);
  }
  if (state.status === "computing") drawProgress(ctx, box, state.progress);
  ctx.restore();
  return { masked: got ? got.masked : 0, range: got ? got.range : null, tf, box, view, labels };
}

function drawContours(ctx, rings, tf, [xa, xb, ya, yb], nx, ny) {
  const gx = (u) => tf.px(xa + (u / nx) * (xb - xa));
  const gy = (v) => tf.py(ya + (v / ny) * (yb - ya));
  ctx.lineWidth = 0.8;
  ctx.strokeStyle = "rgba(20, 20, 20, 0.45)";
  // marching squares closes rings along the grid's border: skip those edges
  const onEdge = (p) => p[0] <= 0 || p[0] >= nx || p[1] <= 0 || p[1] >= ny;
  ctx.beginPath();
  for (const { rings: rs } of rings) {
    for (const ring of rs) {
      for (let k = 0; k < ring.length; k++) {
        const [u, v] = ring[k];
        if (k === 0 || (onEdge(ring[k - 1]) && onEdge(ring[k]))) ctx.moveTo(gx(u), gy(v));
        else ctx.lineTo(gx(u), gy(v));
      }
    }
  }
  ctx.stroke();
}

// Trajectories are bright lines with a dark halo, so they read on both ends
// of a colour map; other overlays are dark with a light halo.
const TRAJECTORY_HALO = "rgba(0, 0, 0, 0.55)";
const HEAD_R = 4.5; // the ringed marker at a trajectory's head
const END_R = 2.5; // a trajectory's start, another overlay's end

/**
 * Where the overlays go in pixels: [{color, label, trajectory, dash, line}],
 * `line` the points drawn ([[x, y], ...]). A trajectory (an overlay with
 * `stepsData`) is drawn up to `playerStep` (whole when it is null).
 */
function overlayLines(overlays, tf, playerStep = null) {
  let runs = 0;
  const out = [];
  for (const o of overlays) {
    const xy = o.xyData;
    if (!xy || xy.length < 2) continue;
    const trajectory = Boolean(o.stepsData);
    const n = trajectory ? pointsAtStep(o.stepsData, playerStep) : xy.length / 2;
    const line = [];
    for (let k = 0; k < n; k++) line.push([tf.px(xy[2 * k]), tf.py(xy[2 * k + 1])]);
    const dash = trajectory ? dashOf(runs++) : [];
    out.push({ color: o.color || "#222", label: o.label || o.name, trajectory, dash, line });
  }
  return out;
}

/** Overlays as polylines; a trajectory has a ringed marker at its head and a small one at its start. */
function drawOverlays(ctx, lines) {
  for (const { color, trajectory, dash, line } of lines) {
    ctx.beginPath();
    line.forEach(([x, y], k) => (k ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    if (trajectory) {
      ctx.setLineDash(dash);
      strokeWithHalo(ctx, color, 2, TRAJECTORY_HALO);
      ctx.setLineDash([]);
    } else strokeWithHalo(ctx, color, 1.8);
    const [hx, hy] = line[line.length - 1];
    ctx.beginPath();
    ctx.arc(hx, hy, trajectory ? HEAD_R : END_R, 0, 2 * Math.PI);
    ctx.fillStyle = color;
    ctx.fill();
    if (trajectory) {
      ctx.lineWidth = 1.5;
      ctx.strokeStyle = "#000";
      ctx.stroke();
      ctx.beginPath();
      ctx.arc(line[0][0], line[0][1], END_R, 0, 2 * Math.PI);
      ctx.fillStyle = "#000";
      ctx.fill();
    }
  }
}

/** The paths through the points; returns the lines drawn, in pixels. */
function drawPaths(ctx, paths, points, tf) {
  const where = new Map(points.map((p) => [p.name, p]));
  const drawn = [];
  for (const path of paths) {
    const poly = pathPolyline(path, where);
    if (poly.length < 2) continue;
    drawn.push(poly.map(([x, y]) => [tf.px(x), tf.py(y)]));
    if (path.kind === "bezier") {
      // the control polygon, faint, so the pull of each control point shows
      const ctrl = path.points.map((n) => where.get(n));
      ctx.beginPath();
      ctrl.forEach((p, k) => (k ? ctx.lineTo(tf.px(p.x), tf.py(p.y)) : ctx.moveTo(tf.px(p.x), tf.py(p.y))));
      ctx.setLineDash([4, 4]);
      ctx.lineWidth = 1;
      ctx.strokeStyle = "rgba(255, 255, 255, 0.7)";
      ctx.stroke();
      ctx.setLineDash([]);
    }
    ctx.beginPath();
    poly.forEach(([x, y], k) => (k ? ctx.lineTo(tf.px(x), tf.py(y)) : ctx.moveTo(tf.px(x), tf.py(y))));
    strokeWithHalo(ctx, path.color || PATH_COLORS[0], 2.2);
  }
  return drawn;
}

function drawPoints(ctx, points, tf, dragging) {
  for (const p of points) {
    const st = ROLE_STYLE[p.role] || ROLE_STYLE.anchor;
    const x = tf.px(p.x);
    const y = tf.py(p.y);
    const r = p.name === dragging ? st.r + 2 : st.r;
    ctx.beginPath();
    if (p.role === "path") ctx.rect(x - r, y - r, 2 * r, 2 * r);
    else ctx.arc(x, y, r, 0, 2 * Math.PI);
    ctx.fillStyle = st.fill;
    ctx.fill();
    ctx.lineWidth = 2;
    ctx.strokeStyle = st.stroke;
    ctx.stroke();
    if (p.role !== "anchor") {
      ctx.lineWidth = 1;
      ctx.strokeStyle = "#000";
      ctx.stroke();
    }
  }
}

/** The radius of point `p`'s marker as drawn (a dragged one is larger). */
function markerRadius(p, dragging) {
  const r = (ROLE_STYLE[p.role] || ROLE_STYLE.anchor).r;
  return p.name === dragging ? r + 2 : r;
}

/**
 * What gets a label, in the order placed: the points inside the box (their
 * labels), then each run's end (a trajectory's head: its short label);
 * [{x, y, r, text}] in pixels.
 */
function labelItems(state, tf, box, lines) {
  const inBox = (x, y) => x >= box.x0 && x <= box.x1 && y >= box.y0 && y <= box.y1;
  const items = [];
  for (const p of state.points) {
    const x = tf.px(p.x);
    const y = tf.py(p.y);
    if (inBox(x, y)) items.push({ x, y, r: markerRadius(p, state.dragging), text: p.label ?? p.name });
  }
  for (const o of lines) {
    if (!o.trajectory) continue;
    const [x, y] = o.line[o.line.length - 1];
    const text = runLabel(o.label);
    if (text && inBox(x, y)) items.push({ x, y, r: HEAD_R, text });
  }
  return items;
}

/**
 * What a label must not cover: every marker ([x, y, r]: points, runs' heads
 * and starts, other overlays' ends) and every line drawn ([xa, ya, xb, yb]).
 */
function obstaclesOf(state, tf, lines, pathLines) {
  const markers = state.points.map((p) => [tf.px(p.x), tf.py(p.y), markerRadius(p, state.dragging)]);
  const segments = [];
  for (const o of lines) {
    const end = o.line[o.line.length - 1];
    markers.push([end[0], end[1], o.trajectory ? HEAD_R : END_R]);
    if (o.trajectory) markers.push([o.line[0][0], o.line[0][1], END_R]);
  }
  for (const line of [...lines.map((o) => o.line), ...pathLines]) {
    for (const s of polylineSegments(line)) segments.push(s);
  }
  return { markers, segments };
}
