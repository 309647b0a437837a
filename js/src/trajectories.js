// Trajectories on the map: which steps the player visits and how much of
// each path is drawn at a step. Pure functions, no DOM.
//
// An overlay with `stepsData` (one optimisation step per point, non-decreasing)
// is a trajectory; the player's frames are the union of all their steps, so
// paths recorded at different intervals still move together in step time.

/** Sorted distinct steps of all trajectory overlays. */
export function stepFrames(overlays) {
  const all = new Set();
  for (const o of overlays || []) {
    if (!o.stepsData) continue;
    for (const s of o.stepsData) all.add(s);
  }
  return [...all].sort((a, b) => a - b);
}

/**
 * How many points of a path are drawn at `step`: those with step <= `step`
 * (binary search; at least the first point, so every path shows its start).
 * `step` null or undefined draws the whole path.
 */
export function pointsAtStep(steps, step) {
  const n = steps ? steps.length : 0;
  if (step === null || step === undefined || !n) return n;
  let lo = 0;
  let hi = n; // first index with steps[i] > step
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (steps[mid] <= step) lo = mid + 1;
    else hi = mid;
  }
  return Math.max(1, lo);
}

/** Index of the last frame at or before `step` (0 when `step` is before all). */
export function frameAtStep(frames, step) {
  const k = pointsAtStep(frames, step);
  return Math.max(0, k - 1);
}

/**
 * Frames to advance per timer tick so a replay lasts about `seconds` at
 * speed 1 whatever the number of recorded steps (at `fps` ticks a second).
 */
export function strideFor(count, seconds = 5, fps = 30) {
  return Math.max(1, Math.ceil(count / (seconds * fps)));
}

/**
 * Keys of the trajectories (name, length, last step, first and last point),
 * one per path: a key that was not there before means a new run arrived.
 */
export function trajectoryKeys(overlays) {
  return (overlays || [])
    .filter((o) => o.stepsData)
    .map((o) => {
      const s = o.stepsData;
      const xy = o.xyData;
      const ends = xy ? [xy[0], xy[1], xy[xy.length - 2], xy[xy.length - 1]].join(",") : "";
      return `${o.name}:${s.length}:${s[s.length - 1]}:${ends}`;
    });
}

/** Whether `now` has a key that `before` had not: runs were added or redone. */
export function hasNewRuns(before, now) {
  const seen = new Set(before);
  return now.some((k) => !seen.has(k));
}
