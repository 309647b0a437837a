import { describe, expect, it } from "vitest";
import { colorRange, decodeOverlays, readMapState, readout, shortName, statusText } from "../src/map/state.js";
import { transform } from "../src/view.js";

function arr(values, shape = [values.length]) {
  return { dtype: "float32", shape, buffer: new DataView(new Float32Array(values).buffer) };
}

/** A model of the map widget holding `traits`. */
function model(traits) {
  return { get: (name) => traits[name] };
}

const local = { gridVersion: 3, overlays: [], playerStep: null, points: null, view: null, dragging: null };

describe("overlays", () => {
  it("decode their points and, for trajectories, their steps", () => {
    const [path, run] = decodeOverlays([
      { name: "segment", xy: arr([0, 0, 1, 1], [2, 2]), color: "#222" },
      { name: "sgd", xy: arr([0, 0, 1, 1, 2, 2], [3, 2]), steps: arr([0, 10, 20]) },
    ]);
    expect(path.name).toBe("segment");
    expect([...path.xyData]).toEqual([0, 0, 1, 1]);
    expect(path.stepsData).toBeNull();
    expect([...run.stepsData]).toEqual([0, 10, 20]);
    expect(decodeOverlays(undefined)).toEqual([]);
  });
});

describe("the map's state", () => {
  it("decodes the grid with its shape", () => {
    const state = readMapState(model({ loss: arr([1, 2, 3, 4, 5, 6], [2, 3]), points: [], paths: [] }), local);
    expect(state.grid.shape).toEqual([2, 3]);
    expect([...state.grid.data]).toEqual([1, 2, 3, 4, 5, 6]);
    expect(state.gridVersion).toBe(3);
  });

  it("is empty before the first grid", () => {
    const state = readMapState(model({}), local);
    expect(state.grid.shape).toEqual([0, 0]);
    expect(state.points).toEqual([]);
    expect(state.paths).toEqual([]);
  });

  it("shows a gesture's points and window instead of the model's", () => {
    const m = model({ points: [{ name: "p", x: 0, y: 0 }], view: [0, 1, 0, 1] });
    const moved = [{ name: "p", x: 1, y: 1 }];
    const state = readMapState(m, { ...local, points: moved, view: [2, 3, 2, 3], dragging: "p" });
    expect(state.points).toBe(moved);
    expect(state.view).toEqual([2, 3, 2, 3]);
    expect(state.dragging).toBe("p");
  });
});

describe("scale and axes", () => {
  it("take a fixed colour range and the axis names from the model", () => {
    const state = readMapState(model({ color_range: [0.5, 2], xlabel: "w_a = 5.weight[5, 250]", ylabel: "" }), local);
    expect(state.range).toEqual({ min: 0.5, max: 2 });
    expect(state.xlabel).toBe("w_a = 5.weight[5, 250]");
    expect(state.ylabel).toBe("y");
    expect(readMapState(model({ color_range: [] }), local).range).toBeNull();
    expect(colorRange(undefined)).toBeNull();
  });

  it("shorten axis names for the read-out", () => {
    expect(shortName("w_a = 5.weight[5, 250]", "x")).toBe("w_a");
    expect(shortName("PC2 (8%)", "y")).toBe("PC2");
    expect(shortName("distance along w2 − w1", "x")).toBe("x");
    expect(shortName("", "y")).toBe("y");
  });
});

describe("the read-out", () => {
  // a 2 x 2 grid on [0, 1] x [0, 1]: cells half a unit wide, centred on 0 and 1
  const state = {
    grid: { data: Float32Array.from([1, 2, 3, NaN]), shape: [2, 2] },
    xRange: [0, 1],
    yRange: [0, 1],
    metric: "loss",
  };
  const box = { x0: 0, y0: 0, x1: 200, y1: 200 };
  const drawn = { box, tf: transform(box, [-0.5, 1.5, -0.5, 1.5]) };
  const hover = { accuracy: arr([0.5, 0.25, 1, 0.75], [2, 2]) };

  it("gives the point and every metric of the cell under the pointer", () => {
    expect(readout(state, drawn, hover, 50, 150)).toBe("x = 0.00, y = 0.00: loss 1.000, accuracy 50.0%");
    expect(readout(state, drawn, hover, 150, 50)).toBe("x = 1.00, y = 1.00: loss NaN, accuracy 75.0%");
    expect(readout(state, drawn, {}, 150, 150)).toBe("x = 1.00, y = 0.00: loss 2.000");
  });

  it("is empty outside the plot and before the first drawing", () => {
    expect(readout(state, drawn, hover, 250, 50)).toBe("");
    expect(readout(null, null, hover, 50, 50)).toBe("");
    const named = { ...state, xlabel: "PC1 (91%)", ylabel: "PC2 (6%)" };
    expect(readout(named, drawn, {}, 150, 150)).toBe("PC1 = 1.00, PC2 = 0.00: loss 2.000");
  });
});

describe("the status beside the controls", () => {
  it("shows progress while computing, nothing when idle, and background work after", () => {
    expect(statusText("computing", "", 0.424)).toEqual({ text: "computing… 42%", failed: false });
    expect(statusText("idle", "", 1)).toEqual({ text: "", failed: false });
    expect(statusText("done", "2 runs", 1)).toEqual({ text: "done · 2 runs", failed: false });
    expect(statusText("idle", "2 runs", 1)).toEqual({ text: "2 runs", failed: false });
  });

  it("is an error when the grid or the background work failed", () => {
    expect(statusText("error: boom", null, 0).failed).toBe(true);
    expect(statusText("done", "error: runs failed", 1).failed).toBe(true);
  });
});
