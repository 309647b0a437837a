import { describe, expect, it } from "vitest";
import {
  LINE_PAD,
  MARKER_PAD,
  boxHitsSegment,
  labelBox,
  placeLabels,
  polylineSegments,
  runLabel,
} from "../src/labels.js";

const box = { x0: 50, y0: 30, x1: 450, y1: 400 };
const inside = (b) => b[0] >= box.x0 && b[2] <= box.x1 && b[1] >= box.y0 && b[3] <= box.y1;
const disjoint = (a, b) => a[2] <= b[0] || b[2] <= a[0] || a[3] <= b[1] || b[3] <= a[1];

// The independent checks: a box meets a segment when their bounding boxes
// overlap and the box's corners are not all strictly on one side of the
// segment's line (separating axes); a box meets a disc when the disc's centre
// is within r of the box's nearest point.
function meetsSegment(b, [xa, ya, xb, yb], pad) {
  const [x0, y0, x1, y1] = [b[0] - pad, b[1] - pad, b[2] + pad, b[3] + pad];
  if (Math.max(xa, xb) <= x0 || Math.min(xa, xb) >= x1) return false;
  if (Math.max(ya, yb) <= y0 || Math.min(ya, yb) >= y1) return false;
  const side = (x, y) => Math.sign((xb - xa) * (y - ya) - (yb - ya) * (x - xa));
  const sides = [side(x0, y0), side(x1, y0), side(x0, y1), side(x1, y1)];
  return !(sides.every((s) => s > 0) || sides.every((s) => s < 0));
}
function meetsDisc(b, [cx, cy, r], pad) {
  const nx = Math.min(Math.max(cx, b[0] - pad), b[2] + pad);
  const ny = Math.min(Math.max(cy, b[1] - pad), b[3] + pad);
  return Math.hypot(cx - nx, cy - ny) < r;
}

/** Every placed box inside the plot, apart from the others, off every marker and line. */
function expectClear(spots, { markers, segments }) {
  const placed = spots.filter(Boolean);
  placed.forEach((b, i) => {
    expect(inside(b), `inside: ${b}`).toBe(true);
    for (const q of placed.slice(0, i)) expect(disjoint(b, q), `${b} on ${q}`).toBe(true);
    for (const m of markers) expect(meetsDisc(b, m, MARKER_PAD), `${b} on marker ${m}`).toBe(false);
    for (const s of segments) expect(meetsSegment(b, s, LINE_PAD), `${b} on line ${s}`).toBe(false);
  });
}

