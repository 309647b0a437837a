// Axis ticks, tick labels and the plot layout. Pure functions, no DOM.
// landscape_widgets/output/png.py follows the same layout and tick rules.

/** Margins around the plot area, in CSS pixels. */
export const MARGIN = Object.freeze({ left: 58, right: 92, top: 30, bottom: 42 });

/** Least distance in pixels between two colour-bar labels. */
export const MIN_TICK_GAP = 14;

/** Width of the colour bar and its gap from the plot. */
export const COLORBAR = Object.freeze({ gap: 14, width: 14 });

/**
 * Rectangle of the plot area inside a width x height canvas, with the map's
 * margins or others ({left, right, top, bottom}).
 * @returns {{x0: number, y0: number, x1: number, y1: number}}
 */
export function plotBox(width, height, margin = MARGIN) {
  return {
    x0: margin.left,
    y0: margin.top,
    x1: Math.max(margin.left + 1, width - margin.right),
    y1: Math.max(margin.top + 1, height - margin.bottom),
  };
}

/**
 * Extent covered by n cells centred on an evenly spaced axis from first to
 * last: half a cell beyond each end. One cell gets a unit-wide extent.
 * @returns {[number, number]}
 */
export function cellExtent(first, last, n) {
  if (n <= 1) return [first - 0.5, first + 0.5];
  const half = (last - first) / (n - 1) / 2;
  return [first - half, last + half];
}

/**
 * Affine map from data interval [d0, d1] to pixel interval [p0, p1].
 * @returns {(v: number) => number}
 */
export function scale(d0, d1, p0, p1) {
  const k = d1 !== d0 ? (p1 - p0) / (d1 - d0) : 0;
  return (v) => p0 + (v - d0) * k;
}

/**
 * Round-numbered ticks (1, 2 or 5 times a power of ten) covering [lo, hi].
 * @param {number} lo
 * @param {number} hi
 * @param {number} target roughly how many ticks
 * @returns {number[]}
 */
export function niceTicks(lo, hi, target = 5) {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) return [lo];
  const raw = (hi - lo) / Math.max(1, target);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  const step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
  const out = [];
  const eps = step * 1e-9;
  for (let k = Math.ceil((lo - eps) / step); k * step <= hi + eps; k++) {
    // Round to kill float noise such as 0.30000000000000004.
    out.push(Number((k * step).toPrecision(12)));
  }
  return out;
}

/**
 * Ticks for a logarithmic colour bar over [lo, hi] (lo > 0): 1, 2 and 5
 * times powers of ten, thinned to powers of ten when there are many. Falls
 * back to niceTicks when fewer than two such values fall in the range.
 */
export function logTicks(lo, hi) {
  if (!(lo > 0) || !(hi > lo)) return niceTicks(lo, hi);
  const out = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = Number((m * 10 ** e).toPrecision(12));
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push(v);
    }
  }
  if (out.length > 8) {
    return out.filter((v) => Math.abs(Math.log10(v) - Math.round(Math.log10(v))) < 1e-9);
  }
  return out.length >= 2 ? out : niceTicks(lo, hi);
}

/** Short label for a tick value: plain numbers (20, 10000, 0.005), exponents only past a million or below 1e-3. */
export function formatTick(v) {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e6 || a < 1e-3) return v.toExponential(1);
  return String(Number(v.toPrecision(4)));
}
