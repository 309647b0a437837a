// What the curve widget draws: a frame's map with the segment and the curve
// in it, the loss along the curve beside the straight segment's, the training
// loss up to the frame shown, and the map's placeholder before the first
// frame.

import { plotBox } from "../axes.js";
import { drawMap } from "../draw.js";
import {
  controlNames,
  curveName,
  fitText,
  formatEpoch,
  formatValue,
  lossSeries,
  provisionalCurve,
  stepRange,
  withBarrier,
} from "../frames.js";
import { drawLinePlot, evenT } from "../lineplot.js";
import { FONT, PATH_COLORS, TITLE_FONT } from "../styles.js";

const CURVE_COLOR = PATH_COLORS[0];
const SEGMENT_COLOR = "#444444"; // on the map, where a white halo surrounds it
const SEGMENT_PLOT_COLOR = "#888888";
const SEGMENT_DASH = [6, 4];
const LOSS_COLOR = "#1f77b4";

let measureCtx = null;
/** Width of `text` in the font drawMap writes the title in, to know whether a title fits. */
function measureTitle(text) {
  measureCtx ??= document.createElement("canvas").getContext("2d");
  measureCtx.font = TITLE_FONT;
  return measureCtx.measureText(text).width;
}

/** The curve as the legends name it. */
function curveLabel(kind) {
  return kind === "bezier" ? "Bezier curve" : "polygonal chain";
}

/**
 * The fixed colour scale `color_range` asks for, as {min, max}; undefined
 * (each grid's own range) when it is not a pair. drawMap ignores an unusable one.
 */
function colorRange(value) {
  if (!Array.isArray(value) || value.length !== 2) return undefined;
  const [min, max] = value.map(Number);
  return { min, max };
}

/**
 * Draw a frame's map; returns drawMap's geometry.
 *
 * @param {CanvasRenderingContext2D} ctx
 * @param {object} model the widget's model (look, status, curve kind)
 * @param {object} scene frame: the frame shown; controls: its control points
 *   as shown (the frame's own, or a drag's ahead of them); dragging: the name
 *   of the point dragged, or null; straight: the segment's profile; size:
 *   the canvas sizes (layout.js); cache: the map's GridCache
 */
export function drawFrameMap(ctx, model, { frame, controls, dragging, straight, size, cache }) {
  const kind = model.get("curve_kind");
  const names = controlNames(controls.length);
  const moving = controls !== frame.controls;
  const status = model.get("status");
  const when = `step ${frame.step} · epoch ${formatEpoch(frame.epoch)}`;
  const name = model.get("title") || curveName(kind, controls.length);
  // drawMap centres the title over the plot and does not shorten it
  const title = fitText([`${name} · ${when}`, when, `step ${frame.step}`], size.mapW - 44, measureTitle);
  const state = {
    grid: frame.grid,
    gridVersion: frame.version,
    xRange: frame.xRange,
    yRange: frame.yRange,
    colormap: model.get("colormap"),
    log: model.get("log_scale"),
    contours: model.get("contours"),
    range: colorRange(model.get("color_range")),
    metric: "loss",
    // the frame's plane: w1 at the origin, w2 on +x, the bend above (curve_frames.py)
    xlabel: "distance along w2 − w1",
    ylabel: "distance toward the bend, ⊥",
    points: [
      { name: "w1", x: frame.w1[0], y: frame.w1[1], role: "anchor", label: "w1" },
      { name: "w2", x: frame.w2[0], y: frame.w2[1], role: "anchor", label: "w2" },
      ...controls.map(([x, y], k) => ({ name: names[k], x, y, role: "path", label: names[k] })),
    ],
    paths: [],
    overlays: [
      {
        name: "segment",
        label: withBarrier("segment", straight.barrier),
        color: SEGMENT_COLOR,
        xyData: Float32Array.from([...frame.w1, ...frame.w2]),
      },
      {
        name: "curve",
        label: moving ? `${curveLabel(kind)} (moving)` : withBarrier(curveLabel(kind), frame.barrier),
        color: CURVE_COLOR,
        xyData: moving ? provisionalCurve(kind, frame.w1, controls, frame.w2) : frame.curve,
      },
    ],
    title,
    // drawMap draws its progress bar for "computing"
    status: status === "training" ? "computing" : status,
    progress: model.get("progress"),
    dragging,
    width: size.mapW,
    height: size.mapH,
    // a frame is read at a glance as a picture of the landscape: its cells are
    // blended, so a coarse frame reads at the widget's size (the map keeps crisp cells)
    smooth: true,
  };
  return { ...drawMap(ctx, state, cache), state };
}

/**
 * The loss along the shown frame's curve (null: none yet) and along the
 * straight segment, on the fixed `axis`.
 */
export function drawProfile(ctx, { frame, straight, axis, kind, size, empty }) {
  const series = [];
  const legend = [];
  if (frame && frame.profile.length) {
    series.push({ xs: evenT(frame.profile.length), ys: frame.profile, color: CURVE_COLOR, width: 2 });
    legend.push({
      label: withBarrier(curveLabel(kind), frame.barrier),
      short: withBarrier("curve", frame.barrier),
      color: CURVE_COLOR,
    });
  }
  if (straight.profile.length) {
    // drawn first, so the curve's line lies on top where they meet
    series.unshift({
      xs: evenT(straight.profile.length),
      ys: straight.profile,
      color: SEGMENT_PLOT_COLOR,
      dash: SEGMENT_DASH,
      width: 1.5,
    });
    legend.push({
      label: withBarrier("segment", straight.barrier),
      short: withBarrier("straight", straight.barrier),
      color: SEGMENT_PLOT_COLOR,
      dash: SEGMENT_DASH,
    });
  }
  drawLinePlot(ctx, {
    width: size.sideW,
    height: size.plotH,
    title: "loss along the curve",
    xLabel: "t",
    x: [0, 1],
    y: series.length ? axis : null,
    series,
    legend,
    empty,
  });
}

/** The training loss of the frames up to index `shown`, on the fixed `axis`. */
export function drawTrainingLoss(ctx, { frames, shown, axis, totalSteps, size }) {
  const { xs, ys } = lossSeries(frames, shown);
  const frame = shown >= 0 ? frames[shown] : null;
  const here = frame && frame.loss != null;
  drawLinePlot(ctx, {
    width: size.sideW,
    height: size.plotH,
    title: "training loss",
    xLabel: "step",
    x: stepRange(frames, totalSteps),
    y: axis,
    series: [{ xs, ys, color: LOSS_COLOR, width: 1.8 }],
    markers: here ? [{ x: frame.step, y: frame.loss, color: LOSS_COLOR }] : [],
    legend: here ? [{ label: `step ${frame.step}: ${formatValue(frame.loss)}`, color: LOSS_COLOR }] : [],
    empty: "no training yet",
  });
}

/** The map's placeholder before the first frame: the frame of the plot and a word. */
export function drawPlaceholder(ctx, width, height, text, isError) {
  const box = plotBox(width, height);
  ctx.save();
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, width, height);
  ctx.fillStyle = "#f4f4f4";
  ctx.fillRect(box.x0, box.y0, box.x1 - box.x0, box.y1 - box.y0);
  ctx.strokeStyle = "#222";
  ctx.lineWidth = 1;
  ctx.strokeRect(box.x0 + 0.5, box.y0 + 0.5, box.x1 - box.x0 - 1, box.y1 - box.y0 - 1);
  ctx.font = FONT;
  ctx.fillStyle = isError ? "#c00" : "#222";
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  ctx.fillText(text, (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2, box.x1 - box.x0 - 12);
  ctx.restore();
}
