// Where a point's label goes on the map. Pure: no DOM, so it is unit-tested.

const LINE = 13; // label height in CSS pixels
const TRIES = [0, 14, -14, 28, -28]; // vertical moves tried, in order

/**
 * The box [x0, y0, x1, y1] of the label of width `w` for a point at (x, y)
 * with marker radius `r`: right of the point, or left of it when it would
 * run past the plot's right edge (under the colour bar); inside the plot's
 * top and bottom; moved down, then up, off the labels already `placed`.
 * Null when none of the tries is free (the label is left out, its point stays).
 */
export function labelBox(x, y, r, w, box, placed) {
  const left = x + r + 3 + w > box.x1 - 2;
  const lx = left ? Math.max(box.x0 + 2, x - r - 3 - w) : x + r + 3;
  const clampY = (v) => Math.min(Math.max(v, box.y0 + LINE + 1), box.y1 - 1);
  const overlaps = (a) => placed.some((q) => a[0] < q[2] && q[0] < a[2] && a[1] < q[3] && q[1] < a[3]);
  for (const d of TRIES) {
    const ly = clampY(y - 3 + d);
    const candidate = [lx, ly - LINE, lx + w, ly];
    if (!overlaps(candidate)) return candidate;
  }
  return null;
}
