// anywidget front-end of landscape_widgets.LandscapeWidget: the live loss map.
//
// The kernel streams grids (coarse to fine) and answers drags; this side
// draws, and turns the mouse into state: dragging a probe or path point
// moves it in `points` (sent once per animation frame, numbered by
// `drag_seq`), dragging the background pans and the wheel zooms (the new
// window goes to `view` when the gesture ends, and the kernel re-evaluates
// it). The root element's data-* attributes say what was drawn and when, for
// tests and for the curious.

import { COLORMAPS } from "./colormap.js";
import { decodeArray } from "./codec.js";
import { GridCache, drawMap, gridExtent, shownWindow } from "./draw.js";
import { drawPredictions } from "./predictions.js";
import { panView, pick, transform, zoomView } from "./view.js";
import { plotBox } from "./axes.js";
import { SPEEDS, initialPlayer, pause, play, seek, select, shownIndex, tick } from "./player.js";
import { frameAtStep, hasNewRuns, stepFrames, strideFor, trajectoryKeys } from "./trajectories.js";

const REDRAW_ON = [
  "loss",
  "shape",
  "x_range",
  "y_range",
  "metric",
  "hover",
  "view",
  "points",
  "paths",
  "colormap",
  "log_scale",
  "contours",
  "title",
  "width",
  "height",
  "status",
  "activity",
  "progress",
  "level",
  "done",
];
const PANEL = 240; // predictions panel size, CSS pixels
const PLAYER_TICK_MS = 1000 / 30;
const ZOOM_STEP = 1.15;
const WHEEL_SETTLE_MS = 250;

function floats(bytes) {
  const n = bytes ? bytes.byteLength / 4 : 0;
  return n ? decodeArray({ buffer: bytes, dtype: "float32", shape: [n] }).data : null;
}

function decodeOverlays(list) {
  return (list || []).map((o) => ({ ...o, xyData: floats(o.xy), stepsData: floats(o.steps) }));
}

function element(tag, css, text) {
  const el = document.createElement(tag);
  if (css) el.style.cssText = css;
  if (text) el.textContent = text;
  return el;
}

