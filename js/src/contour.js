// Contour lines of a grid, by marching squares (d3-contour). Pure functions,
// no DOM: the map draws the rings this returns.

import { contours } from "d3-contour";

/**
 * Contour levels evenly spaced in colour space: n levels at the middles of
 * n equal slices of the normalised range [0, 1], so each contour sits on
 * a visible colour step, on a linear and on a log scale alike.
 * @param {number} n
 * @returns {number[]} normalised levels in (0, 1)
 */
export function contourLevels(n) {
  const out = [];
  for (let k = 0; k < n; k++) out.push((k + 0.5) / n);
  return out;
}

/**
 * Rings of the contours of a grid at normalised levels.
 *
 * @param {ArrayLike<number>} data row-major grid, row 0 = smallest y
 * @param {number} nx columns
 * @param {number} ny rows
 * @param {(v: number) => number} norm value -> [0, 1] (NaN for masked)
 * @param {number[]} levels normalised levels
 * @returns {{level: number, rings: number[][][]}[]} rings in grid units:
 *   x in [0, nx] and y in [0, ny], cell (i, j) covering [j, j+1] x [i, i+1]
 */
export function contourRings(data, nx, ny, norm, levels) {
  if (nx < 2 || ny < 2 || levels.length === 0) return [];
  const values = new Float64Array(nx * ny);
  for (let k = 0; k < values.length; k++) {
    const v = norm(data[k]);
    // Masked cells count as the top of the scale: contours go round them.
    values[k] = Number.isFinite(v) ? v : 1;
  }
  const gen = contours().size([nx, ny]).thresholds(levels);
  return gen(values).map((geo) => ({
    level: geo.value,
    rings: geo.coordinates.flatMap((polygon) => polygon),
  }));
}
