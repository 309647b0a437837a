// The recorded frames of a curve's training (CurveTrainingWidget): decoding
// them from widget state or from messages, keeping the list up to date, the
// curve drawn at once while a control point is dragged, and the words that
// label them. Pure functions, no DOM.
//
// A frame's arrays (grid, curve, profile) arrive as {dtype, shape, buffer}
// (codec.js): in the `frames` trait the buffer is a DataView, in a "frame"
// message an index into the message's buffers.

import { EMPTY_GRID, decodeArray } from "./codec.js";
import { bezier } from "./view.js";

/** The decoded array of frame field `name`, or null when the frame has none. */
function arrayField(raw, name, buffers) {
  if (raw[name] == null) return null;
  try {
    return decodeArray(raw[name], buffers);
  } catch (err) {
    throw new Error(`frame field "${name}": ${err.message}`);
  }
}

function pair(v, name) {
  if (!Array.isArray(v) || v.length !== 2 || !v.every(Number.isFinite)) {
    throw new Error(`frame field "${name}" should be [x, y], got ${JSON.stringify(v)}`);
  }
  return [v[0], v[1]];
}

/**
 * One frame as the widget draws it.
 *
 * @param {object} raw the frame from the trait or from a message
 * @param {DataView[]} [buffers] the message's buffers, when arrays point into them
 * @param {number} [version] identifies this decoded content (the map's cache key)
 */
export function decodeFrame(raw, buffers = null, version = 0) {
  if (!raw || typeof raw !== "object") throw new Error("a frame must be an object");
  const grid = arrayField(raw, "grid", buffers) ?? EMPTY_GRID;
  const curve = arrayField(raw, "curve", buffers)?.data ?? new Float32Array(0);
  if (curve.length % 2) throw new Error("the curve's polyline has an odd number of coordinates");
  return {
    version,
    step: raw.step ?? 0,
    epoch: raw.epoch ?? 0,
    loss: Number.isFinite(raw.loss) ? raw.loss : null,
    grid,
    xRange: pair(raw.x_range ?? [0, 1], "x_range"),
    yRange: pair(raw.y_range ?? [0, 1], "y_range"),
    w1: pair(raw.w1 ?? [0, 0], "w1"),
    w2: pair(raw.w2 ?? [1, 0], "w2"),
    controls: (raw.controls ?? []).map((c, k) => pair(c, `controls[${k}]`)),
    curve,
    profile: arrayField(raw, "profile", buffers)?.data ?? new Float32Array(0),
    barrier: Number.isFinite(raw.barrier) ? raw.barrier : null,
    offPlane: Number.isFinite(raw.off_plane) ? raw.off_plane : 0,
    hires: Boolean(raw.hires),
  };
}

/** The straight segment's profile: {profile: Float32Array, barrier}; empty before it is computed. */
export function decodeStraight(raw) {
  const profile = raw && raw.profile != null ? decodeArray(raw.profile).data : new Float32Array(0);
  const barrier = raw && Number.isFinite(raw.barrier) ? raw.barrier : null;
  return { profile, barrier };
}

/**
 * The list with frame `index` set: appended when index is the list's length,
 * replaced when smaller. A larger index (a frame skipped on the way) leaves
 * the list alone: the next sync of the trait brings the whole list.
 *
 * @returns {{frames: object[], changed: boolean}}
 */
export function applyFrame(frames, index, frame) {
  if (!Number.isInteger(index) || index < 0 || index > frames.length) {
    return { frames, changed: false };
  }
  const out = frames.slice();
  out[index] = frame;
  return { frames: out, changed: true };
}

/** Names of the control points as the map labels them. */
export function controlNames(count) {
  if (count === 1) return ["theta"];
  return Array.from({ length: count }, (_, k) => `theta${k + 1}`);
}

/**
 * The curve through w1, the control points and w2 as a flat [x0, y0, ...]
 * array: a Bezier curve sampled at n values of t, or the polygonal chain's
 * corners. Drawn while a point is dragged, before the kernel answers.
 */
export function provisionalCurve(kind, w1, controls, w2, n = 64) {
  const ctrl = [w1, ...controls, w2];
  const pts = kind === "bezier" ? bezier(ctrl, n) : ctrl;
  return Float32Array.from(pts.flat());
}

