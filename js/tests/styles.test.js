import { describe, expect, it } from "vitest";
import tables from "../src/styles.json";
import { FONT, PATH_COLORS, PLOT_TITLE_FONT, ROLE_STYLE, TITLE_FONT } from "../src/styles.js";

describe("the shared styles", () => {
  it("give every point role a marker", () => {
    for (const role of ["anchor", "probe", "path"]) {
      expect(ROLE_STYLE[role].fill).toMatch(/^#[0-9a-f]{6}$/);
      expect(ROLE_STYLE[role].stroke).toMatch(/^#[0-9a-f]{6}$/);
      expect(ROLE_STYLE[role].r).toBeGreaterThan(0);
    }
  });

  it("are the table Python reads", () => {
    expect(ROLE_STYLE).toEqual(tables.roles);
    expect(PATH_COLORS).toEqual(tables.path_colors);
    expect([FONT, TITLE_FONT, PLOT_TITLE_FONT]).toEqual([tables.font, tables.title_font, tables.plot_title_font]);
  });

  it("draw path points in the first path colour", () => {
    expect(ROLE_STYLE.path.fill).toBe(PATH_COLORS[0]);
  });
});
