// anywidget front-end of landscape_widgets.LandscapeWidget: the live loss map.
//
// The kernel streams grids (coarse to fine) and answers drags; this side
// draws, and turns the mouse into state (map/gestures.js). The root element's
// data-* attributes say what was drawn and when, for tests and for the
// curious. The modules:
//   map/layout.js             the elements
//   map/state.js              what is drawn, read from the model
//   map/gestures.js           dragging points, panning, zooming
//   map/trajectory_player.js  the replay of trajectories
//   drag.js                   numbering the moves, timing the kernel's answers

import { sizeCanvas } from "./canvas.js";
import { DragLog } from "./drag.js";
import { GridCache, drawMap } from "./draw.js";
import { attachMapGestures } from "./map/gestures.js";
import { buildMapLayout } from "./map/layout.js";
import { renderLegend } from "./map/legend.js";
import { readMapState, statusText } from "./map/state.js";
import { attachTrajectoryPlayer } from "./map/trajectory_player.js";
import { drawPredictions } from "./predictions.js";

// traits whose change redraws; `loss` also renews the grid's cache key, and
// `overlays` and `player_step` go to the player first
const REDRAW_ON = [
  "x_range",
  "y_range",
  "metric",
  "hover",
  "view",
  "points",
  "paths",
  "path_notes",
  "colormap",
  "log_scale",
  "color_range",
  "xlabel",
  "ylabel",
  "aspect",
  "contours",
  "title",
  "width",
  "height",
  "status",
  "activity",
  "progress",
  "level",
  "done",
  "predictions",
  "probe_results",
];
const PANEL = 240; // predictions panel size, CSS pixels

function render({ model, el }) {
  const ui = buildMapLayout(el);
  const { root } = ui;
  const cache = new GridCache();
  const drags = new DragLog(() => performance.now());
  let gridVersion = 0;
  let frame = 0;
  let state = null; // what the last redraw drew
  let drawn = null; // and where: its geometry, for the mouse

  function schedule() {
    if (!frame) frame = requestAnimationFrame(redraw);
  }

  function redraw() {
    frame = 0;
    try {
      state = readMapState(model, {
        gridVersion,
        overlays: player.overlays(),
        playerStep: player.step(),
        points: gestures.points(),
        view: gestures.view(),
        dragging: gestures.dragging(),
      });
    } catch (err) {
      root.dataset.status = "error";
      ui.info.textContent = `cannot draw: ${err.message}`;
      return;
    }
    const dpr = window.devicePixelRatio || 1;
    drawn = drawMap(sizeCanvas(ui.canvas, state.width, state.height, dpr), state, cache);
    drawPanel(dpr);
    renderLegend(ui.legend, state);
    const hasGrid = state.grid.shape[0] > 0 && state.grid.shape[1] > 0;
    const done = model.get("done");
    root.dataset.status = hasGrid ? "drawn" : "empty";
    root.dataset.masked = String(drawn.masked);
    root.dataset.colormap = state.colormap;
    root.dataset.level = String(model.get("level"));
    root.dataset.done = done ? "1" : "0";
    root.dataset.view = JSON.stringify(drawn.view);
    root.dataset.gridRange = JSON.stringify([...state.xRange, ...state.yRange]);
    root.dataset.colorRange = JSON.stringify(drawn.range ? [drawn.range.min, drawn.range.max] : null);
    root.dataset.axes = JSON.stringify([state.xlabel, state.ylabel]);
    // where the labels and the plot went, for tests: [x0, y0, x1, y1] each
    root.dataset.labels = JSON.stringify(drawn.labels.map((b) => b.map(Math.round)));
    root.dataset.plot = JSON.stringify([drawn.box.x0, drawn.box.y0, drawn.box.x1, drawn.box.y1]);
    const now = performance.now().toFixed(1);
    if (hasGrid && !root.dataset.firstGridAt) root.dataset.firstGridAt = now;
    if (hasGrid && done && state.status !== "computing") root.dataset.doneAt ??= now;
    if (drags.redrawn()) Object.assign(root.dataset, drags.attributes());
    const status = statusText(state.status, model.get("activity"), state.progress);
    ui.statusText.style.color = status.failed ? "#c00" : "#444";
    ui.statusText.textContent = status.text;
    ui.colormap.value = state.colormap;
    ui.logBox.checked = state.log;
  }

  function drawPanel(dpr) {
    const { panel } = ui;
    const pred = model.get("predictions") || {};
    if (!pred.kind || !pred.values) {
      // no probe yet, or no data a person can see: no panel
      panel.style.display = "none";
      return;
    }
    panel.style.display = "block";
    const size = Math.min(PANEL, state.height);
    const results = model.get("probe_results") || {};
    const ok = drawPredictions(sizeCanvas(panel, size, size, dpr), pred, size, size, results[pred.probe]);
    panel.dataset.status = ok ? "drawn" : "waiting";
    panel.dataset.probe = pred.probe || "";
  }

  const player = attachTrajectoryPlayer({ model, ui, schedule });
  const gestures = attachMapGestures({
    model,
    canvas: ui.canvas,
    info: ui.info,
    drags,
    shown: () => ({ state, drawn }),
    schedule,
  });

  const onMessage = (content) => {
    if (drags.answer(content) === null) return;
    Object.assign(root.dataset, drags.attributes());
    schedule();
  };
  const onReset = () => {
    const home = model.get("home");
    model.set("view", home && home.length === 4 ? home.map(Number) : []);
    model.save_changes();
  };
  const onColormap = () => {
    model.set("colormap", ui.colormap.value);
    model.save_changes();
  };
  const onLog = () => {
    model.set("log_scale", ui.logBox.checked);
    model.save_changes();
  };
  const onGrid = () => {
    gridVersion++;
    schedule();
  };

  ui.reset.addEventListener("click", onReset);
  ui.colormap.addEventListener("change", onColormap);
  ui.logBox.addEventListener("change", onLog);
  const listeners = [
    ["change:loss", onGrid],
    ...REDRAW_ON.map((name) => [`change:${name}`, schedule]),
    ["msg:custom", onMessage],
  ];
  for (const [event, fn] of listeners) model.on(event, fn);
  redraw();

  return () => {
    if (frame) cancelAnimationFrame(frame);
    player.dispose();
    gestures.dispose();
    for (const [event, fn] of listeners) model.off(event, fn);
  };
}

export default { render };
