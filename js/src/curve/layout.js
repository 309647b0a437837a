// The curve widget's elements: the map and, beside it, the loss along the
// curve and the training loss; under them the player row, the training row
// and the info line. Class names are what notebooks and browser tests select
// by.

import { element } from "../dom.js";
import { SPEEDS } from "../player.js";
import { FONT } from "../styles.js";

const GAP = 8;
const ROW_H = 28;
const INFO_H = 18;
// the map's legend, under it (outside the plot, clear of the points)
const LEGEND_H = 18;
// the two rows of controls and the info line under the plots
const CONTROLS_H = 2 * ROW_H + INFO_H + 3 * GAP;
const MAP_SHARE = 0.55;

/** Canvas sizes for a widget of width x height CSS pixels. */
export function canvasSizes(width, height) {
  const topH = Math.max(200, height - CONTROLS_H);
  const mapW = Math.max(260, Math.round(width * MAP_SHARE));
  const sideW = Math.max(180, width - mapW - GAP);
  const plotH = Math.floor((topH - GAP) / 2);
  return { width: mapW + GAP + sideW, topH, mapW, mapH: topH - LEGEND_H, sideW, plotH };
}

/** Build the widget's elements inside `el`; returns them by role. */
export function buildCurveLayout(el) {
  const root = element(
    "div",
    "display: inline-flex; flex-direction: column; gap: 8px; box-sizing: border-box; " +
      `font: ${FONT}; color: #333;`,
    null,
    "lw-curve-training",
  );
  const top = element("div", "display: flex; gap: 8px; align-items: flex-start;");
  const mapCanvas = element("canvas", "display: block; flex: none; touch-action: none;", null, "lw-curve-map");
  const side = element("div", "display: flex; flex-direction: column; gap: 8px; flex: none;");
  const profileCanvas = element("canvas", "display: block;", null, "lw-curve-profile");
  const lossCanvas = element("canvas", "display: block;", null, "lw-curve-loss");
  side.append(profileCanvas, lossCanvas);
  const mapColumn = element("div", "display: flex; flex-direction: column; flex: none;");
  const mapLegend = element(
    "div",
    `display: none; flex-wrap: nowrap; gap: 14px; height: ${LEGEND_H}px; overflow: hidden; ` +
      "font-size: 12px; color: #222; padding-left: 58px; box-sizing: border-box;",
    null,
    "lw-legend",
  );
  mapColumn.append(mapCanvas, mapLegend);
  top.append(mapColumn, side);

  const rowCss = `display: flex; gap: 8px; align-items: center; height: ${ROW_H}px; white-space: nowrap;`;
  const buttonCss = "font-size: 12px; flex: none;";
  const playerRow = element("div", rowCss);
  const playButton = element("button", `${buttonCss} width: 34px;`, "▶", "lw-play");
  playButton.title = "Play the recorded frames";
  const slider = element("input", "flex: 1 1 auto; min-width: 60px; margin: 0;", null, "lw-frame-slider");
  slider.type = "range";
  slider.min = "0";
  slider.max = "0";
  slider.step = "1";
  slider.value = "0";
  const frameLabel = element(
    "span",
    "flex: none; width: 190px; overflow: hidden; text-overflow: ellipsis; font-variant-numeric: tabular-nums;",
    null,
    "lw-frame-label",
  );
  const speed = element("select", buttonCss, null, "lw-speed");
  speed.title = "Playback speed";
  for (const s of SPEEDS) speed.append(new Option(`${s}x`, String(s), s === 1, s === 1));
  const sharpen = element("button", buttonCss, "Sharpen frame", "lw-sharpen");
  sharpen.title = "Render the shown frame again at high resolution";
  playerRow.append(playButton, slider, frameLabel, speed, sharpen);

  const trainRow = element("div", rowCss);
  const trainButton = element("button", buttonCss, "Train", "lw-train");
  const pauseButton = element("button", buttonCss, "Pause", "lw-pause");
  const stopButton = element("button", buttonCss, "Stop", "lw-stop");
  const statusText = element(
    "span",
    "flex: 1 1 auto; overflow: hidden; text-overflow: ellipsis; margin-left: 4px;",
    null,
    "lw-status",
  );
  trainRow.append(trainButton, pauseButton, stopButton, statusText);

  const info = element(
    "div",
    `height: ${INFO_H}px; line-height: ${INFO_H}px; color: #444; ` +
      "overflow: hidden; white-space: nowrap; text-overflow: ellipsis;",
    null,
    "lw-readout",
  );
  root.append(top, playerRow, trainRow, info);
  el.append(root);
  return {
    root,
    mapCanvas,
    mapLegend,
    profileCanvas,
    lossCanvas,
    playButton,
    slider,
    frameLabel,
    speed,
    sharpen,
    trainButton,
    pauseButton,
    stopButton,
    statusText,
    info,
  };
}
