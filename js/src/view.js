// The visible window of the map and the moves on it: pixel <-> plane
// coordinates, pan, zoom about the cursor, picking a point, sampling a path.
// Pure functions, no DOM.

/**
 * Maps between plane coordinates and canvas pixels for a plot box showing
 * the window view = [xmin, xmax, ymin, ymax] (y grows upwards).
 */
export function transform(box, view) {
  const [x0, x1, y0, y1] = view;
  const kx = (box.x1 - box.x0) / (x1 - x0);
  const ky = (box.y1 - box.y0) / (y1 - y0);
  return {
    px: (x) => box.x0 + (x - x0) * kx,
    py: (y) => box.y1 - (y - y0) * ky,
    fx: (u) => x0 + (u - box.x0) / kx,
    fy: (v) => y0 + (box.y1 - v) / ky,
  };
}

/**
 * `view` widened along one axis (about its centre) so that a plane unit is as
 * many pixels along x as along y in `box`: the picture of a plane whose two
 * axes share units is not stretched.
 */
export function equalAspect(view, box) {
  const [x0, x1, y0, y1] = view;
  const w = box.x1 - box.x0;
  const h = box.y1 - box.y0;
  const per = Math.max((x1 - x0) / w, (y1 - y0) / h); // plane units per pixel
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  return [cx - (per * w) / 2, cx + (per * w) / 2, cy - (per * h) / 2, cy + (per * h) / 2];
}

/**
 * `box` narrowed along one axis (about its centre) to the shape of `view`, so
 * that a plane unit is as many pixels along x as along y: how a fixed grid
 * (which has nothing beyond its window to show) is drawn with equal aspect.
 */
export function equalBox(box, view) {
  const w = box.x1 - box.x0;
  const h = box.y1 - box.y0;
  const per = Math.max((view[1] - view[0]) / w, (view[3] - view[2]) / h); // plane units per pixel
  const bw = (view[1] - view[0]) / per;
  const bh = (view[3] - view[2]) / per;
  const x0 = box.x0 + (w - bw) / 2;
  const y0 = box.y0 + (h - bh) / 2;
  return { x0, y0, x1: x0 + bw, y1: y0 + bh };
}

/** The window moved by (dx, dy) in plane units. */
export function panView(view, dx, dy) {
  return [view[0] + dx, view[1] + dx, view[2] + dy, view[3] + dy];
}

/**
 * The window scaled by `factor` (< 1 zooms in) about the plane point
 * (cx, cy), which stays under the cursor.
 */
export function zoomView(view, cx, cy, factor) {
  return [
    cx + (view[0] - cx) * factor,
    cx + (view[1] - cx) * factor,
    cy + (view[2] - cy) * factor,
    cy + (view[3] - cy) * factor,
  ];
}

/**
 * Name of the draggable point (role probe or path) nearest to pixel (u, v)
 * within `radius` pixels, or null.
 */
export function pick(points, tf, u, v, radius = 9) {
  let best = null;
  let bestD = radius * radius;
  for (const p of points) {
    if (p.role !== "probe" && p.role !== "path") continue;
    const d = (tf.px(p.x) - u) ** 2 + (tf.py(p.y) - v) ** 2;
    if (d <= bestD) {
      best = p.name;
      bestD = d;
    }
  }
  return best;
}

function binomial(n, k) {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

/** Points of the Bezier curve with control points `ctrl` ([[x, y], ...]) at n values of t. */
export function bezier(ctrl, n) {
  const k = ctrl.length - 1;
  const out = [];
  for (let s = 0; s < n; s++) {
    const t = n > 1 ? s / (n - 1) : 0;
    let x = 0;
    let y = 0;
    for (let i = 0; i <= k; i++) {
      const w = binomial(k, i) * (1 - t) ** (k - i) * t ** i;
      x += w * ctrl[i][0];
      y += w * ctrl[i][1];
    }
    out.push([x, y]);
  }
  return out;
}

/**
 * Plane coordinates to draw a path through named points: the corners of a
 * segment or polyline, or a sampled Bezier curve.
 * @param {{kind: string, points: string[]}} path
 * @param {Map<string, {x: number, y: number}>} where
 */
export function pathPolyline(path, where, n = 64) {
  const ctrl = path.points.map((name) => where.get(name)).filter(Boolean).map((p) => [p.x, p.y]);
  if (ctrl.length !== path.points.length) return [];
  return path.kind === "bezier" ? bezier(ctrl, n) : ctrl;
}
