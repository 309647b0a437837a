import { describe, expect, it } from "vitest";
import { DASHES, dashOf, legendEntries } from "../src/decorations.js";
import { PATH_COLORS } from "../src/styles.js";

describe("the legend", () => {
  const steps = Float32Array.from([0, 1]);
  const state = {
    overlays: [
      { name: "sgd", color: "#0cf", stepsData: steps },
      { name: "curve", label: "trained curve", color: "#222", stepsData: null },
      { name: "adam", color: "#f3c", stepsData: steps },
    ],
    paths: [{ name: "slice" }],
  };

  it("lists runs with their own dash pattern, then fixed lines and paths", () => {
    const entries = legendEntries(state);
    expect(entries.map((e) => e.name)).toEqual(["sgd", "trained curve", "adam", "slice"]);
    expect(entries[0].dash).toEqual(dashOf(0));
    expect(entries[2].dash).toEqual(dashOf(1));
    expect(entries[0].dash).not.toEqual(entries[2].dash);
    expect(entries[1].dash).toEqual([]);
    expect(entries[3]).toEqual({ name: "slice", color: PATH_COLORS[0], dash: [] });
  });

  it("cycles through distinct dash patterns", () => {
    const seen = new Set(DASHES.map((d) => JSON.stringify(d)));
    expect(seen.size).toBe(DASHES.length);
    expect(dashOf(DASHES.length)).toEqual(dashOf(0));
  });
});

describe("a path's note", () => {
  it("follows its name in the legend", () => {
    const state = { overlays: [], paths: [{ name: "slice", color: "#f00" }], pathNotes: { slice: "barrier 0.12; profile in .profiles" } };
    expect(legendEntries(state)[0].name).toBe("slice (barrier 0.12; profile in .profiles)");
    expect(legendEntries({ ...state, pathNotes: {} })[0].name).toBe("slice");
  });
});
