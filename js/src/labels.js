// Where the labels of the map's points and of its runs' ends go. Pure: no DOM,
// so it is unit-tested. Boxes are [x0, y0, x1, y1] in CSS pixels (y down).

/** Label height in CSS pixels. */
export const LINE = 13;
/** Room kept between a label and a drawn line (half a path's width with its halo). */
export const LINE_PAD = 2.5;
/** Room kept between a label and a marker, beyond the marker's radius. */
export const MARKER_PAD = 2;
const EDGE = 2; // room kept inside the plot's edges
const FAR = 12; // how much farther the second ring of places is

/**
 * The places tried for a label of width `w` beside a point at (x, y) with a
 * marker of radius `r`, in the order tried: right of the point (above its
 * centre, below it, level with it), left of it, above and below it, the same
 * sides moved one and two lines up and down (a crowd at one spot stacks its
 * labels), then all of it again a little farther out.
 */
export function candidates(x, y, r, w) {
  const out = [];
  const at = (x0, y0) => out.push([x0, y0, x0 + w, y0 + LINE]);
  for (const far of [0, FAR]) {
    const g = r + 3 + far;
    const up = y - 3 - LINE - far / 2;
    const down = y + 3 + far / 2;
    const level = y - LINE / 2;
    for (const x0 of [x + g, x - g - w]) for (const y0 of [up, down, level]) at(x0, y0);
    at(x - w / 2, y - g - LINE);
    at(x - w / 2, y + g);
    for (const shift of [14, 28]) {
      for (const x0 of [x + g, x - g - w]) {
        at(x0, up - shift);
        at(x0, down + shift);
      }
    }
  }
  return out;
}

/** Whether boxes a and b share more than an edge. */
export function boxesOverlap(a, b) {
  return a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3];
}

/** Whether box `b` widened by `pad` on each side meets the circle at (cx, cy) of radius `r`. */
export function boxHitsCircle(b, [cx, cy, r], pad = 0) {
  const dx = Math.max(b[0] - pad - cx, 0, cx - b[2] - pad);
  const dy = Math.max(b[1] - pad - cy, 0, cy - b[3] - pad);
  return dx * dx + dy * dy < r * r;
}

/**
 * Whether the segment s = [xa, ya, xb, yb] passes through box `b` widened by
 * `pad` (Liang-Barsky: clip the segment's parameter to each slab in turn).
 */
export function boxHitsSegment(b, s, pad = 0) {
  const [xa, ya, xb, yb] = s;
  const d = [xb - xa, yb - ya];
  const from = [xa, ya];
  let t0 = 0;
  let t1 = 1;
  for (let k = 0; k < 2; k++) {
    const lo = b[k] - pad;
    const hi = b[k + 2] + pad;
    if (d[k] === 0) {
      if (from[k] <= lo || from[k] >= hi) return false;
      continue;
    }
    let ta = (lo - from[k]) / d[k];
    let tb = (hi - from[k]) / d[k];
    if (ta > tb) [ta, tb] = [tb, ta];
    t0 = Math.max(t0, ta);
    t1 = Math.min(t1, tb);
    if (t0 >= t1) return false;
  }
  return true;
}

/**
 * The segments [xa, ya, xb, yb] of a polyline given as [[x, y], ...] in
 * pixels, its points thinned to at least `gap` pixels apart (the line's last
 * point kept), so a long trajectory of tiny steps costs few segments and the
 * segments stay within `gap` pixels of the line drawn.
 */
export function polylineSegments(points, gap = 1.5) {
  const out = [];
  if (!points.length) return out;
  const gap2 = gap * gap;
  let px = points[0][0];
  let py = points[0][1];
  const last = points.length - 1;
  for (let k = 1; k <= last; k++) {
    const x = points[k][0];
    const y = points[k][1];
    if (k < last && (x - px) * (x - px) + (y - py) * (y - py) < gap2) continue;
    out.push([px, py, x, y]);
    px = x;
    py = y;
  }
  return out;
}

/**
 * Boxes for the labels of `items` ([{x, y, r, w}]: a point's position, its
 * marker's radius and its label's width), placed in order, each at the first
 * of its candidates() that stays `EDGE` pixels inside the plot `box`, off the
 * labels placed before it (and the boxes already in `placed`), off every
 * marker in `obstacles.markers` ([[x, y, r]], the items' own included) and off
 * every line in `obstacles.segments` ([[xa, ya, xb, yb]]). An item whose
 * candidates are all taken gets null: its label is left out, its point stays.
 */
export function placeLabels(items, box, { markers = [], segments = [] } = {}, placed = []) {
  const taken = [...placed];
  const inside = (c) => c[0] >= box.x0 + EDGE && c[2] <= box.x1 - EDGE && c[1] >= box.y0 + EDGE && c[3] <= box.y1 - EDGE;
  return items.map(({ x, y, r, w }) => {
    const tries = candidates(x, y, r, w).filter(inside);
    if (!tries.length) return null;
    // only what lies near this point's candidates can block one of them
    const reach = [
      Math.min(...tries.map((c) => c[0])),
      Math.min(...tries.map((c) => c[1])),
      Math.max(...tries.map((c) => c[2])),
      Math.max(...tries.map((c) => c[3])),
    ];
    const near = (s) =>
      Math.max(s[0], s[2]) > reach[0] - LINE_PAD &&
      Math.min(s[0], s[2]) < reach[2] + LINE_PAD &&
      Math.max(s[1], s[3]) > reach[1] - LINE_PAD &&
      Math.min(s[1], s[3]) < reach[3] + LINE_PAD;
    const lines = segments.filter(near);
    const dots = markers.filter((m) => boxHitsCircle(reach, m, MARKER_PAD));
    const labels = taken.filter((q) => boxesOverlap(reach, q));
    const spot = tries.find(
      (c) =>
        !labels.some((q) => boxesOverlap(c, q)) &&
        !dots.some((m) => boxHitsCircle(c, m, MARKER_PAD)) &&
        !lines.some((s) => boxHitsSegment(c, s, LINE_PAD)),
    );
    if (!spot) return null;
    taken.push(spot);
    return spot;
  });
}

/**
 * The box of one label (see placeLabels), off the labels already `placed`;
 * null when no place is free.
 */
export function labelBox(x, y, r, w, box, placed, obstacles = {}) {
  return placeLabels([{ x, y, r, w }], box, obstacles, placed)[0];
}

/**
 * The short label of a run's end: its label without the " (off-plane ≤ …)"
 * note and the start's name ("drag me: sgd" is "sgd"), at most `max`
 * characters (the legend gives it whole).
 */
export function runLabel(text, max = 16) {
  let short = String(text ?? "").replace(/\s*\(off-plane[^)]*\)\s*$/, "");
  const colon = short.lastIndexOf(": ");
  if (colon >= 0 && colon + 2 < short.length) short = short.slice(colon + 2);
  short = short.trim();
  return short.length > max ? `${short.slice(0, max - 1)}…` : short;
}
