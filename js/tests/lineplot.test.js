import { describe, expect, it } from "vitest";
import {
  axisScale,
  axisTicks,
  drawLinePlot,
  evenT,
  extendRange,
  fixedAxis,
  lineBox,
  paddedRange,
} from "../src/lineplot.js";

describe("ranges", () => {
  it("extendRange widens to the finite values and never shrinks", () => {
    let r = extendRange(null, [2, NaN, 5, Infinity, null]);
    expect(r).toEqual({ min: 2, max: 5 });
    r = extendRange(r, [3, 4]);
    expect(r).toEqual({ min: 2, max: 5 });
    r = extendRange(r, [1, 9]);
    expect(r).toEqual({ min: 1, max: 9 });
    expect(extendRange(null, [NaN])).toBeNull();
  });

  it("for a log axis leaves out values that are not positive", () => {
    expect(extendRange(null, [-1, 0, 0.5, 2], true)).toEqual({ min: 0.5, max: 2 });
    expect(extendRange(null, [-1, 0], true)).toBeNull();
  });

  it("pads by a share of the span, in decades on a log axis", () => {
    expect(paddedRange({ min: 0, max: 10 }, false)).toEqual([-0.5, 10.5]);
    const [lo, hi] = paddedRange({ min: 0.01, max: 100 }, true, 0.05);
    expect(Math.log10(lo)).toBeCloseTo(-2.2, 9);
    expect(Math.log10(hi)).toBeCloseTo(2.2, 9);
  });

  it("opens a flat range", () => {
    expect(paddedRange({ min: 2, max: 2 }, false)).toEqual([1.8, 2.2]);
    expect(paddedRange({ min: 0, max: 0 }, false)).toEqual([-1, 1]);
    const [lo, hi] = paddedRange({ min: 1, max: 1 }, true);
    expect(lo).toBeLessThan(1);
    expect(hi).toBeGreaterThan(1);
  });

  it("fixedAxis covers every list, so later frames within it keep the axis", () => {
    const straight = [1, 3, 1];
    const first = [1, 2.5, 1];
    const a = fixedAxis([straight, first], false);
    const b = fixedAxis([straight, first, [1, 1.5, 1]], false);
    expect(b).toEqual(a);
    expect(a.lo).toBeLessThan(1);
    expect(a.hi).toBeGreaterThan(3);
    // a frame above the range widens it
    const c = fixedAxis([straight, first, [1, 4, 1]], false);
    expect(c.hi).toBeGreaterThan(4);
  });

  it("fixedAxis falls back to a linear axis when nothing is positive", () => {
    expect(fixedAxis([[0.1, 10]], true).log).toBe(true);
    expect(fixedAxis([[-1, 0]], true).log).toBe(false);
    expect(fixedAxis([[NaN], []], true)).toBeNull();
  });
});

describe("scales", () => {
  it("a log scale puts decades at equal distances and drops non-positive values", () => {
    const f = axisScale(1, 1000, 200, 20, true);
    expect(f(1)).toBeCloseTo(200, 9);
    expect(f(1000)).toBeCloseTo(20, 9);
    expect(f(10) - f(1)).toBeCloseTo(f(100) - f(10), 9);
    expect(f(0)).toBeNaN();
  });

  it("a linear scale maps ends to ends", () => {
    const f = axisScale(-1, 1, 0, 100, false);
    expect(f(0)).toBe(50);
  });

  it("ticks lie within the axis", () => {
    for (const t of axisTicks(0.02, 30, true)) {
      expect(t).toBeGreaterThanOrEqual(0.02);
      expect(t).toBeLessThanOrEqual(30);
    }
    expect(axisTicks(0, 1, false, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
  });

  it("evenT spaces n points from 0 to 1", () => {
    expect([...evenT(5)]).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect([...evenT(1)]).toEqual([0]);
  });
});

// A 2D context that records what is drawn; enough of the API for drawLinePlot.
function recordingContext() {
  const calls = [];
  const clips = [];
  let pendingRect = null;
  const ctx = {
    calls,
    clips,
    save() {},
    restore() {},
    fillRect() {},
    strokeRect() {},
    beginPath() {
      pendingRect = null;
    },
    rect(x, y, w, h) {
      pendingRect = [x, y, w, h];
    },
    clip() {
      clips.push(pendingRect);
    },
    moveTo(x, y) {
      calls.push(["moveTo", x, y, this.strokeStyle]);
    },
    lineTo(x, y) {
      calls.push(["lineTo", x, y, this.strokeStyle]);
    },
    arc(x, y) {
      calls.push(["arc", x, y]);
    },
    stroke() {},
    fill() {},
    fillText(text, x, y) {
      calls.push(["text", text, x, y]);
    },
    measureText: (t) => ({ width: 6 * t.length }),
    setLineDash() {},
  };
  return ctx;
}

describe("drawLinePlot", () => {
  it("draws the series inside the plot box at the scaled positions", () => {
    const ctx = recordingContext();
    const y = fixedAxis([[1, 4]], false);
    const got = drawLinePlot(ctx, {
      width: 300,
      height: 200,
      title: "loss along the curve",
      xLabel: "t",
      x: [0, 1],
      y,
      series: [{ xs: [0, 0.5, 1], ys: [1, NaN, 4], color: "#f00" }],
      legend: [{ label: "curve (barrier 0.1)", color: "#00f" }],
    });
    const box = lineBox(300, 200);
    expect(got.box).toEqual(box);
    const line = ctx.calls.filter((c) => c[3] === "#f00" && (c[0] === "moveTo" || c[0] === "lineTo"));
    // a NaN breaks the line: two separate moves, no segment between them
    expect(line.map((c) => c[0])).toEqual(["moveTo", "moveTo"]);
    expect(line[0][1]).toBeCloseTo(box.x0, 9);
    expect(line[1][1]).toBeCloseTo(box.x1, 9);
    // the larger value is higher up, and both inside the box
    expect(line[1][2]).toBeLessThan(line[0][2]);
    for (const c of line) {
      expect(c[2]).toBeGreaterThan(box.y0);
      expect(c[2]).toBeLessThan(box.y1);
    }
    expect(ctx.clips[0]).toEqual([box.x0, box.y0, box.x1 - box.x0, box.y1 - box.y0]);
    const texts = ctx.calls.filter((c) => c[0] === "text").map((c) => c[1]);
    expect(texts).toContain("loss along the curve");
    expect(texts).toContain("curve (barrier 0.1)");
  });

  it("shows a message and no ticks when there is nothing to draw", () => {
    const ctx = recordingContext();
    const plot = { width: 300, height: 200, x: [0, 1], y: null, series: [], empty: "no training yet" };
    const got = drawLinePlot(ctx, plot);
    expect(got.fy).toBeUndefined();
    const texts = ctx.calls.filter((c) => c[0] === "text").map((c) => c[1]);
    expect(texts).toContain("no training yet");
  });

  it("keeps every text inside the canvas", () => {
    const ctx = recordingContext();
    drawLinePlot(ctx, {
      width: 260,
      height: 160,
      title: "training loss",
      xLabel: "step",
      x: [0, 12000],
      y: fixedAxis([[0.05, 2.3]], true),
      series: [{ xs: [100, 6000, 12000], ys: [2.3, 0.3, 0.05] }],
      markers: [{ x: 6000, y: 0.3 }],
    });
    for (const [kind, , x, y] of ctx.calls) {
      if (kind !== "text") continue;
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThanOrEqual(260);
      expect(y).toBeGreaterThanOrEqual(0);
      expect(y).toBeLessThanOrEqual(160);
    }
  });
});

