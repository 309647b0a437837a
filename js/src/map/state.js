// What the map draws, read from the widget's model, and the words under it.
// No DOM: `model` is anything with get(name), so these run in tests.

import { EMPTY_GRID, at, decodeArray } from "../codec.js";
import { gridExtent } from "../draw.js";

/**
 * The overlays with their arrays decoded: `xyData` (x0, y0, x1, y1, ...) and,
 * for a trajectory, `stepsData` (one optimisation step per point; null for
 * other overlays).
 */
export function decodeOverlays(list) {
  return (list || []).map((o) => ({
    ...o,
    xyData: o.xy ? decodeArray(o.xy).data : null,
    stepsData: o.steps ? decodeArray(o.steps).data : null,
  }));
}

/**
 * The state drawMap draws, from the model and from what the page holds
 * itself.
 *
 * @param {{get: (name: string) => any}} model
 * @param {object} local gridVersion (the grid's cache key), overlays
 *   (decoded), playerStep (null draws whole paths), dragging (the name of
 *   the point under the mouse, or null), and the points and view of a
 *   gesture in progress (null: the model's)
 */
export function readMapState(model, local) {
  const loss = model.get("loss");
  return {
    grid: loss ? decodeArray(loss) : EMPTY_GRID,
    gridVersion: local.gridVersion,
    xRange: model.get("x_range"),
    yRange: model.get("y_range"),
    metric: model.get("metric"),
    view: local.view ?? model.get("view"),
    points: local.points ?? model.get("points") ?? [],
    paths: model.get("paths") ?? [],
    pathNotes: model.get("path_notes") || {},
    overlays: local.overlays,
    playerStep: local.playerStep,
    colormap: model.get("colormap"),
    log: model.get("log_scale"),
    range: colorRange(model.get("color_range")),
    xlabel: model.get("xlabel") || "x",
    aspect: model.get("aspect") || "free",
    interactive: Boolean(model.get("interactive")),
    ylabel: model.get("ylabel") || "y",
    contours: model.get("contours"),
    title: model.get("title"),
    width: model.get("width"),
    height: model.get("height"),
    status: model.get("status"),
    progress: model.get("progress"),
    dragging: local.dragging,
  };
}

/** The `color_range` trait ([lo, hi] or []) as draw.js's fixed range, or null. */
export function colorRange(pair) {
  return pair && pair.length === 2 ? { min: pair[0], max: pair[1] } : null;
}

/**
 * An axis name short enough for the read-out: "w_a" of "w_a = 5.weight[5, 250]",
 * "PC1" of "PC1 (90%)"; `fallback` for none or a long one.
 */
export function shortName(label, fallback) {
  const head = (label || "").split(/ = | \(/)[0].trim();
  return head && head.length <= 12 ? head : fallback;
}

/** "name value", accuracy as a percentage. */
function formatMetric(name, value) {
  if (name === "accuracy" && Number.isFinite(value)) return `accuracy ${(100 * value).toFixed(1)}%`;
  return `${name} ${Number.isFinite(value) ? value.toPrecision(4) : String(value)}`;
}

/**
 * The read-out for canvas pixel (u, v): its plane coordinates and, over a
 * cell of the grid, the coloured metric and the `hover` ones ({name: array}
 * on the same grid) there. Empty outside the plot.
 *
 * @param {object} state what was drawn (readMapState)
 * @param {{box: object, tf: object}} drawn the geometry drawMap returned
 */
export function readout(state, drawn, hover, u, v) {
  if (!state || !drawn) return "";
  const { box, tf } = drawn;
  if (u < box.x0 || u >= box.x1 || v < box.y0 || v >= box.y1) return "";
  const x = tf.fx(u);
  const y = tf.fy(v);
  const xs = shortName(state.xlabel, "x");
  const ys = shortName(state.ylabel, "y");
  let text = `${xs} = ${x.toPrecision(3)}, ${ys} = ${y.toPrecision(3)}`;
  const [ny, nx] = state.grid.shape;
  if (nx && ny) {
    const [xa, xb, ya, yb] = gridExtent(state);
    const j = Math.floor(((x - xa) / (xb - xa)) * nx);
    const i = Math.floor(((y - ya) / (yb - ya)) * ny);
    if (i >= 0 && i < ny && j >= 0 && j < nx) {
      const parts = [formatMetric(state.metric, at(state.grid, i, j))];
      for (const [name, arr] of Object.entries(hover || {})) parts.push(formatMetric(name, at(decodeArray(arr), i, j)));
      text += ": " + parts.join(", ");
    }
  }
  return text;
}

/**
 * The status beside the controls: {text, failed}. Computing shows its
 * progress, idle shows nothing; background work (`activity`) follows.
 */
export function statusText(status, activity, progress) {
  const failed = status.startsWith("error") || (activity || "").startsWith("error");
  const shown = status === "computing" ? `computing… ${Math.round(100 * progress)}%` : status === "idle" ? "" : status;
  const text = activity ? (shown ? `${shown} · ${activity}` : activity) : shown;
  return { text, failed };
}
