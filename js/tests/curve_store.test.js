import { describe, expect, it } from "vitest";
import { canvasSizes } from "../src/curve/layout.js";
import { FrameStore } from "../src/curve/store.js";

function arr(values, shape = [values.length]) {
  return { dtype: "float32", shape, buffer: new DataView(new Float32Array(values).buffer) };
}

function frame(step, loss, profile = [1, 2, 1]) {
  return { step, loss, grid: arr([1, 2, 3, 4], [2, 2]), curve: arr([0, 0, 1, 0], [2, 2]), profile: arr(profile) };
}

describe("the frame store", () => {
  it("loads the trait's frames, numbering each decoded frame for the map's cache", () => {
    const store = new FrameStore();
    store.load([frame(0, null), frame(10, 2)]);
    expect(store.frames.map((f) => f.step)).toEqual([0, 10]);
    expect(store.frames.map((f) => f.version)).toEqual([1, 2]);
    store.load([frame(0, null)]);
    expect(store.frames[0].version).toBe(3);
  });

  it("keeps its frames when the trait's cannot be read", () => {
    const store = new FrameStore();
    store.load([frame(0, null)]);
    expect(() => store.load([{ ...frame(10, 1), grid: arr([1], [2, 2]) }])).toThrow(/"grid"/);
    expect(store.frames).toHaveLength(1);
  });

  it("takes a message's frame from its buffers, appended or replacing one", () => {
    const store = new FrameStore();
    store.load([frame(0, null)]);
    const buffers = [new DataView(new Float32Array([5]).buffer)];
    const raw = { step: 20, loss: 1, grid: { dtype: "float32", shape: [1, 1], buffer: 0 } };
    expect(store.receive(1, raw, buffers)).toBe(true);
    expect(store.frames[1].grid.data[0]).toBe(5);
    expect(store.receive(5, raw, buffers)).toBe(false);
    expect(store.frames).toHaveLength(2);
  });

  it("holds the straight segment, empty before it is computed", () => {
    const store = new FrameStore();
    expect(store.straight.profile.length).toBe(0);
    store.loadStraight({ profile: arr([1, 3, 1]), barrier: 2 });
    expect([...store.straight.profile]).toEqual([1, 3, 1]);
    expect(store.straight.barrier).toBe(2);
  });

  it("keeps the plots' axes until the frames or the scale change", () => {
    const store = new FrameStore();
    store.load([frame(0, null, [1, 2, 1]), frame(10, 2, [1, 4, 1])]);
    const axes = store.axes(false);
    expect(store.axes(false)).toBe(axes);
    expect(axes.profile.lo).toBeLessThan(1);
    expect(axes.profile.hi).toBeGreaterThan(4);
    expect(axes.loss.log).toBe(true);
    expect(store.axes(true)).not.toBe(axes);
    store.receive(2, frame(20, 1, [1, 8, 1]), []);
    expect(store.axes(true).profile.hi).toBeGreaterThan(8);
  });
});

describe("the curve widget's canvas sizes", () => {
  it("share the width between the map and the plots, which split the height", () => {
    const s = canvasSizes(900, 480);
    expect(s.mapW).toBe(495);
    expect(s.width).toBe(900);
    expect(s.plotH).toBe(Math.floor((s.topH - 8) / 2));
  });

  it("keep a least size for each part", () => {
    const s = canvasSizes(100, 100);
    expect([s.mapW, s.sideW, s.topH]).toEqual([260, 180, 200]);
  });
});
