// What surrounds the map's plot area: the axes in plane coordinates, the
// colour bar, the legends of masked cells and of lines, the labels of points
// and of runs' ends, and the progress bar.

import { COLORBAR, MIN_TICK_GAP, formatTick, logTicks, niceTicks } from "./axes.js";
import { line } from "./canvas.js";
import { MASKED, css, lookupTable, makeNorm } from "./colormap.js";
import { placeLabels } from "./labels.js";
import { FONT, PATH_COLORS } from "./styles.js";

/** Ticks and names of the two axes; a name too long for its side is shortened with "…". */
export function drawAxes(ctx, box, view, tf, xlabel = "x", ylabel = "y") {
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (const t of niceTicks(view[0], view[1], 5)) {
    const x = Math.round(tf.px(t)) + 0.5;
    line(ctx, x, box.y1, x, box.y1 + 5);
    ctx.fillText(formatTick(t), x, box.y1 + 7);
  }
  ctx.fillText(fitText(ctx, xlabel, box.x1 - box.x0), (box.x0 + box.x1) / 2, box.y1 + 24);
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const t of niceTicks(view[2], view[3], 5)) {
    const y = Math.round(tf.py(t)) + 0.5;
    line(ctx, box.x0 - 5, y, box.x0, y);
    ctx.fillText(formatTick(t), box.x0 - 7, y);
  }
  ctx.save();
  ctx.translate(14, (box.y0 + box.y1) / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textAlign = "center";
  ctx.fillText(fitText(ctx, ylabel, box.y1 - box.y0), 0, 0);
  ctx.restore();
}

/** `text`, shortened with "…" until it is at most `width` pixels wide in the current font. */
export function fitText(ctx, text, width) {
  if (ctx.measureText(text).width <= width) return text;
  let n = text.length;
  while (n > 1 && ctx.measureText(text.slice(0, n - 1) + "…").width > width) n--;
  return text.slice(0, n - 1) + "…";
}

export function drawColorbar(ctx, box, range, state) {
  const x = box.x1 + COLORBAR.gap;
  const h = box.y1 - box.y0;
  ctx.textAlign = "left";
  ctx.textBaseline = "bottom";
  ctx.fillText(state.metric, x, box.y0 - 4);
  if (!range) {
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
    line(ctx, x + COLORBAR.width, y, x + COLORBAR.width + 4, y);
    ctx.fillText(formatTick(t), x + COLORBAR.width + 6, y);
  }
}

export function drawMaskedLegend(ctx, box, count) {
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

/** Dash patterns of trajectories, in turn: paths that run on top of each other stay apart. */
export const DASHES = Object.freeze([[], [8, 4], [2, 3], [10, 3, 2, 3], [4, 4], [1, 5]]);

/** The dash pattern of the k-th trajectory. */
export function dashOf(k) {
  return DASHES[k % DASHES.length];
}

/**
 * What the legend lists: overlays (trajectories with their dash pattern)
 * then paths, as [{name, color, dash}].
 */
export function legendEntries(state) {
  let k = 0;
  return [
    ...state.overlays.map((o) => ({
      name: o.label || o.name,
      color: o.color || "#222",
      dash: o.stepsData ? dashOf(k++) : [],
    })),
    ...state.paths.map((p) => {
      // a path whose profile is not on screen says what it holds (path_notes)
      const note = state.pathNotes?.[p.name];
      return { name: note ? `${p.name} (${note})` : p.name, color: p.color || PATH_COLORS[0], dash: [] };
    }),
  ];
}

export function drawProgress(ctx, box, progress) {
  const w = box.x1 - box.x0;
  ctx.fillStyle = "rgba(255, 255, 255, 0.7)";
  ctx.fillRect(box.x0 + 1, box.y0 + 1, w - 2, 4);
  ctx.fillStyle = "#1f77b4";
  ctx.fillRect(box.x0 + 1, box.y0 + 1, Math.max(2, (w - 2) * progress), 4);
}

/**
 * The labels of `items`, drawn unclipped where placeLabels() puts them:
 * inside the plot (never under the colour bar), off each other, off the
 * markers and the lines; an item with no free place has no label.
 * Returns the boxes drawn, [x0, y0, x1, y1] in CSS pixels.
 */
export function drawLabels(ctx, items, box, obstacles) {
  ctx.font = FONT;
  ctx.textAlign = "left";
  ctx.textBaseline = "bottom";
  ctx.lineJoin = "round";
  const sized = items.map((it) => ({ ...it, w: ctx.measureText(it.text).width }));
  const spots = placeLabels(sized, box, obstacles);
  const placed = [];
  sized.forEach(({ text }, k) => {
    const spot = spots[k];
    if (!spot) return;
    placed.push(spot);
    ctx.lineWidth = 3;
    ctx.strokeStyle = "rgba(255, 255, 255, 0.85)";
    ctx.strokeText(text, spot[0], spot[3]);
    ctx.fillStyle = "#000";
    ctx.fillText(text, spot[0], spot[3]);
  });
  return placed;
}
