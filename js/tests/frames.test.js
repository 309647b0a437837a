import { describe, expect, it } from "vitest";
import {
  applyFrame,
  controlNames,
  curveName,
  decodeFrame,
  decodeStraight,
  fitText,
  formatEpoch,
  formatValue,
  leavesPlane,
  lossSeries,
  provisionalCurve,
  stepRange,
  valueAt,
  withBarrier,
} from "../src/frames.js";

function f32(values) {
  return new DataView(new Float32Array(values).buffer);
}

// A frame as the trait holds it: bytes fields are DataViews.
function traitFrame(overrides = {}) {
  return {
    step: 40,
    epoch: 2.5,
    loss: 0.25,
    grid: f32([1, 2, 3, 4, 5, 6]),
    shape: [2, 3],
    x_range: [-1, 2],
    y_range: [-0.5, 1.5],
    w1: [0, 0],
    w2: [1, 0],
    controls: [[0.5, 0.8]],
    curve: f32([0, 0, 0.5, 0.4, 1, 0]),
    profile: f32([0.1, 0.3, 0.1]),
    barrier: 0.2,
    off_plane: 0,
    hires: false,
    ...overrides,
  };
}

describe("decodeFrame", () => {
  it("decodes a frame from the trait, where bytes are DataViews", () => {
    const f = decodeFrame(traitFrame(), null, 7);
    expect(f.version).toBe(7);
    expect(f.grid.shape).toEqual([2, 3]);
    expect([...f.grid.data]).toEqual([1, 2, 3, 4, 5, 6]);
    expect([...f.curve]).toEqual([0, 0, 0.5, Math.fround(0.4), 1, 0]);
    expect(f.profile.length).toBe(3);
    expect(f.xRange).toEqual([-1, 2]);
    expect(f.controls).toEqual([[0.5, 0.8]]);
    expect(f.loss).toBe(0.25);
    expect(f.barrier).toBe(0.2);
    expect(f.hires).toBe(false);
  });

  it("substitutes buffer indices from a message, in any order", () => {
    const buffers = [f32([9, 8, 7, 6]), f32([0.5, 0.6]), f32([0, 0, 1, 1])];
    const raw = traitFrame({ grid: 1, shape: [1, 2], curve: 2, profile: 0 });
    const f = decodeFrame(raw, buffers, 1);
    expect([...f.grid.data]).toEqual([Math.fround(0.5), Math.fround(0.6)]);
    expect([...f.curve]).toEqual([0, 0, 1, 1]);
    expect([...f.profile]).toEqual([9, 8, 7, 6]);
  });

  it("reads the index 0 as a buffer, not as a missing field", () => {
    const buffers = [f32([3]), f32([0, 0, 1, 1])];
    const f = decodeFrame(traitFrame({ grid: 0, shape: [1, 1], curve: 1, profile: 0 }), buffers);
    expect(f.grid.data[0]).toBe(3);
    expect(f.profile[0]).toBe(3);
  });

  it("rejects an index past the message's buffers and a grid of the wrong size", () => {
    expect(() => decodeFrame(traitFrame({ grid: 3 }), [f32([1])])).toThrow(/buffer 3/);
    expect(() => decodeFrame(traitFrame({ shape: [3, 3] }))).toThrow(/bytes/);
  });

  it("takes a missing loss or barrier (the first frame) as null", () => {
    const f = decodeFrame(traitFrame({ loss: null, barrier: null }));
    expect(f.loss).toBeNull();
    expect(f.barrier).toBeNull();
  });

  it("rejects a curve with an odd number of coordinates", () => {
    expect(() => decodeFrame(traitFrame({ curve: f32([0, 1, 2]) }))).toThrow(/odd/);
  });
});

describe("decodeStraight", () => {
  it("is empty before the segment is computed", () => {
    const s = decodeStraight({});
    expect(s.profile.length).toBe(0);
    expect(s.barrier).toBeNull();
  });

  it("decodes the profile and keeps the barrier", () => {
    const s = decodeStraight({ profile: f32([1, 2, 1]), barrier: 1 });
    expect([...s.profile]).toEqual([1, 2, 1]);
    expect(s.barrier).toBe(1);
  });
});

describe("applyFrame", () => {
  it("appends at the end and replaces inside, without touching the old list", () => {
    const list = ["a", "b"];
    const appended = applyFrame(list, 2, "c");
    expect(appended).toEqual({ frames: ["a", "b", "c"], changed: true });
    const replaced = applyFrame(list, 0, "z");
    expect(replaced.frames).toEqual(["z", "b"]);
    expect(list).toEqual(["a", "b"]);
  });

  it("ignores an index that would leave a hole", () => {
    const list = ["a"];
    expect(applyFrame(list, 3, "x")).toEqual({ frames: list, changed: false });
    expect(applyFrame(list, -1, "x").changed).toBe(false);
  });
});

