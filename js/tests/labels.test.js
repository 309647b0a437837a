import { describe, expect, it } from "vitest";
import { labelBox } from "../src/labels.js";

const box = { x0: 50, y0: 30, x1: 450, y1: 400 };
const inside = (b) => b[0] >= box.x0 && b[2] <= box.x1 && b[1] >= box.y0 && b[3] <= box.y1;
const disjoint = (a, b) => a[2] <= b[0] || b[2] <= a[0] || a[3] <= b[1] || b[3] <= a[1];

describe("point labels", () => {
  it("go right of the point, or left of it near the right edge", () => {
    const right = labelBox(200, 200, 5, 60, box, []);
    expect(right[0]).toBe(208);
    const near = labelBox(440, 200, 5, 60, box, []);
    expect(near[2]).toBeLessThanOrEqual(440 - 5);
    expect(inside(near)).toBe(true);
  });

  it("stay inside the top and bottom of the plot", () => {
    expect(inside(labelBox(200, 31, 5, 40, box, []))).toBe(true);
    expect(inside(labelBox(200, 399, 5, 40, box, []))).toBe(true);
  });

  it("move off each other, and give up when crowded", () => {
    const placed = [];
    for (let k = 0; k < 7; k++) {
      const b = labelBox(200 + k, 200, 5, 50, box, placed);
      if (b) placed.push(b);
    }
    expect(placed.length).toBe(5); // five heights to try at one spot
    for (let i = 0; i < placed.length; i++) {
      for (let j = 0; j < i; j++) expect(disjoint(placed[i], placed[j])).toBe(true);
    }
  });
});
