// The predictions panel: what the network does at the probe's weights.
// Decision regions over the input plane for 2-D classification, the fitted
// function for 1-D regression, with the data drawn on top.

import { decodeArray } from "./codec.js";

/** Class colours (Tableau 10): distinct, and readable on white. */
export const CLASS_COLORS = [
  [31, 119, 180],
  [255, 127, 14],
  [44, 160, 44],
  [214, 39, 40],
  [148, 103, 189],
  [140, 86, 75],
  [227, 119, 194],
  [127, 127, 127],
  [188, 189, 34],
  [23, 190, 207],
];

/**
 * RGB of a cell predicted as class `cls` with probability `conf` among k
 * classes: the class colour, washed towards white where the network is
 * unsure (conf near 1/k).
 */
export function regionColor(cls, conf, k) {
  const base = CLASS_COLORS[cls % CLASS_COLORS.length];
  const floor = 1 / Math.max(k, 2);
  const sure = Math.min(1, Math.max(0, (conf - floor) / (1 - floor)));
  const a = 0.2 + 0.55 * sure;
  return base.map((c) => Math.round(255 + (c - 255) * a));
}

const PAD = { left: 30, right: 8, top: 22, bottom: 22 };

/**
 * Draw the panel into ctx (size w x h). `pred` is the widget's predictions
 * trait; `probeResult` the probe's {metric: value}, written under the plot.
 * Returns whether the predictions were drawn (false while they are awaited).
 */
export function drawPredictions(ctx, pred, w, h, probeResult) {
  ctx.save();
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, w, h);
  ctx.font = "12px system-ui, sans-serif";
  ctx.fillStyle = "#222";
  ctx.textAlign = "left";
  ctx.textBaseline = "middle";
  const title = pred.probe ? `predictions at ${pred.probe}` : "predictions";
  ctx.fillText(title, PAD.left, PAD.top / 2);
  const box = { x0: PAD.left, y0: PAD.top, x1: w - PAD.right, y1: h - PAD.bottom };
  if (!pred.values) {
    ctx.fillText("waiting for the kernel…", box.x0, (box.y0 + box.y1) / 2);
    ctx.restore();
    return false;
  }
  const [ex0, ex1] = pred.extent;
  const sx = (x) => box.x0 + ((x - ex0) / (ex1 - ex0)) * (box.x1 - box.x0);
  // data: one row per data point, (x, y, class) or (x, y); values: class and
  // confidence per cell of a (2, gy, gx) grid, or one output per input
  const { data, shape: dataShape } = decodeArray(pred.data);
  const nData = dataShape[0];
  const { data: values, shape } = decodeArray(pred.values);

  if (pred.kind === "classification") {
    const [ey0, ey1] = pred.extent.slice(2);
    const sy = (y) => box.y1 - ((y - ey0) / (ey1 - ey0)) * (box.y1 - box.y0);
    const [, gy, gx] = shape;
    const rgba = new Uint8ClampedArray(gx * gy * 4);
    for (let i = 0; i < gy; i++) {
      for (let j = 0; j < gx; j++) {
        const src = i * gx + j;
        const rgb = regionColor(values[src], values[gx * gy + src], pred.n_classes);
        const dst = ((gy - 1 - i) * gx + j) * 4; // row 0 is the smallest y: bottom
        rgba.set([rgb[0], rgb[1], rgb[2], 255], dst);
      }
    }
    const cells = document.createElement("canvas");
    cells.width = gx;
    cells.height = gy;
    cells.getContext("2d").putImageData(new ImageData(rgba, gx, gy), 0, 0);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(cells, box.x0, box.y0, box.x1 - box.x0, box.y1 - box.y0);
    for (let k = 0; k < nData; k++) {
      const c = CLASS_COLORS[data[3 * k + 2] % CLASS_COLORS.length];
      ctx.beginPath();
      ctx.arc(sx(data[3 * k]), sy(data[3 * k + 1]), 2.2, 0, 2 * Math.PI);
      ctx.fillStyle = `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
      ctx.fill();
      ctx.lineWidth = 0.6;
      ctx.strokeStyle = "#fff";
      ctx.stroke();
    }
  } else {
    // y range: the data's, widened a little; the curve is clipped to it
    let lo = Infinity;
    let hi = -Infinity;
    for (let k = 0; k < nData; k++) {
      lo = Math.min(lo, data[2 * k + 1]);
      hi = Math.max(hi, data[2 * k + 1]);
    }
    if (!(hi > lo)) [lo, hi] = [lo - 1, lo + 1];
    const pad = 0.25 * (hi - lo);
    const sy = (y) => box.y1 - ((y - (lo - pad)) / (hi - lo + 2 * pad)) * (box.y1 - box.y0);
    ctx.fillStyle = "rgba(90, 90, 90, 0.55)";
    for (let k = 0; k < nData; k++) {
      ctx.beginPath();
      ctx.arc(sx(data[2 * k]), sy(data[2 * k + 1]), 2, 0, 2 * Math.PI);
      ctx.fill();
    }
    ctx.save();
    ctx.beginPath();
    ctx.rect(box.x0, box.y0, box.x1 - box.x0, box.y1 - box.y0);
    ctx.clip();
    ctx.beginPath();
    const n = shape[0];
    for (let k = 0; k < n; k++) {
      const x = ex0 + ((ex1 - ex0) * k) / (n - 1);
      const y = sy(values[k]);
      if (k === 0) ctx.moveTo(sx(x), y);
      else ctx.lineTo(sx(x), y);
    }
    ctx.lineWidth = 2.5;
    ctx.strokeStyle = "#ff7f0e";
    ctx.stroke();
    ctx.restore();
  }
  ctx.lineWidth = 1;
  ctx.strokeStyle = "#444";
  ctx.strokeRect(box.x0 + 0.5, box.y0 + 0.5, box.x1 - box.x0 - 1, box.y1 - box.y0 - 1);
  if (probeResult) {
    ctx.fillStyle = "#222";
    ctx.textBaseline = "middle";
    const parts = Object.entries(probeResult).map(([k, v]) =>
      k === "accuracy" ? `acc ${(100 * v).toFixed(1)}%` : `${k} ${Number(v).toPrecision(3)}`,
    );
    ctx.fillText(parts.join("  "), box.x0, h - PAD.bottom / 2);
  }
  ctx.restore();
  return true;
}