function render({ model, el }) {
  const root = element("div", "display: inline-flex; gap: 10px; font-family: system-ui, sans-serif; align-items: flex-start;");
  root.className = "lw-landscape";
  const left = element("div", "flex: none;");
  const canvas = element("canvas", "display: block; touch-action: none;");
  canvas.className = "lw-map";
  const bar = element("div", "display: flex; gap: 8px; align-items: center; font-size: 12px; color: #444; padding-left: 58px; min-height: 24px;");
  const reset = element("button", "font-size: 12px;", "Reset view");
  reset.className = "lw-reset";
  reset.title = "Back to the first window";
  const cmap = element("select", "font-size: 12px;");
  for (const name of COLORMAPS) cmap.append(new Option(name, name));
  const logLabel = element("label", "display: inline-flex; gap: 3px; align-items: center;");
  const logBox = element("input");
  logBox.type = "checkbox";
  logLabel.append(logBox, document.createTextNode("log"));
  const statusText = element("span", "margin-left: 4px;");
  statusText.className = "lw-status";
  bar.append(reset, cmap, logLabel, statusText);
  const info = element("div", "font-size: 12px; color: #444; min-height: 16px; padding-left: 58px;");
  info.className = "lw-readout";
  // the trajectory player: shown once a path with steps is on the map
  const playerRow = element("div", "display: none; gap: 8px; align-items: center; font-size: 12px; color: #444; padding-left: 58px; min-height: 24px;");
  playerRow.className = "lw-player";
  const playButton = element("button", "font-size: 12px; min-width: 30px;", "▶");
  playButton.className = "lw-play";
  const slider = element("input", "width: 260px;");
  slider.type = "range";
  slider.min = "0";
  slider.step = "1";
  slider.className = "lw-step-slider";
  const stepLabel = element("span", "min-width: 90px;");
  stepLabel.className = "lw-step";
  const speed = element("select", "font-size: 12px;");
  for (const s of SPEEDS) speed.append(new Option(`${s}x`, String(s)));
  speed.value = "1";
  playerRow.append(playButton, slider, stepLabel, speed);
  left.append(canvas, bar, playerRow, info);
  const panel = element("canvas", "display: none; flex: none;");
  panel.className = "lw-predictions";
  root.append(left, panel);
  el.append(root);

  const cache = new GridCache();
  let state = null;
  let gridVersion = 0;
  let frame = 0;
  let drawn = null; // geometry of the last drawing, for the mouse
  // local copies that run ahead of the model during a gesture
  let localPoints = null;
  let localView = null;
  let gesture = null; // {kind: "point" | "pan", ...}
  let sendFrame = 0;
  let wheelTimer = 0;
  const sentAt = new Map(); // drag_seq -> performance.now() when sent
  let pendingAnswer = null;
  const latencies = [];
  let overlays = decodeOverlays(model.get("overlays"));
  let frames = stepFrames(overlays);
  let seenKeys = trajectoryKeys(overlays);
  let player = initialPlayer(-1);
  let playTimer = 0;

  const readState = () => {
    const shape = model.get("shape") ?? [0, 0];
    return {
      grid: decodeArray({ buffer: model.get("loss"), dtype: "float32", shape }),
      gridVersion,
      xRange: model.get("x_range"),
      yRange: model.get("y_range"),
      metric: model.get("metric"),
      view: localView ?? model.get("view"),
      points: localPoints ?? model.get("points") ?? [],
      paths: model.get("paths") ?? [],
      overlays,
      playerStep: playerStep(),
      colormap: model.get("colormap"),
      log: model.get("log_scale"),
      contours: model.get("contours"),
      title: model.get("title"),
      width: model.get("width"),
      height: model.get("height"),
      status: model.get("status"),
      progress: model.get("progress"),
      dragging: gesture && gesture.kind === "point" ? gesture.name : null,
    };
  };

  const redraw = () => {
    frame = 0;
    try {
      state = readState();
    } catch (err) {
      root.dataset.status = "error";
      info.textContent = `cannot draw: ${err.message}`;
      return;
    }
    const dpr = window.devicePixelRatio || 1;
    const w = Math.round(state.width * dpr);
    const h = Math.round(state.height * dpr);
    if (canvas.width !== w || canvas.height !== h) {
      canvas.width = w;
      canvas.height = h;
      canvas.style.width = `${state.width}px`;
      canvas.style.height = `${state.height}px`;
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    drawn = drawMap(ctx, state, cache);
    drawPanel(dpr);
    const hasGrid = state.grid.shape[0] > 0 && state.grid.shape[1] > 0;
    root.dataset.status = hasGrid ? "drawn" : "empty";
    root.dataset.masked = String(drawn.masked);
    root.dataset.colormap = state.colormap;
    root.dataset.level = String(model.get("level"));
    root.dataset.done = model.get("done") ? "1" : "0";
    root.dataset.view = JSON.stringify(drawn.view);
    root.dataset.gridRange = JSON.stringify([...state.xRange, ...state.yRange]);
    const now = performance.now();
    if (hasGrid && !root.dataset.firstGridAt) root.dataset.firstGridAt = now.toFixed(1);
    if (hasGrid && model.get("done") && model.get("status") !== "computing") {
      root.dataset.doneAt ??= now.toFixed(1);
    }
    if (pendingAnswer !== null) {
      latencies.push(now - pendingAnswer);
      if (latencies.length > 200) latencies.shift();
      root.dataset.answerMs = latencies.map((v) => v.toFixed(1)).join(",");
      pendingAnswer = null;
    }
    const status = model.get("status");
    const failed = status.startsWith("error") || (model.get("activity") || "").startsWith("error");
    statusText.style.color = failed ? "#c00" : "#444";
    const shown =
      status === "computing" ? `computing… ${Math.round(100 * model.get("progress"))}%` : status === "idle" ? "" : status;
    const activity = model.get("activity") || "";
    statusText.textContent = activity ? (shown ? `${shown} · ${activity}` : activity) : shown;
    cmap.value = state.colormap;
    logBox.checked = state.log;
  };
  const schedule = () => {
    if (!frame) frame = requestAnimationFrame(redraw);
  };

  // ----------------------------------------------------------------- player
  // Frames are the recorded steps of all paths on the map; "following" the
  // last frame draws whole paths.
  function playerStep() {
    const k = shownIndex(player, frames.length);
    return k < 0 || (player.follow && !player.playing) ? null : frames[k];
  }
  const showPlayer = () => {
    playerRow.style.display = frames.length ? "flex" : "none";
    slider.max = String(Math.max(0, frames.length - 1));
    const k = shownIndex(player, frames.length);
    slider.value = String(Math.max(0, k));
    const last = frames.length ? frames[frames.length - 1] : 0;
    const step = k < 0 ? 0 : frames[k];
    stepLabel.textContent = `step ${step} / ${last}`;
    playButton.textContent = player.playing ? "❚❚" : "▶";
    playButton.title = player.playing ? "Pause" : "Replay the paths step by step";
    root.dataset.playing = player.playing ? "1" : "0";
    root.dataset.playerStep = String(playerStep() ?? -1);
    root.dataset.trajectories = String(overlays.filter((o) => o.stepsData).length);
  };
  const setPlayer = (next) => {
    player = next;
    clearTimeout(playTimer);
    playTimer = player.playing ? setTimeout(onTick, PLAYER_TICK_MS / Number(speed.value || 1)) : 0;
    showPlayer();
    schedule();
  };
  const onTick = () => {
    let next = player;
    for (let k = strideFor(frames.length); k > 0 && next.playing; k--) next = tick(next, frames.length);
    setPlayer(next);
  };
  const onPlay = () =>
    setPlayer(player.playing ? pause(player, frames.length) : play(player, frames.length));
  const onSlide = () => setPlayer(seek(player, Number(slider.value), frames.length));
  const onPlayerStep = () => {
    const s = model.get("player_step");
    setPlayer(s < 0 ? select(player, -1, frames.length) : select(player, frameAtStep(frames, s), frames.length));
  };
  const onOverlays = () => {
    overlays = decodeOverlays(model.get("overlays"));
    frames = stepFrames(overlays);
    const keys = trajectoryKeys(overlays);
    const fresh = hasNewRuns(seenKeys, keys);
    seenKeys = keys;
    const asked = model.get("player_step") ?? -1;
    if (asked >= 0 && frames.length) {
      // a step asked for from Python before the paths arrived
      setPlayer(select(player, frameAtStep(frames, asked), frames.length));
    } else if (fresh) {
      // new runs arrived (a start was dropped): replay them from the first step
      root.dataset.runs = String(Number(root.dataset.runs || 0) + 1);
      if (frames.length > 1) setPlayer(play(initialPlayer(-1), frames.length));
      else setPlayer(player);
    } else {
      setPlayer(player);
    }
  };

  const drawPanel = (dpr) => {
    const pred = model.get("predictions") || {};
    if (!pred.kind || !pred.values) {
      // no probe yet, or no data a person can see: no panel
      panel.style.display = "none";
      return;
    }
    panel.style.display = "block";
    const size = Math.min(PANEL, state.height);
    panel.width = Math.round(size * dpr);
    panel.height = Math.round(size * dpr);
    panel.style.width = `${size}px`;
    panel.style.height = `${size}px`;
    const ctx = panel.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const results = model.get("probe_results") || {};
    const ok = drawPredictions(ctx, pred, size, size, results[pred.probe]);
    panel.dataset.status = ok ? "drawn" : "waiting";
    panel.dataset.probe = pred.probe || "";
  };

  // ---------------------------------------------------------------- read-out
  const readout = (u, v) => {
    if (!state || !drawn) return "";
    const { box, tf } = drawn;
    if (u < box.x0 || u >= box.x1 || v < box.y0 || v >= box.y1) return "";
    const x = tf.fx(u);
    const y = tf.fy(v);
    let text = `x = ${x.toPrecision(3)}, y = ${y.toPrecision(3)}`;
    const [ny, nx] = state.grid.shape;
    if (nx && ny) {
      const [xa, xb, ya, yb] = gridExtent(state);
      const j = Math.floor(((x - xa) / (xb - xa)) * nx);
      const i = Math.floor(((y - ya) / (yb - ya)) * ny);
      if (i >= 0 && i < ny && j >= 0 && j < nx) {
        const fmt = (name, val) =>
          name === "accuracy" && Number.isFinite(val)
            ? `accuracy ${(100 * val).toFixed(1)}%`
            : `${name} ${Number.isFinite(val) ? val.toPrecision(4) : String(val)}`;
        const parts = [fmt(state.metric, state.grid.data[i * nx + j])];
        for (const [name, bytes] of Object.entries(model.get("hover") || {})) {
          const other = decodeArray({ buffer: bytes, dtype: "float32", shape: [ny, nx] }).data;
          parts.push(fmt(name, other[i * nx + j]));
        }
        text += ": " + parts.join(", ");
      }
    }
    return text;
  };

  // ---------------------------------------------------------------- gestures
  const canvasXY = (ev) => {
    const r = canvas.getBoundingClientRect();
    return [ev.clientX - r.left, ev.clientY - r.top];
  };

  // During a drag each move goes as a custom message: trait syncs wait for
  // the kernel's reply to the previous one (ipywidgets allows one in flight),
  // which would double the time a drag takes to be answered. The final
  // position is synced as state when the drag ends.
  let seqCounter = 0;
  /** The next drag number, remembered with the time it leaves the page. */
  const nextSeq = () => {
    seqCounter = Math.max(seqCounter, model.get("drag_seq") || 0) + 1;
    sentAt.set(seqCounter, performance.now());
    if (sentAt.size > 500) sentAt.delete(sentAt.keys().next().value);
    return seqCounter;
  };
  const sendMove = () => {
    sendFrame = 0;
    if (!localPoints || !gesture || gesture.kind !== "point") return;
    const seq = nextSeq();
    const p = localPoints.find((q) => q.name === gesture.name);
    model.send({ event: "move", seq, name: p.name, x: p.x, y: p.y });
  };
  const sendPoints = () => {
    sendFrame = 0;
    if (!localPoints) return;
    const seq = nextSeq();
    model.set("points", localPoints.map((p) => ({ ...p })));
    model.set("drag_seq", seq);
    model.save_changes();
  };

  const sendView = (view) => {
    model.set("view", view.map(Number));
    model.save_changes();
  };

  const onDown = (ev) => {
    if (!drawn || ev.button !== 0) return;
    const [u, v] = canvasXY(ev);
    const { box } = drawn;
    const points = model.get("points") || [];
    const name = pick(points, drawn.tf, u, v);
    if (name) {
      gesture = { kind: "point", name };
      localPoints = points.map((p) => ({ ...p }));
    } else if (u >= box.x0 && u < box.x1 && v >= box.y0 && v < box.y1) {
      gesture = { kind: "pan", u, v, view: shownWindow(state).slice() };
      canvas.style.cursor = "grabbing";
    } else {
      return;
    }
    canvas.setPointerCapture?.(ev.pointerId);
    ev.preventDefault();
  };

  const onMove = (ev) => {
    const [u, v] = canvasXY(ev);
    if (!gesture) {
      info.textContent = readout(u, v);
      if (drawn) {
        const over = pick(model.get("points") || [], drawn.tf, u, v);
        canvas.style.cursor = over ? "grab" : "default";
      }
      return;
    }
    if (gesture.kind === "point") {
      const { tf } = drawn;
      const x = tf.fx(u);
      const y = tf.fy(v);
      localPoints = localPoints.map((p) => (p.name === gesture.name ? { ...p, x, y } : p));
      info.textContent = `${gesture.name}: x = ${x.toPrecision(3)}, y = ${y.toPrecision(3)}`;
      if (!sendFrame) sendFrame = requestAnimationFrame(sendMove);
    } else {
      const box = plotBox(state.width, state.height);
      const tf0 = transform(box, gesture.view);
      const dx = tf0.fx(gesture.u) - tf0.fx(u);
      const dy = tf0.fy(gesture.v) - tf0.fy(v);
      localView = panView(gesture.view, dx, dy);
    }
    schedule();
  };

  const onUp = () => {
    if (!gesture) return;
    const done = gesture;
    gesture = null;
    canvas.style.cursor = "default";
    if (done.kind === "point") {
      if (sendFrame) cancelAnimationFrame(sendFrame);
      sendPoints();
      // the kernel may have the final position already (from the last move):
      // say that the point was dropped, for work that waits for the drop
      model.send({ event: "drop", name: done.name });
      localPoints = null;
    } else if (localView) {
      const view = localView;
      sendView(view);
      localView = null;
    }
    schedule();
  };

  const onWheel = (ev) => {
    if (!drawn) return;
    const [u, v] = canvasXY(ev);
    const { box, tf } = drawn;
    if (u < box.x0 || u >= box.x1 || v < box.y0 || v >= box.y1) return;
    ev.preventDefault();
    const factor = ev.deltaY > 0 ? ZOOM_STEP : 1 / ZOOM_STEP;
    localView = zoomView(shownWindow(state), tf.fx(u), tf.fy(v), factor);
    schedule();
    clearTimeout(wheelTimer);
    wheelTimer = setTimeout(() => {
      if (localView) sendView(localView);
      localView = null;
    }, WHEEL_SETTLE_MS);
  };

  const onReset = () => {
    const home = model.get("home");
    if (home && home.length === 4) sendView(home);
    else {
      model.set("view", []);
      model.save_changes();
    }
  };

  const kernelMs = [];
  const onAnswered = () => {
    const answer = model.get("answered") || {};
    const seq = answer.seq;
    if (sentAt.has(seq)) {
      kernelMs.push(answer.kernel_ms);
      if (kernelMs.length > 200) kernelMs.shift();
      root.dataset.kernelMs = kernelMs.join(",");
      pendingAnswer = sentAt.get(seq);
      sentAt.delete(seq);
      schedule();
    }
  };

  const onLeave = () => {
    if (!gesture) info.textContent = "";
  };
  const onColormap = () => {
    model.set("colormap", cmap.value);
    model.save_changes();
  };
  const onLog = () => {
    model.set("log_scale", logBox.checked);
    model.save_changes();
  };

  canvas.addEventListener("pointerdown", onDown);
  canvas.addEventListener("pointermove", onMove);
  canvas.addEventListener("pointerup", onUp);
  canvas.addEventListener("pointercancel", onUp);
  canvas.addEventListener("mouseleave", onLeave);
  canvas.addEventListener("wheel", onWheel, { passive: false });
  reset.addEventListener("click", onReset);
  cmap.addEventListener("change", onColormap);
  logBox.addEventListener("change", onLog);
  playButton.addEventListener("click", onPlay);
  slider.addEventListener("input", onSlide);
  const onGrid = () => {
    gridVersion++;
    schedule();
  };
  const listeners = [
    ["change:loss", onGrid],
    ["change:shape", onGrid],
    ...REDRAW_ON.map((name) => [`change:${name}`, schedule]),
    ["change:predictions", schedule],
    ["change:probe_results", schedule],
    ["change:answered", onAnswered],
    ["change:overlays", onOverlays],
    ["change:player_step", onPlayerStep],
  ];
  for (const [event, fn] of listeners) model.on(event, fn);
  if ((model.get("player_step") ?? -1) >= 0) onPlayerStep();
  else showPlayer();
  redraw();

  return () => {
    if (frame) cancelAnimationFrame(frame);
    if (sendFrame) cancelAnimationFrame(sendFrame);
    clearTimeout(wheelTimer);
    clearTimeout(playTimer);
    for (const [event, fn] of listeners) model.off(event, fn);
  };
}

export default { render };
