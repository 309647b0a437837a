import { describe, expect, it } from "vitest";
import { CLASS_COLORS, regionColor } from "../src/predictions.js";

describe("decision-region colours", () => {
  it("sure predictions are strong, unsure ones washed out towards white", () => {
    const sure = regionColor(0, 1, 2);
    const unsure = regionColor(0, 0.5, 2);
    const dist = (c) => Math.hypot(...c.map((v) => 255 - v));
    expect(dist(sure)).toBeGreaterThan(2 * dist(unsure));
    expect(unsure.every((v) => v > 150)).toBe(true);
  });

  it("each class keeps its hue, and classes wrap round the palette", () => {
    const c = regionColor(3, 1, 4);
    const base = CLASS_COLORS[3];
    // a mix with white keeps the ordering of the channels
    expect(Math.sign(c[0] - c[1])).toBe(Math.sign(base[0] - base[1]));
    expect(regionColor(13, 0.9, 20)).toEqual(regionColor(3, 0.9, 20));
  });
});
