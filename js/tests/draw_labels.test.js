import { describe, expect, it } from "vitest";
import { drawMap, GridCache } from "../src/draw.js";

// A stand-in 2D context: it records the text written and measures 6 pixels a character.
function fakeContext() {
  const texts = [];
  const ctx = new Proxy(
    {},
    {
      get(target, key) {
        if (key in target) return target[key];
        if (key === "measureText") return (t) => ({ width: 6 * t.length });
        if (key === "fillText") return (t, x, y) => texts.push({ text: t, x, y, font: target.font });
        return () => {};
      },
      set(target, key, value) {
        target[key] = value;
        return true;
      },
    },
  );
  return { ctx, texts };
}

const run = (name, label, xy) => ({
  name,
  label,
  color: "#e6194b",
  xyData: Float32Array.from(xy.flat()),
  stepsData: Float32Array.from(xy.map((_, k) => k)),
});

// two runs that end near each other, and a probe beside their ends
const state = {
  grid: { data: new Float32Array(0), shape: [0, 0] },
  gridVersion: 0,
  xRange: [-1, 1],
  yRange: [-1, 1],
  view: [-1, 1, -1, 1],
  metric: "loss",
  points: [{ name: "p", label: "probe", x: 0.5, y: 0.05, role: "probe" }],
  paths: [],
  overlays: [
    run("a", "drag me: sgd", [[-0.8, -0.8], [0, -0.2], [0.4, 0]]),
    run("b", "drag me: momentum (off-plane ≤ 0.01)", [[-0.8, 0.8], [0, 0.3], [0.42, 0.02]]),
    { name: "line", label: "line", color: "#222", xyData: Float32Array.from([-1, 0.5, 1, 0.5]) },
  ],
  playerStep: null,
  colormap: "viridis",
  log: false,
  contours: 0,
  width: 560,
  height: 440,
  status: "idle",
  title: "",
};

describe("the map's labels", () => {
  it("label each run's end with its short label, and its points", () => {
    const { ctx, texts } = fakeContext();
    const drawn = drawMap(ctx, state, new GridCache());
    const written = texts.map((t) => t.text);
    for (const text of ["sgd", "momentum", "probe"]) expect(written).toContain(text);
    expect(drawn.labels.length).toBe(3);
    // each end label sits next to its run's head
    for (const [text, [x, y]] of [["sgd", [0.4, 0]], ["momentum", [0.42, 0.02]]]) {
      const at = texts.find((t) => t.text === text);
      const hx = drawn.tf.px(x);
      const hy = drawn.tf.py(y);
      expect(Math.hypot(at.x - hx, at.y - hy)).toBeLessThan(6 * text.length + 60);
      // and off every head: the box's nearest point to the marker's centre is past its ring
      for (const b of drawn.labels) {
        const nx = Math.min(Math.max(hx, b[0]), b[2]);
        const ny = Math.min(Math.max(hy, b[1]), b[3]);
        expect(Math.hypot(hx - nx, hy - ny)).toBeGreaterThan(4.5);
      }
    }
  });

  it("follow a run's head while it is replayed", () => {
    const { ctx, texts } = fakeContext();
    const drawn = drawMap(ctx, { ...state, playerStep: 1 }, new GridCache());
    const at = texts.find((t) => t.text === "sgd");
    expect(Math.abs(at.x - drawn.tf.px(0))).toBeLessThan(80);
    expect(Math.abs(at.y - drawn.tf.py(-0.2))).toBeLessThan(50);
  });
});
