// The map's elements: the canvas, the bar of controls under it, the
// trajectory player (hidden until a path with steps is on the map), the
// read-out line, and the predictions panel beside them. Class names are what
// notebooks and browser tests select by.

import { COLORMAPS } from "../colormap.js";
import { element } from "../dom.js";
import { SPEEDS } from "../player.js";

const ROW_CSS = "gap: 8px; align-items: center; font-size: 12px; color: #444; padding-left: 58px; min-height: 24px;";
const SMALL = "font-size: 12px;";

/** Build the map's elements inside `el`; returns them by role. */
export function buildMapLayout(el) {
  const root = element(
    "div",
    "display: inline-flex; gap: 10px; font-family: system-ui, sans-serif; align-items: flex-start;",
    null,
    "lw-landscape",
  );
  const left = element("div", "flex: none;");
  const canvas = element("canvas", "display: block; touch-action: none;", null, "lw-map");

  const bar = element("div", `display: flex; ${ROW_CSS}`);
  const reset = element("button", SMALL, "Reset view", "lw-reset");
  reset.title = "Back to the first window";
  const colormap = element("select", SMALL);
  for (const name of COLORMAPS) colormap.append(new Option(name, name));
  const logLabel = element("label", "display: inline-flex; gap: 3px; align-items: center;");
  const logBox = element("input");
  logBox.type = "checkbox";
  logLabel.append(logBox, document.createTextNode("log"));
  const statusText = element("span", "margin-left: 4px;", null, "lw-status");
  bar.append(reset, colormap, logLabel, statusText);

  const info = element("div", "font-size: 12px; color: #444; min-height: 16px; padding-left: 58px;", null, "lw-readout");

  const playerRow = element("div", `display: none; ${ROW_CSS}`, null, "lw-player");
  const playButton = element("button", `${SMALL} min-width: 30px;`, "▶", "lw-play");
  const slider = element("input", "width: 260px;", null, "lw-step-slider");
  slider.type = "range";
  slider.min = "0";
  slider.step = "1";
  const stepLabel = element("span", "min-width: 90px;", null, "lw-step");
  const speed = element("select", SMALL);
  for (const s of SPEEDS) speed.append(new Option(`${s}x`, String(s)));
  speed.value = "1";
  playerRow.append(playButton, slider, stepLabel, speed);

  const legend = element(
    "div",
    "display: none; flex-wrap: wrap; gap: 4px 14px; font-size: 12px; color: #222; padding: 2px 0 4px 58px;",
    null,
    "lw-legend",
  );
  left.append(canvas, legend, bar, playerRow, info);
  const panel = element("canvas", "display: none; flex: none;", null, "lw-predictions");
  root.append(left, panel);
  el.append(root);
  return { root, canvas, legend, reset, colormap, logBox, statusText, info, playerRow, playButton, slider, stepLabel, speed, panel };
}
