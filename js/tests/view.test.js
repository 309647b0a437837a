import { describe, expect, it } from "vitest";
import { bezier, panView, pathPolyline, pick, transform, zoomView } from "../src/view.js";

const box = { x0: 50, y0: 30, x1: 450, y1: 330 }; // 400 x 300 pixels

describe("transform", () => {
  it("maps the window's corners to the box's corners, y upwards", () => {
    const tf = transform(box, [-1, 1, 0, 3]);
    expect([tf.px(-1), tf.py(0)]).toEqual([50, 330]);
    expect([tf.px(1), tf.py(3)]).toEqual([450, 30]);
    expect(tf.fx(tf.px(0.37))).toBeCloseTo(0.37, 12);
    expect(tf.fy(tf.py(2.5))).toBeCloseTo(2.5, 12);
  });
});

describe("pan and zoom", () => {
  it("pan shifts both ends", () => {
    expect(panView([0, 1, 2, 4], 0.5, -1)).toEqual([0.5, 1.5, 1, 3]);
  });

  it("zoom keeps the point under the cursor fixed and scales the width", () => {
    const view = [-2, 2, -1, 1];
    const tf = transform(box, view);
    const [u, v] = [300, 100];
    const cx = tf.fx(u);
    const cy = tf.fy(v);
    const z = zoomView(view, cx, cy, 0.5);
    expect(z[1] - z[0]).toBeCloseTo(2, 12);
    expect(z[3] - z[2]).toBeCloseTo(1, 12);
    const tz = transform(box, z);
    expect(tz.px(cx)).toBeCloseTo(u, 9);
    expect(tz.py(cy)).toBeCloseTo(v, 9);
  });
});

describe("pick", () => {
  const tf = transform(box, [0, 1, 0, 1]);
  const points = [
    { name: "w1", x: 0.5, y: 0.5, role: "anchor" },
    { name: "probe", x: 0.51, y: 0.5, role: "probe" },
    { name: "end", x: 0.9, y: 0.1, role: "path" },
  ];
  it("finds the nearest draggable point within the radius, never an anchor", () => {
    expect(pick(points, tf, tf.px(0.5), tf.py(0.5))).toBe("probe");
    expect(pick(points, tf, tf.px(0.9) + 3, tf.py(0.1) - 3)).toBe("end");
    expect(pick(points, tf, tf.px(0.2), tf.py(0.2))).toBeNull();
    expect(pick([points[0]], tf, tf.px(0.5), tf.py(0.5))).toBeNull();
  });
});

describe("paths", () => {
  it("a quadratic Bezier curve matches its closed form", () => {
    const ctrl = [[0, 0], [1, 2], [2, 0]];
    const pts = bezier(ctrl, 5);
    pts.forEach(([x, y], k) => {
      const t = k / 4;
      expect(x).toBeCloseTo(2 * t, 12);
      expect(y).toBeCloseTo(4 * t * (1 - t), 12);
    });
  });

  it("segments and polylines go through their points; missing points give nothing", () => {
    const where = new Map([
      ["a", { x: 0, y: 0 }],
      ["b", { x: 1, y: 1 }],
    ]);
    expect(pathPolyline({ kind: "segment", points: ["a", "b"] }, where)).toEqual([[0, 0], [1, 1]]);
    expect(pathPolyline({ kind: "segment", points: ["a", "zz"] }, where)).toEqual([]);
    const curve = pathPolyline({ kind: "bezier", points: ["a", "b", "a"] }, where, 3);
    expect(curve[1]).toEqual([0.5, 0.5]);
  });
});

describe("equal aspect", () => {
  it("widens the narrow side so a unit is as long on both axes", async () => {
    const { equalAspect, transform } = await import("../src/view.js");
    const box = { x0: 0, y0: 0, x1: 400, y1: 200 };
    const v = equalAspect([-1, 1, -1, 1], box);
    expect(v).toEqual([-2, 2, -1, 1]);
    const tf = transform(box, v);
    expect(tf.px(1) - tf.px(0)).toBeCloseTo(tf.py(0) - tf.py(1));
    // a window already of the box's shape is kept
    expect(equalAspect([0, 4, 0, 2], box)).toEqual([0, 4, 0, 2]);
  });
});

describe("an equal-aspect box", () => {
  it("narrows the plot to the window's shape, centred", async () => {
    const { equalBox, transform } = await import("../src/view.js");
    const box = { x0: 0, y0: 0, x1: 400, y1: 200 };
    const b = equalBox(box, [-1, 1, -1, 1]);
    expect(b).toEqual({ x0: 100, y0: 0, x1: 300, y1: 200 });
    const tf = transform(b, [-1, 1, -1, 1]);
    expect(tf.px(1) - tf.px(0)).toBeCloseTo(tf.py(0) - tf.py(1));
    expect(equalBox(box, [0, 4, 0, 2])).toEqual(box);
  });
});