// a random scene: points, and a few polylines between some of them
function scene(seed, nPoints, nLines) {
  let s = seed;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const items = Array.from({ length: nPoints }, () => ({
    x: 60 + rand() * 380,
    y: 40 + rand() * 350,
    r: 5,
    w: 30 + rand() * 40,
  }));
  const segments = [];
  for (let k = 0; k < nLines; k++) {
    const pts = [[60 + rand() * 380, 40 + rand() * 350]];
    for (let j = 0; j < 6; j++) pts.push([pts[j][0] + (rand() - 0.5) * 160, pts[j][1] + (rand() - 0.5) * 160]);
    segments.push(...polylineSegments(pts));
  }
  return { items, obstacles: { markers: items.map(({ x, y, r }) => [x, y, r]), segments } };
}

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
    expect(inside(labelBox(448, 398, 5, 40, box, []))).toBe(true); // a corner
  });

  it("move off each other, and give up when crowded", () => {
    const items = Array.from({ length: 40 }, (_, k) => ({ x: 200 + k, y: 200, r: 5, w: 50 }));
    const spots = placeLabels(items, box);
    const placed = spots.filter(Boolean);
    expect(placed.length).toBeGreaterThan(5);
    expect(placed.length).toBeLessThan(40); // thinned: 40 labels have no room at one spot
    expectClear(spots, { markers: [], segments: [] });
  });

  it("move off a line through the place they would take", () => {
    const free = labelBox(200, 200, 5, 50, box, []);
    // a line right through that first choice, from the point itself
    const line = [200, 200, 280, 180];
    expect(meetsSegment(free, line, LINE_PAD)).toBe(true);
    const moved = labelBox(200, 200, 5, 50, box, [], { segments: [line] });
    expect(moved).not.toBeNull();
    expect(meetsSegment(moved, line, LINE_PAD)).toBe(false);
  });

  it("move off other points' markers", () => {
    const markers = [[200, 200, 5], [230, 190, 6]]; // a probe right of the point, at its label
    const spot = labelBox(200, 200, 5, 50, box, [], { markers });
    expect(spot).not.toBeNull();
    for (const m of markers) expect(meetsDisc(spot, m, MARKER_PAD)).toBe(false);
  });

  it("are left out only when no place around the point is free", () => {
    // a point in a hatching of lines 10 pixels apart: no label fits between two
    const hatch = (skip) =>
      Array.from({ length: 21 }, (_, k) => 100 + 10 * k)
        .filter((y) => !skip.includes(y))
        .map((y) => [100, y, 300, y]);
    expect(labelBox(200, 200, 5, 50, box, [], { segments: hatch([]) })).toBeNull();
    // with a gap in the hatching near the point the label goes into it
    const open = labelBox(200, 200, 5, 50, box, [], { segments: hatch([240, 250]) });
    expect(open).not.toBeNull();
    expect(open[1]).toBeGreaterThan(230);
    expect(open[3]).toBeLessThan(260);
  });

  it("keep clear of markers, lines, labels and edges in random scenes", () => {
    let shown = 0;
    let total = 0;
    for (let seed = 1; seed <= 30; seed++) {
      const { items, obstacles } = scene(seed, 12, 3);
      const spots = placeLabels(items, box, obstacles);
      expectClear(spots, obstacles);
      shown += spots.filter(Boolean).length;
      total += items.length;
    }
    expect(shown / total).toBeGreaterThan(0.8); // most find a place
  });
});

describe("the check of boxes against lines", () => {
  it("agrees with the separating-axis test", () => {
    let s = 7;
    const rand = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    let hits = 0;
    for (let k = 0; k < 5000; k++) {
      const b = [rand() * 100, rand() * 100];
      b.push(b[0] + 5 + rand() * 40, b[1] + 5 + rand() * 20);
      const seg = [rand() * 150 - 25, rand() * 150 - 25, rand() * 150 - 25, rand() * 150 - 25];
      if (k % 10 === 0) seg[2] = seg[0]; // vertical
      if (k % 10 === 1) seg[3] = seg[1]; // horizontal
      const want = meetsSegment(b, seg, 1);
      expect(boxHitsSegment(b, seg, 1), `${b} ${seg}`).toBe(want);
      hits += want;
    }
    expect(hits).toBeGreaterThan(500);
  });

  it("thins a polyline of tiny steps, keeping its ends", () => {
    const pts = Array.from({ length: 1001 }, (_, k) => [k * 0.1, 0]);
    const segs = polylineSegments(pts);
    expect(segs.length).toBeLessThan(80);
    expect(segs[0].slice(0, 2)).toEqual([0, 0]);
    expect(segs[segs.length - 1][2]).toBeCloseTo(100);
    for (let k = 1; k < segs.length; k++) expect(segs[k].slice(0, 2)).toEqual(segs[k - 1].slice(2));
  });
});

describe("run labels", () => {
  it("are short: no off-plane note, no start's name, at most 16 characters", () => {
    expect(runLabel("drag me: sgd")).toBe("sgd");
    expect(runLabel("start: momentum (off-plane ≤ 0.012)")).toBe("momentum");
    expect(runLabel("Adam")).toBe("Adam");
    expect(runLabel("a very long optimizer name")).toBe("a very long opt…");
    expect(runLabel(undefined)).toBe("");
  });
});
