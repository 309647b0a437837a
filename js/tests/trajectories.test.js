import { describe, expect, it } from "vitest";
import { frameAtStep, hasNewRuns, pointsAtStep, stepFrames, strideFor, trajectoryKeys } from "../src/trajectories.js";

const f32 = (a) => Float32Array.from(a);

describe("the player's frames", () => {
  it("are the sorted union of every trajectory's steps; plain overlays add none", () => {
    const overlays = [
      { name: "sgd", stepsData: f32([0, 10, 20, 30]) },
      { name: "adam", stepsData: f32([0, 5, 10, 15, 20]) },
      { name: "segment", stepsData: null },
    ];
    expect(stepFrames(overlays)).toEqual([0, 5, 10, 15, 20, 30]);
    expect(stepFrames([])).toEqual([]);
    expect(stepFrames(undefined)).toEqual([]);
  });
});

describe("how much of a path is drawn at a step", () => {
  const steps = f32([0, 10, 20, 30]);
  it("counts the points at or before the step, by a search that agrees with a scan", () => {
    for (let s = -5; s <= 35; s++) {
      const scan = Math.max(1, [...steps].filter((v) => v <= s).length);
      expect(pointsAtStep(steps, s)).toBe(scan);
    }
  });
  it("draws whole paths when no step is chosen, and at least the start", () => {
    expect(pointsAtStep(steps, null)).toBe(4);
    expect(pointsAtStep(steps, undefined)).toBe(4);
    expect(pointsAtStep(steps, -1)).toBe(1);
    expect(pointsAtStep(null, 3)).toBe(0);
  });
  it("maps a step chosen from Python to the last frame at or before it", () => {
    const frames = [0, 5, 10, 15, 20, 30];
    expect(frameAtStep(frames, 12)).toBe(2);
    expect(frameAtStep(frames, 30)).toBe(5);
    expect(frameAtStep(frames, 1000)).toBe(5);
    expect(frameAtStep(frames, -3)).toBe(0);
  });
});

describe("replay speed", () => {
  it("keeps a replay near five seconds at 30 ticks a second", () => {
    expect(strideFor(10)).toBe(1);
    expect(strideFor(150)).toBe(1);
    expect(strideFor(151)).toBe(2);
    expect(strideFor(3001)).toBe(21);
    for (const n of [50, 400, 2000, 10000]) expect(Math.ceil(n / strideFor(n)) / 30).toBeLessThanOrEqual(5);
  });
});

describe("new runs", () => {
  const run = (name, xy) => ({ name, stepsData: f32([0, 1, 2]), xyData: f32(xy) });
  it("are runs whose key was not there before", () => {
    const a = [run("s:sgd", [0, 0, 1, 1, 2, 2])];
    const same = [run("s:sgd", [0, 0, 1, 1, 2, 2])];
    const moved = [run("s:sgd", [0, 0, 1, 1, 3, 2])];
    expect(hasNewRuns(trajectoryKeys(a), trajectoryKeys(same))).toBe(false);
    expect(hasNewRuns(trajectoryKeys(a), trajectoryKeys(moved))).toBe(true);
    expect(trajectoryKeys([{ name: "plain", xyData: f32([0, 0, 1, 1]) }])).toEqual([]);
  });
  it("count a start moved elsewhere even when the runs end at the same point", () => {
    const before = [run("s:gd", [0, 0, 1, 1, 2, 2])];
    const after = [run("s:gd", [5, 5, 1, 1, 2, 2])];
    expect(hasNewRuns(trajectoryKeys(before), trajectoryKeys(after))).toBe(true);
  });
  it("do not include a run being removed", () => {
    const two = [run("a", [0, 0, 1, 1, 2, 2]), run("b", [0, 0, 2, 2, 3, 3])];
    expect(hasNewRuns(trajectoryKeys(two), trajectoryKeys(two.slice(0, 1)))).toBe(false);
  });
});
