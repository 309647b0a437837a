// Small line plots on a 2D canvas (the loss along a curve, the training loss)
// and the axis ranges they keep fixed while an animation runs, so the lines
// move and the axes do not. The range and scale functions are pure.

import { MIN_TICK_GAP, formatTick, logTicks, niceTicks, plotBox, scale } from "./axes.js";
import { line } from "./canvas.js";
import { FONT, PLOT_TITLE_FONT } from "./styles.js";

/** Margins around a small plot's area, in CSS pixels. */
// The top margin holds the title and a row for the legend, always, so the
// plot does not move when a legend appears.
export const PLOT_MARGIN = Object.freeze({ left: 52, right: 14, top: 40, bottom: 34 });

/** Rectangle of the plot area inside a width x height canvas. */
export function lineBox(width, height) {
  return plotBox(width, height, PLOT_MARGIN);
}

/**
 * `range` ({min, max} or null) widened to hold the finite values of
 * `values`; with `positive`, values <= 0 are left out (they have no place on
 * a log axis). Null when nothing qualifies.
 */
export function extendRange(range, values, positive = false) {
  let min = range ? range.min : Infinity;
  let max = range ? range.max : -Infinity;
  if (values) {
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v == null || !Number.isFinite(v) || (positive && v <= 0)) continue;
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  return min <= max ? { min, max } : null;
}

/**
 * A y axis holding every value of every list: {lo, hi, log}, padded a little
 * so lines do not run along the frame. A log axis is used when asked for and
 * some value is positive (the non-positive ones are then not drawn);
 * otherwise a linear one. Null when there is no finite value.
 */
export function fixedAxis(lists, log) {
  let range = null;
  let useLog = false;
  if (log) {
    for (const l of lists) range = extendRange(range, l, true);
    useLog = range !== null;
  }
  if (!useLog) for (const l of lists) range = extendRange(range, l, false);
  if (!range) return null;
  const [lo, hi] = paddedRange(range, useLog);
  return { lo, hi, log: useLog };
}

/**
 * [lo, hi] of a range with `pad` of its span added at each end (in log10
 * space on a log axis). A flat range opens to +-10% of its value (+-1 at 0),
 * or a fifth of a decade each way on a log axis.
 */
export function paddedRange({ min, max }, log, pad = 0.05) {
  if (log) {
    let a = Math.log10(min);
    let b = Math.log10(max);
    const span = b - a;
    if (span > 1e-12) {
      a -= pad * span;
      b += pad * span;
    } else {
      a -= 0.2;
      b += 0.2;
    }
    return [10 ** a, 10 ** b];
  }
  const span = max - min;
  if (span > 0) return [min - pad * span, max + pad * span];
  const d = Math.abs(min) * 0.1 || 1;
  return [min - d, max + d];
}

/** Data value -> pixel on an axis from lo to hi (log10 when `log`); NaN off a log axis's domain. */
export function axisScale(lo, hi, p0, p1, log) {
  if (!log) return scale(lo, hi, p0, p1);
  const s = scale(Math.log10(lo), Math.log10(hi), p0, p1);
  return (v) => (v > 0 ? s(Math.log10(v)) : NaN);
}

/** Ticks of an axis: 1-2-5 per decade on a log axis, round steps otherwise. */
export function axisTicks(lo, hi, log, target) {
  return log ? logTicks(lo, hi) : niceTicks(lo, hi, target);
}

/** n evenly spaced values of t from 0 to 1 (the points of a profile). */
export function evenT(n) {
  const out = new Float64Array(Math.max(0, n));
  for (let i = 0; i < n; i++) out[i] = n > 1 ? i / (n - 1) : 0;
  return out;
}

/**
 * Draw a plot.
 *
 * @param {CanvasRenderingContext2D} ctx
 * @param {object} plot
 *   width, height: canvas size in CSS pixels;
 *   title, xLabel: text;
 *   x: [lo, hi]; y: {lo, hi, log} from fixedAxis, or null (nothing to draw);
 *   series: [{xs, ys, color, dash?, width?}] (a non-finite y breaks the line);
 *   markers: [{x, y, color}] dots; legend: [{label, short?, color, dash?}];
 *   empty: text shown when there is nothing to draw.
 * @returns {{box: object, fx: Function, fy: Function} | {box: object}}
 */
