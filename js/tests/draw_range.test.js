import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { colorAt } from "../src/colormap.js";
import { GridCache } from "../src/draw.js";

// GridCache paints the cells onto a canvas; node has none, so a stand-in
// keeps the pixels it is given.
beforeEach(() => {
  vi.stubGlobal(
    "ImageData",
    class {
      constructor(data, width, height) {
        Object.assign(this, { data, width, height });
      }
    },
  );
  vi.stubGlobal("document", {
    createElement: () => {
      const canvas = { pixels: null };
      canvas.getContext = () => ({
        putImageData: (img) => {
          canvas.pixels = img.data;
        },
      });
      return canvas;
    },
  });
});
afterEach(() => vi.unstubAllGlobals());

// 1 row x 3 columns
const grid = { data: Float32Array.from([1, 2, 3]), shape: [1, 3] };
const base = { grid, gridVersion: 1, colormap: "viridis", log: false, contours: 0 };
const rgbAt = (pixels, j) => [...pixels.subarray(4 * j, 4 * j + 3)];

describe("GridCache colour range", () => {
  it("without a range uses the grid's own finite range", () => {
    const c = new GridCache().get(base);
    expect(c.range).toEqual({ min: 1, max: 3 });
    expect(rgbAt(c.cells.pixels, 0)).toEqual(colorAt("viridis", 0));
    expect(rgbAt(c.cells.pixels, 2)).toEqual(colorAt("viridis", 1));
  });

  it("a fixed range sets the colours, and values beyond it clamp", () => {
    const c = new GridCache().get({ ...base, range: { min: 0, max: 2 } });
    expect(c.range).toEqual({ min: 0, max: 2 });
    // 1 is the middle of [0, 2]; 2 and 3 are at or past the top
    const mid = rgbAt(c.cells.pixels, 0);
    const expected = colorAt("viridis", Math.round(0.5 * 255) / 255);
    expect(mid).toEqual(expected);
    expect(rgbAt(c.cells.pixels, 1)).toEqual(colorAt("viridis", 1));
    expect(rgbAt(c.cells.pixels, 2)).toEqual(colorAt("viridis", 1));
  });

  it("a change of the fixed range recolours the same grid", () => {
    const cache = new GridCache();
    cache.get({ ...base, range: { min: 0, max: 2 } });
    const first = cache.cells;
    cache.get({ ...base, range: { min: 0, max: 2 } });
    expect(cache.cells).toBe(first);
    cache.get({ ...base, range: { min: 0, max: 6 } });
    expect(cache.cells).not.toBe(first);
    expect(cache.range).toEqual({ min: 0, max: 6 });
  });

  it("an unusable range is ignored", () => {
    const c = new GridCache().get({ ...base, range: { min: NaN, max: 2 } });
    expect(c.range).toEqual({ min: 1, max: 3 });
  });
});
