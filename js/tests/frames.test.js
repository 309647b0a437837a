import { describe, expect, it } from "vitest";
import {
  applyFrame,
  controlNames,
  curveName,
  decodeFrame,
  decodeStraight,
  fitText,
  formatEpoch,
  frameNotes,
  formatValue,
  leavesPlane,
  lossSeries,
  provisionalCurve,
  statusLine,
  stepRange,
  valueAt,
  withBarrier,
} from "../src/frames.js";

// An array as the trait holds it: {dtype, shape, buffer} with a DataView.
function arr(values, shape = [values.length]) {
  return { dtype: "float32", shape, buffer: new DataView(new Float32Array(values).buffer) };
}

// An array of a message: its buffer is an index into the message's buffers.
function ref(index, shape) {
  return { dtype: "float32", shape, buffer: index };
}

const bytes = (values) => new DataView(new Float32Array(values).buffer);

// A frame as the trait holds it.
function traitFrame(overrides = {}) {
  return {
    step: 40,
    epoch: 2.5,
    loss: 0.25,
    grid: arr([1, 2, 3, 4, 5, 6], [2, 3]),
    x_range: [-1, 2],
    y_range: [-0.5, 1.5],
    w1: [0, 0],
    w2: [1, 0],
    controls: [[0.5, 0.8]],
    curve: arr([0, 0, 0.5, 0.4, 1, 0], [3, 2]),
    profile: arr([0.1, 0.3, 0.1]),
    barrier: 0.2,
    off_plane: 0,
    hires: false,
    ...overrides,
  };
}

describe("decodeFrame", () => {
  it("decodes a frame from the trait, where buffers are DataViews", () => {
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

  it("takes the arrays of a message from its buffers, in any order", () => {
    const buffers = [bytes([9, 8, 7, 6]), bytes([0.5, 0.6]), bytes([0, 0, 1, 1])];
    const raw = traitFrame({ grid: ref(1, [1, 2]), curve: ref(2, [2, 2]), profile: ref(0, [4]) });
    const f = decodeFrame(raw, buffers, 1);
    expect(f.grid.shape).toEqual([1, 2]);
    expect([...f.grid.data]).toEqual([Math.fround(0.5), Math.fround(0.6)]);
    expect([...f.curve]).toEqual([0, 0, 1, 1]);
    expect([...f.profile]).toEqual([9, 8, 7, 6]);
  });

  it("reads the index 0 as a buffer, not as a missing field", () => {
    const buffers = [bytes([3]), bytes([0, 0, 1, 1])];
    const f = decodeFrame(traitFrame({ grid: ref(0, [1, 1]), curve: ref(1, [2, 2]), profile: ref(0, [1]) }), buffers);
    expect(f.grid.data[0]).toBe(3);
    expect(f.profile[0]).toBe(3);
  });

  it("names the field of an index past the message's buffers and of a grid of the wrong size", () => {
    expect(() => decodeFrame(traitFrame({ grid: ref(3, [1, 1]) }), [bytes([1])])).toThrow(/"grid".*buffer 3/);
    expect(() => decodeFrame(traitFrame({ grid: arr([1, 2, 3, 4, 5, 6], [3, 3]) }))).toThrow(/"grid".*bytes/);
  });

  it("draws an empty grid, curve and profile when the frame has none", () => {
    const f = decodeFrame(traitFrame({ grid: null, curve: undefined, profile: null }));
    expect(f.grid.shape).toEqual([0, 0]);
    expect(f.curve.length).toBe(0);
    expect(f.profile.length).toBe(0);
  });

  it("takes a missing loss or barrier (the first frame) as null", () => {
    const f = decodeFrame(traitFrame({ loss: null, barrier: null }));
    expect(f.loss).toBeNull();
    expect(f.barrier).toBeNull();
  });

  it("rejects a curve with an odd number of coordinates", () => {
    expect(() => decodeFrame(traitFrame({ curve: arr([0, 1, 2]) }))).toThrow(/odd/);
  });
});

describe("decodeStraight", () => {
  it("is empty before the segment is computed", () => {
    const s = decodeStraight({});
    expect(s.profile.length).toBe(0);
    expect(s.barrier).toBeNull();
  });

  it("decodes the profile and keeps the barrier", () => {
    const s = decodeStraight({ profile: arr([1, 2, 1]), barrier: 1 });
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

describe("the status line", () => {
  it("says what training is doing, how far it got and how far it will go", () => {
    expect(statusLine("preparing", 0, 100)).toBe("preparing…");
    expect(statusLine("ready", 0, 100)).toBe("ready · 100 steps planned");
    expect(statusLine("ready", 0, 0)).toBe("ready");
    expect(statusLine("training", 0.456, 100)).toBe("training · 46% of 100 steps");
    expect(statusLine("finished", 1, 0)).toBe("finished · 100%");
    expect(statusLine("error: ValueError: bad", 0.5, 100)).toBe("error: ValueError: bad");
  });
});

describe("the notes on a frame", () => {
  const frame = { w1: [0, 0], w2: [1, 0], controls: [[0.5, 1]], offPlane: 0, hires: false };
  it("invite a drag while the curve is editable", () => {
    expect(frameNotes(frame, true)).toBe("drag theta to bend the curve before training");
    expect(frameNotes({ ...frame, controls: [[0, 1], [1, 1]] }, true)).toMatch(/^drag a control point/);
    expect(frameNotes(frame, false)).toBe("");
    expect(frameNotes(null, true)).toBe("");
  });
  it("say when the frame is sharp and when the curve leaves its plane", () => {
    expect(frameNotes({ ...frame, hires: true, offPlane: 0.5 }, false)).toBe(
      "high-resolution frame · the curve leaves this plane (by up to 0.5)",
    );
  });
});