export function drawLinePlot(ctx, plot) {
  const { width, height } = plot;
  const box = lineBox(width, height);
  ctx.save();
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, width, height);
  ctx.font = FONT;
  ctx.lineWidth = 1;
  if (plot.title) {
    ctx.font = PLOT_TITLE_FONT;
    ctx.fillStyle = "#222";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText(plot.title, (box.x0 + box.x1) / 2, 11, box.x1 - box.x0);
    ctx.font = FONT;
  }
  const [xlo, xhi] = plot.x;
  const fx = axisScale(xlo, xhi, box.x0, box.x1, false);
  const y = plot.y;
  const fy = y ? axisScale(y.lo, y.hi, box.y1, box.y0, y.log) : null;
  const yTicks = y ? thin(axisTicks(y.lo, y.hi, y.log, Math.max(2, Math.floor((box.y1 - box.y0) / 36))), fy) : [];

  ctx.save();
  ctx.beginPath();
  ctx.rect(box.x0, box.y0, box.x1 - box.x0, box.y1 - box.y0);
  ctx.clip();
  ctx.strokeStyle = "#ececec";
  for (const t of yTicks) {
    const py = Math.round(fy(t)) + 0.5;
    line(ctx, box.x0, py, box.x1, py);
  }
  if (fy) {
    for (const s of plot.series || []) drawSeries(ctx, s, fx, fy);
  } else if (plot.empty) {
    ctx.fillStyle = "#666";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText(plot.empty, (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2);
  }
  ctx.restore();
  // dots are not clipped, so one on the edge of the plot (the last step) stays
  // whole; the margins have room for them
  for (const m of fy ? plot.markers || [] : []) {
    const px = fx(m.x);
    const py = fy(m.y);
    if (!(px >= box.x0 - 0.5 && px <= box.x1 + 0.5 && py >= box.y0 - 0.5 && py <= box.y1 + 0.5)) continue;
    ctx.beginPath();
    ctx.arc(px, py, 3.5, 0, 2 * Math.PI);
    ctx.fillStyle = m.color || "#222";
    ctx.fill();
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = "#fff";
    ctx.stroke();
  }

  ctx.lineWidth = 1;
  ctx.strokeStyle = "#222";
  ctx.fillStyle = "#222";
  ctx.strokeRect(box.x0 + 0.5, box.y0 + 0.5, box.x1 - box.x0 - 1, box.y1 - box.y0 - 1);
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  const xTicks = niceTicks(xlo, xhi, Math.max(2, Math.floor((box.x1 - box.x0) / 70)));
  for (const t of xTicks) {
    const px = Math.round(fx(t)) + 0.5;
    line(ctx, px, box.y1, px, box.y1 + 4);
    // the last label may be wider than the right margin: keep it on the canvas
    const label = formatTick(t);
    const half = ctx.measureText(label).width / 2;
    ctx.fillText(label, Math.min(px, width - 1 - half), box.y1 + 6);
  }
  if (plot.xLabel) ctx.fillText(plot.xLabel, (box.x0 + box.x1) / 2, box.y1 + 20);
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const t of yTicks) {
    const py = Math.round(fy(t)) + 0.5;
    line(ctx, box.x0 - 4, py, box.x0, py);
    ctx.fillText(formatTick(t), box.x0 - 6, py);
  }
  drawLegend(ctx, width, box, plot.legend || []);
  ctx.restore();
  return fy ? { box, fx, fy } : { box };
}

/** Ticks whose labels keep MIN_TICK_GAP pixels apart (a log axis crowds its top). */
function thin(ticks, f) {
  const out = [];
  let last = null;
  for (const t of ticks) {
    const p = f(t);
    if (!Number.isFinite(p)) continue;
    if (last !== null && Math.abs(p - last) < MIN_TICK_GAP) continue;
    out.push(t);
    last = p;
  }
  return out;
}

function drawSeries(ctx, s, fx, fy) {
  const n = Math.min(s.xs.length, s.ys.length);
  ctx.setLineDash(s.dash || []);
  ctx.lineJoin = "round";
  ctx.lineWidth = s.width || 2;
  ctx.strokeStyle = s.color || "#222";
  ctx.beginPath();
  let pen = false;
  for (let i = 0; i < n; i++) {
    const px = fx(s.xs[i]);
    const py = fy(s.ys[i]);
    if (!Number.isFinite(px) || !Number.isFinite(py)) {
      pen = false;
      continue;
    }
    if (pen) ctx.lineTo(px, py);
    else ctx.moveTo(px, py);
    pen = true;
  }
  ctx.stroke();
  ctx.setLineDash([]);
}

/**
 * Entries in a row between the title and the plot, each with a short line in
 * its style; outside the plot so they never hide a line. When the row does
 * not fit the canvas the entries' short labels stand in, and if those do not
 * fit either the text is narrowed.
 */
function drawLegend(ctx, width, box, entries) {
  if (!entries.length) return;
  ctx.font = FONT;
  const gap = 14;
  const room = width - 8;
  const rowWidth = (labels) =>
    labels.reduce((a, l) => a + ctx.measureText(l).width + 24, 0) + gap * (labels.length - 1);
  let labels = entries.map((e) => e.label);
  if (rowWidth(labels) > room) labels = entries.map((e) => e.short ?? e.label);
  const total = rowWidth(labels);
  const shrink = total > room ? room / total : 1;
  // centred over the plot when it fits there, else over the canvas
  const centre = total <= box.x1 - box.x0 ? (box.x0 + box.x1) / 2 : width / 2;
  let x = Math.max(4, centre - (total * shrink) / 2);
  const y = box.y0 - 10;
  entries.forEach((e, k) => {
    const w = (ctx.measureText(labels[k]).width + 24) * shrink;
    ctx.setLineDash(e.dash || []);
    ctx.lineWidth = 2;
    ctx.strokeStyle = e.color || "#222";
    line(ctx, x, y, x + 18, y);
    ctx.setLineDash([]);
    ctx.fillStyle = "#222";
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    ctx.fillText(labels[k], x + 22, y, Math.max(1, w - 24));
    x += w + gap * shrink;
  });
}
