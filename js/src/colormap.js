// Colour maps and normalisations. Pure functions, no DOM.
//
// The lookup tables live in colormaps.json, which landscape_widgets/output/png.py
// reads too, so the notebook widget and the headless PNG use the same colours.

import tables from "./colormaps.json";

/** RGB used for cells whose value is NaN or +-inf. */
export const MASKED = Object.freeze([...tables.masked]);

/** Names of the available colour maps. */
export const COLORMAPS = Object.freeze(Object.keys(tables.maps));

/**
 * The lookup table of a colour map.
 * @param {string} name
 * @returns {{positions: number[], colors: number[][]}}
 */
export function table(name) {
  const t = tables.maps[name];
  if (!t) {
    throw new Error(`unknown colour map "${name}" (have: ${COLORMAPS.join(", ")})`);
  }
  return t;
}

/**
 * Colour at t in [0, 1] (clamped) by linear interpolation between stops.
 * Components are rounded half up, as output/png.py does.
 * @param {string} name
 * @param {number} t
 * @returns {number[]} [r, g, b] integers in 0..255
 */
export function colorAt(name, t) {
  const { positions, colors } = table(name);
  if (!Number.isFinite(t)) return [...MASKED];
  const s = Math.min(1, Math.max(0, t));
  let i = 0;
  while (i < positions.length - 2 && s > positions[i + 1]) i++;
  const p0 = positions[i];
  const p1 = positions[i + 1];
  const f = p1 > p0 ? (s - p0) / (p1 - p0) : 0;
  const c0 = colors[i];
  const c1 = colors[i + 1];
  return [0, 1, 2].map((k) => Math.floor(c0[k] + f * (c1[k] - c0[k]) + 0.5));
}

/**
 * Smallest and largest finite value; null when there is none.
 * @param {ArrayLike<number>} values
 * @returns {{min: number, max: number} | null}
 */
export function finiteRange(values) {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isFinite(v)) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  return min <= max ? { min, max } : null;
}

/**
 * Linear normalisation of [vmin, vmax] onto [0, 1]; a flat range maps to 0.5.
 * Non-finite values map to NaN.
 */
export function linearNorm(vmin, vmax) {
  const span = vmax - vmin;
  return (v) => {
    if (!Number.isFinite(v)) return NaN;
    return span > 0 ? (v - vmin) / span : 0.5;
  };
}

/**
 * Logarithmic normalisation of [vmin, vmax] onto [0, 1].
 *
 * When vmin > 0 this is log(v / vmin) / log(vmax / vmin). Otherwise values
 * are first shifted so that vmin lands 1e-3 of the range above zero, which
 * keeps the low end (the interesting part of a loss surface) spread out.
 */
export function logNorm(vmin, vmax) {
  const span = vmax - vmin;
  if (!(span > 0)) return linearNorm(vmin, vmax);
  const offset = vmin > 0 ? 0 : vmin - span * 1e-3;
  const lo = Math.log(vmin - offset);
  const hi = Math.log(vmax - offset);
  return (v) => {
    if (!Number.isFinite(v)) return NaN;
    return (Math.log(Math.max(v - offset, Number.MIN_VALUE)) - lo) / (hi - lo);
  };
}

/**
 * Normalisation by name.
 * @param {number} vmin
 * @param {number} vmax
 * @param {boolean} log
 */
export function makeNorm(vmin, vmax, log) {
  return log ? logNorm(vmin, vmax) : linearNorm(vmin, vmax);
}

/**
 * Colour every value into an RGBA byte array (alpha 255). Non-finite values
 * get the masked colour.
 * @param {ArrayLike<number>} values
 * @param {string} name colour map
 * @param {(v: number) => number} norm
 * @returns {Uint8ClampedArray} length 4 * values.length
 */
export function colorize(values, name, norm) {
  const lut = lookupTable(name, 256);
  const out = new Uint8ClampedArray(values.length * 4);
  for (let i = 0; i < values.length; i++) {
    const t = norm(values[i]);
    let r, g, b;
    if (Number.isFinite(t)) {
      const k = Math.round(Math.min(1, Math.max(0, t)) * 255) * 3;
      r = lut[k];
      g = lut[k + 1];
      b = lut[k + 2];
    } else {
      [r, g, b] = MASKED;
    }
    out[4 * i] = r;
    out[4 * i + 1] = g;
    out[4 * i + 2] = b;
    out[4 * i + 3] = 255;
  }
  return out;
}

/**
 * n colours sampled evenly from t = 0 to t = 1, flattened RGB.
 * @returns {Uint8Array} length 3 * n
 */
export function lookupTable(name, n = 256) {
  const out = new Uint8Array(3 * n);
  for (let i = 0; i < n; i++) {
    out.set(colorAt(name, n > 1 ? i / (n - 1) : 0), 3 * i);
  }
  return out;
}

/** CSS colour string of an [r, g, b] triple. */
export function css([r, g, b]) {
  return `rgb(${r}, ${g}, ${b})`;
}
