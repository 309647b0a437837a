import { describe, expect, it } from "vitest";
import { linearNorm } from "../src/colormap.js";
import { contourLevels, contourRings } from "../src/contour.js";

// A bowl f = r^2 sampled at cell centres: its contour at level c is the
// circle of radius sqrt(c), an answer that needs no marching squares.
function bowl(n, half) {
  const data = new Float32Array(n * n);
  const coord = (k) => -half + ((k + 0.5) * 2 * half) / n; // cell centres
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) data[i * n + j] = coord(j) ** 2 + coord(i) ** 2;
  return data;
}

describe("contours", () => {
  it("levels sit in the middle of equal colour slices", () => {
    expect(contourLevels(4)).toEqual([0.125, 0.375, 0.625, 0.875]);
    expect(contourLevels(0)).toEqual([]);
  });

  it("rings of a bowl are circles of radius sqrt(level)", () => {
    const n = 64;
    const half = 1;
    const data = bowl(n, half);
    const norm = linearNorm(0, 1); // values in [0, 2]: levels 0.25, 0.5 are inside
    const out = contourRings(data, n, n, norm, [0.25, 0.5]);
    expect(out.map((c) => c.level)).toEqual([0.25, 0.5]);
    const onBorder = ([gx, gy]) => gx <= 0 || gx >= n || gy <= 0 || gy >= n;
    for (const { level, rings } of out) {
      // the region above the level is the grid minus a disc: the grid's
      // border (not drawn) plus one hole, the circle
      const inner = rings.filter((ring) => !ring.every(onBorder));
      expect(inner.length).toBe(1);
      for (const [gx, gy] of inner[0]) {
        // grid units -> plane: x = -half + gx * (2 half / n)
        const x = -half + (gx * 2 * half) / n;
        const y = -half + (gy * 2 * half) / n;
        expect(Math.abs(Math.hypot(x, y) - Math.sqrt(level))).toBeLessThan(0.01);
      }
    }
  });

  it("masked cells count as the top of the scale", () => {
    const n = 16;
    const data = new Float32Array(n * n).fill(0);
    data[5 * n + 7] = NaN;
    const [c] = contourRings(data, n, n, linearNorm(0, 1), [0.5]);
    // one small ring around the NaN cell, centred on it
    expect(c.rings.length).toBe(1);
    expect(c.rings[0].length).toBeGreaterThan(3);
    const xs = c.rings[0].map((p) => p[0]);
    const ys = c.rings[0].map((p) => p[1]);
    expect((Math.min(...xs) + Math.max(...xs)) / 2).toBeCloseTo(7.5, 5);
    expect((Math.min(...ys) + Math.max(...ys)) / 2).toBeCloseTo(5.5, 5);
  });

  it("degenerate grids give no rings", () => {
    expect(contourRings(new Float32Array(3), 3, 1, linearNorm(0, 1), [0.5])).toEqual([]);
    expect(contourRings(new Float32Array(4), 2, 2, linearNorm(0, 1), [])).toEqual([]);
  });
});