/** The short name of a curve for titles: "quadratic Bezier", "polygonal chain (2 bends)". */
export function curveName(kind, controls) {
  if (kind === "bezier") {
    const degree = controls + 1;
    return { 2: "quadratic Bezier", 3: "cubic Bezier" }[degree] ?? `Bezier curve of degree ${degree}`;
  }
  return controls > 1 ? `polygonal chain (${controls} bends)` : "polygonal chain";
}

/** A barrier (or any loss) with three significant digits. */
export function formatValue(v) {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(2);
  return String(Number(v.toPrecision(3)));
}

/** "label (barrier 0.012)", or the bare label when there is no barrier. */
export function withBarrier(label, barrier) {
  return barrier == null ? label : `${label} (barrier ${formatValue(barrier)})`;
}

/** Epochs with two decimals while they are few, one afterwards. */
export function formatEpoch(epoch) {
  return Number(epoch).toFixed(Math.abs(epoch) < 10 ? 2 : 1);
}

/**
 * Value of the grid cell holding plane point (x, y), or undefined outside
 * the grid. `extent` is the grid's [xa, xb, ya, yb] (cell edges); row 0 is
 * the smallest y.
 */
export function valueAt(grid, extent, x, y) {
  const [ny, nx] = grid.shape;
  if (!nx || !ny) return undefined;
  const [xa, xb, ya, yb] = extent;
  const j = Math.floor(((x - xa) / (xb - xa)) * nx);
  const i = Math.floor(((y - ya) / (yb - ya)) * ny);
  if (i < 0 || i >= ny || j < 0 || j >= nx) return undefined;
  return grid.data[i * nx + j];
}

/**
 * Steps and training losses of the frames up to index `upTo` that have a
 * loss (the first frame, before training, has none).
 * @returns {{xs: number[], ys: number[]}}
 */
export function lossSeries(frames, upTo) {
  const xs = [];
  const ys = [];
  for (let i = 0; i <= Math.min(upTo, frames.length - 1); i++) {
    const f = frames[i];
    if (f && f.loss != null) {
      xs.push(f.step);
      ys.push(f.loss);
    }
  }
  return { xs, ys };
}

/**
 * The steps axis of the training-loss plot: from the first frame's step to
 * the planned number of steps, so it does not grow with every frame (or to
 * the last frame's step when training ran past the plan).
 * @returns {[number, number]}
 */
export function stepRange(frames, totalSteps) {
  const first = frames.length ? frames[0].step : 0;
  const last = frames.length ? frames[frames.length - 1].step : 0;
  const hi = Math.max(Number(totalSteps) || 0, last);
  return [first, hi > first ? hi : first + 1];
}

/**
 * The first of `candidates` (longest first) whose width by `measure` is at
 * most `room`; the last one when none fits.
 */
export function fitText(candidates, room, measure) {
  for (const c of candidates) if (measure(c) <= room) return c;
  return candidates[candidates.length - 1];
}

/**
 * Whether the curve leaves the frame's plane by more than rounding: more than
 * 1e-4 of the distance from w1 to w2 (float32 projections of a curve that
 * lies in the plane miss it by about 1e-6 of that).
 */
export function leavesPlane(frame) {
  const d = Math.hypot(frame.w2[0] - frame.w1[0], frame.w2[1] - frame.w1[1]);
  return frame.offPlane > 1e-4 * (d > 0 ? d : 1);
}

/**
 * The status line under the controls: the training status with its progress
 * and planned steps.
 */
export function statusLine(status, progress, totalSteps) {
  if (status === "preparing") return "preparing…";
  if (status.startsWith("error")) return status;
  if (status === "ready") return totalSteps ? `ready · ${totalSteps} steps planned` : "ready";
  const pct = Math.round(100 * (Number(progress) || 0));
  const of = totalSteps ? ` of ${totalSteps} steps` : "";
  return `${status} · ${pct}%${of}`;
}

/**
 * What the info line says about a frame when the pointer is not over the
 * map: its resolution, how far the curve leaves the plane, and that its
 * control points may be dragged (`editable`).
 */
export function frameNotes(frame, editable) {
  if (!frame) return "";
  const parts = [];
  if (frame.hires) parts.push("high-resolution frame");
  if (leavesPlane(frame)) parts.push(`the curve leaves this plane (by up to ${formatValue(frame.offPlane)})`);
  if (editable && frame.controls.length) {
    const what = frame.controls.length > 1 ? "a control point" : "theta";
    parts.push(`drag ${what} to bend the curve before training`);
  }
  return parts.join(" · ");
}
