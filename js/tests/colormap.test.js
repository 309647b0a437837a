import { describe, expect, it } from "vitest";
import tables from "../src/colormaps.json";
import {
  COLORMAPS,
  MASKED,
  colorAt,
  colorize,
  finiteRange,
  linearNorm,
  logNorm,
  lookupTable,
  makeNorm,
} from "../src/colormap.js";

describe("lookup tables", () => {
  it("has viridis and terrain with matching stops", () => {
    expect(COLORMAPS).toEqual(expect.arrayContaining(["viridis", "terrain"]));
    for (const name of COLORMAPS) {
      const { positions, colors } = tables.maps[name];
      expect(positions.length).toBe(colors.length);
      expect(positions[0]).toBe(0);
      expect(positions.at(-1)).toBe(1);
      for (let i = 1; i < positions.length; i++) expect(positions[i]).toBeGreaterThan(positions[i - 1]);
      for (const c of colors) for (const k of c) expect(k >= 0 && k <= 255).toBe(true);
    }
  });

  it("returns the stops exactly at their positions", () => {
    for (const name of COLORMAPS) {
      const { positions, colors } = tables.maps[name];
      positions.forEach((p, i) => expect(colorAt(name, p)).toEqual(colors[i]));
    }
  });

  it("interpolates linearly between stops and clamps outside [0, 1]", () => {
    const { positions, colors } = tables.maps.viridis;
    const mid = (positions[0] + positions[1]) / 2;
    const expected = colors[0].map((c, k) => Math.floor((c + colors[1][k]) / 2 + 0.5));
    expect(colorAt("viridis", mid)).toEqual(expected);
    expect(colorAt("viridis", -3)).toEqual(colors[0]);
    expect(colorAt("viridis", 7)).toEqual(colors.at(-1));
  });

  it("gives the masked colour for non-finite t and rejects unknown maps", () => {
    expect(colorAt("terrain", NaN)).toEqual([...MASKED]);
    expect(() => colorAt("jet", 0.5)).toThrow(/unknown colour map/);
  });

  it("viridis gets lighter from end to end (perceptual ordering)", () => {
    const lut = lookupTable("viridis", 32);
    const lum = [];
    for (let i = 0; i < 32; i++) lum.push(0.2126 * lut[3 * i] + 0.7152 * lut[3 * i + 1] + 0.0722 * lut[3 * i + 2]);
    for (let i = 1; i < lum.length; i++) expect(lum[i]).toBeGreaterThan(lum[i - 1]);
  });
});

describe("normalisations", () => {
  it("finds the finite range and ignores NaN and inf", () => {
    expect(finiteRange([3, NaN, -1, Infinity, 2, -Infinity])).toEqual({ min: -1, max: 3 });
    expect(finiteRange([NaN, Infinity])).toBeNull();
  });

  it("linear maps the ends to 0 and 1, a flat range to 0.5", () => {
    const n = linearNorm(2, 6);
    expect(n(2)).toBe(0);
    expect(n(6)).toBe(1);
    expect(n(3)).toBeCloseTo(0.25);
    expect(n(NaN)).toBeNaN();
    expect(linearNorm(4, 4)(4)).toBe(0.5);
  });

  it("log maps decades evenly when the range is positive", () => {
    const n = logNorm(0.01, 100);
    expect(n(0.01)).toBeCloseTo(0);
    expect(n(1)).toBeCloseTo(0.5);
    expect(n(100)).toBeCloseTo(1);
    expect(n(Infinity)).toBeNaN();
  });

  it("log handles ranges that reach zero or below", () => {
    const n = logNorm(-1, 9);
    expect(n(-1)).toBeCloseTo(0);
    expect(n(9)).toBeCloseTo(1);
    const mid = n(4);
    expect(mid).toBeGreaterThan(0.5); // low values are spread out
    expect(mid).toBeLessThan(1);
  });

  it("makeNorm picks by flag", () => {
    expect(makeNorm(1, 100, false)(10)).toBeCloseTo(9 / 99);
    expect(makeNorm(1, 100, true)(10)).toBeCloseTo(0.5);
  });
});

describe("colorize", () => {
  it("fills RGBA with the masked colour for NaN and inf", () => {
    const values = new Float32Array([0, NaN, 1, -Infinity]);
    const rgba = colorize(values, "viridis", linearNorm(0, 1));
    expect(rgba.length).toBe(16);
    expect([...rgba.slice(0, 4)]).toEqual([...tables.maps.viridis.colors[0], 255]);
    expect([...rgba.slice(4, 8)]).toEqual([...MASKED, 255]);
    expect([...rgba.slice(8, 12)]).toEqual([...tables.maps.viridis.colors.at(-1), 255]);
    expect([...rgba.slice(12, 16)]).toEqual([...MASKED, 255]);
  });
});