describe("curve geometry", () => {
  it("a provisional quadratic Bezier passes through the ends and its midpoint", () => {
    const xy = provisionalCurve("bezier", [0, 0], [[1, 2]], [2, 0], 5);
    expect(xy.length).toBe(10);
    // B(t) = (1-t)^2 w1 + 2t(1-t) theta + t^2 w2: at t = 1/2, (1, 1)
    expect([xy[0], xy[1]]).toEqual([0, 0]);
    expect([xy[4], xy[5]]).toEqual([1, 1]);
    expect([xy[8], xy[9]]).toEqual([2, 0]);
  });

  it("a provisional polygonal chain is the corners", () => {
    const xy = provisionalCurve("polychain", [0, 0], [[1, 2], [3, 2]], [4, 0]);
    expect([...xy]).toEqual([0, 0, 1, 2, 3, 2, 4, 0]);
  });

  it("names the control points theta, or theta1, theta2, ... when there are several", () => {
    expect(controlNames(1)).toEqual(["theta"]);
    expect(controlNames(3)).toEqual(["theta1", "theta2", "theta3"]);
  });
});

describe("labels", () => {
  it("names curves by degree or bends", () => {
    expect(curveName("bezier", 1)).toBe("quadratic Bezier");
    expect(curveName("bezier", 2)).toBe("cubic Bezier");
    expect(curveName("bezier", 4)).toBe("Bezier curve of degree 5");
    expect(curveName("polychain", 1)).toBe("polygonal chain");
    expect(curveName("polychain", 3)).toBe("polygonal chain (3 bends)");
  });

  it("formats barriers with three significant digits", () => {
    expect(formatValue(0.0123456)).toBe("0.0123");
    expect(formatValue(0.41)).toBe("0.41");
    expect(formatValue(0)).toBe("0");
    expect(formatValue(2.5e-5)).toBe("2.50e-5");
    expect(withBarrier("segment", 0.41)).toBe("segment (barrier 0.41)");
    expect(withBarrier("segment", null)).toBe("segment");
  });

  it("formats epochs", () => {
    expect(formatEpoch(30)).toBe("30.0");
    expect(formatEpoch(0.25)).toBe("0.25");
  });
});

describe("valueAt", () => {
  // 2 rows x 3 columns; cells 1 wide, x from 0 to 3, y from 0 to 2
  const grid = { data: Float32Array.from([1, 2, 3, 4, 5, 6]), shape: [2, 3] };
  it("finds the cell under a point, row 0 at the bottom", () => {
    expect(valueAt(grid, [0, 3, 0, 2], 0.5, 0.5)).toBe(1);
    expect(valueAt(grid, [0, 3, 0, 2], 2.9, 1.1)).toBe(6);
    expect(valueAt(grid, [0, 3, 0, 2], 3.1, 1)).toBeUndefined();
    expect(valueAt({ data: new Float32Array(0), shape: [0, 0] }, [0, 1, 0, 1], 0.5, 0.5)).toBeUndefined();
  });
});

describe("training loss series", () => {
  const frames = [
    { step: 0, loss: null },
    { step: 10, loss: 2 },
    { step: 20, loss: 1 },
    { step: 30, loss: 0.5 },
  ];
  it("runs up to the shown frame and skips frames without a loss", () => {
    expect(lossSeries(frames, 2)).toEqual({ xs: [10, 20], ys: [2, 1] });
    expect(lossSeries(frames, 0)).toEqual({ xs: [], ys: [] });
    expect(lossSeries(frames, 99).xs).toEqual([10, 20, 30]);
  });

  it("the steps axis spans the planned steps, or more when training went past them", () => {
    expect(stepRange(frames, 100)).toEqual([0, 100]);
    expect(stepRange(frames, 0)).toEqual([0, 30]);
    expect(stepRange([], 0)).toEqual([0, 1]);
    expect(stepRange([{ step: 0, loss: null }], 0)).toEqual([0, 1]);
  });
});

describe("fitText", () => {
  it("takes the longest candidate that fits, else the shortest", () => {
    const measure = (t) => 7 * t.length;
    const c = ["quadratic Bezier · step 40 · epoch 2.00", "step 40 · epoch 2.00", "step 40"];
    expect(fitText(c, 1000, measure)).toBe(c[0]);
    expect(fitText(c, 7 * 20, measure)).toBe(c[1]);
    expect(fitText(c, 10, measure)).toBe(c[2]);
  });
});

describe("leavesPlane", () => {
  it("ignores rounding, relative to the distance between the ends", () => {
    const at = (offPlane) => ({ w1: [0, 0], w2: [20, 0], offPlane });
    expect(leavesPlane(at(0))).toBe(false);
    expect(leavesPlane(at(1.3e-6))).toBe(false);
    expect(leavesPlane(at(0.05))).toBe(true);
  });
});
