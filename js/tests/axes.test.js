import { describe, expect, it } from "vitest";
import { cellExtent, formatTick, logTicks, niceTicks, plotBox, scale } from "../src/axes.js";

describe("ticks", () => {
  it("niceTicks gives round steps inside the range", () => {
    expect(niceTicks(-1, 1, 5)).toEqual([-1, -0.5, 0, 0.5, 1]);
    expect(niceTicks(0, 0.3, 3)).toEqual([0, 0.1, 0.2, 0.3]);
    const t = niceTicks(-1.03, 1.03, 5);
    expect(t[0]).toBeGreaterThanOrEqual(-1.03);
    expect(t.at(-1)).toBeLessThanOrEqual(1.03);
    expect(niceTicks(2, 2)).toEqual([2]);
    expect(niceTicks(NaN, 1)).toEqual([]);
  });

  it("logTicks uses 1-2-5 per decade and thins long ranges", () => {
    expect(logTicks(0.1, 10)).toEqual([0.1, 0.2, 0.5, 1, 2, 5, 10]);
    expect(logTicks(1e-3, 1e3)).toEqual([0.001, 0.01, 0.1, 1, 10, 100, 1000]);
    expect(logTicks(-1, 1)).toEqual(niceTicks(-1, 1));
  });

  it("formats ticks briefly", () => {
    expect(formatTick(0)).toBe("0");
    expect(formatTick(0.5)).toBe("0.5");
    // plain numbers up to a million (a log colour bar reads 10000, not 1.0e+4)
    expect(formatTick(10000)).toBe("10000");
    expect(formatTick(12345)).toBe("12350");
    expect(formatTick(2e6)).toBe("2.0e+6");
    expect(formatTick(2e-4)).toBe("2.0e-4");
    expect(formatTick(1 / 3)).toBe("0.3333");
  });
});

describe("layout", () => {
  it("cell extents reach half a cell past the centres", () => {
    expect(cellExtent(-1, 1, 5)).toEqual([-1.25, 1.25]);
    expect(cellExtent(3, 3, 1)).toEqual([2.5, 3.5]);
  });

  it("scale maps ends to ends, flipped when asked", () => {
    const s = scale(-1, 1, 300, 100);
    expect(s(-1)).toBe(300);
    expect(s(1)).toBe(100);
    expect(s(0)).toBe(200);
  });

  it("plotBox leaves room for the colour bar", () => {
    const b = plotBox(560, 440);
    expect(b.x0).toBeLessThan(b.x1);
    expect(560 - b.x1).toBeGreaterThan(60);
  });
});
