// anywidget front-end of landscape_widgets.CurveTrainingWidget: the training
// of a curve between two networks, frame by frame.
//
// Each frame is a loss map on the plane through w1, w2 and the curve's
// control point at that step, with the curve drawn in it. The frames live in
// widget state (so an exported page can replay them) and new ones arrive as
// messages while training runs. This side decodes them, keeps its own list,
// and plays them back; the kernel is only asked to act (train, pause, stop,
// sharpen a frame, move a control point before training). The root's data-*
// attributes say what is shown, for browser tests.

import { plotBox } from "./axes.js";
import { FONT, GridCache, drawMap, gridExtent } from "./draw.js";
import {
  applyFrame,
  controlNames,
  curveName,
  decodeFrame,
  decodeStraight,
  fitText,
  formatEpoch,
  formatValue,
  leavesPlane,
  lossSeries,
  provisionalCurve,
  stepRange,
  valueAt,
  withBarrier,
} from "./frames.js";
import { drawLinePlot, evenT, fixedAxis } from "./lineplot.js";
import {
  SPEEDS,
  buttonStates,
  frameInterval,
  initialPlayer,
  pause,
  play,
  seek,
  select,
  shownIndex,
  tick,
} from "./player.js";
import { pick } from "./view.js";

const CURVE_COLOR = "#e6194b";
const SEGMENT_COLOR = "#444444"; // on the map, where a white halo surrounds it
const SEGMENT_PLOT_COLOR = "#888888";
const SEGMENT_DASH = [6, 4];
const GAP = 8;
const ROW_H = 28;
const INFO_H = 18;
// the two rows of controls and the info line under the plots
const CONTROLS_H = 2 * ROW_H + INFO_H + 3 * GAP;
const MAP_SHARE = 0.55;
// how long a dragged point stays where it was dropped without the kernel's answer
const SETTLE_MS = 4000;

const REDRAW_ON = [
  "color_range",
  "log_scale",
  "colormap",
  "contours",
  "status",
  "progress",
  "total_steps",
  "curve_kind",
  "title",
  "width",
  "height",
];

function element(tag, css, text, className) {
  const el = document.createElement(tag);
  if (css) el.style.cssText = css;
  if (text) el.textContent = text;
  if (className) el.className = className;
  return el;
}

/** Canvas sizes for a widget of width x height CSS pixels. */
function layout(width, height) {
  const topH = Math.max(200, height - CONTROLS_H);
  const mapW = Math.max(260, Math.round(width * MAP_SHARE));
  const sideW = Math.max(180, width - mapW - GAP);
  const plotH = Math.floor((topH - GAP) / 2);
  return { width: mapW + GAP + sideW, topH, mapW, sideW, plotH };
}

// the font drawMap writes the title in, to know whether a title fits
const TITLE_FONT = "bold 13px system-ui, -apple-system, 'Segoe UI', sans-serif";
let measureCtx = null;
function measureTitle(text) {
  measureCtx ??= document.createElement("canvas").getContext("2d");
  measureCtx.font = TITLE_FONT;
  return measureCtx.measureText(text).width;
}

function sizeCanvas(canvas, w, h, dpr) {
  const pw = Math.round(w * dpr);
  const ph = Math.round(h * dpr);
  if (canvas.width !== pw || canvas.height !== ph) {
    canvas.width = pw;
    canvas.height = ph;
    canvas.style.width = `${w}px`;
    canvas.style.height = `${h}px`;
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}

/** The fixed colour scale from `color_range`, or undefined (each grid's own range). */
function colorRange(value) {
  if (!Array.isArray(value) || value.length !== 2) return undefined;
  const [min, max] = value.map(Number);
  return Number.isFinite(min) && Number.isFinite(max) && max >= min ? { min, max } : undefined;
}

/** The map's placeholder before the first frame: the frame of the plot and a word. */
function drawPlaceholder(ctx, width, height, text, isError) {
  const box = plotBox(width, height);
  ctx.save();
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, width, height);
  ctx.fillStyle = "#f4f4f4";
  ctx.fillRect(box.x0, box.y0, box.x1 - box.x0, box.y1 - box.y0);
  ctx.strokeStyle = "#222";
  ctx.lineWidth = 1;
  ctx.strokeRect(box.x0 + 0.5, box.y0 + 0.5, box.x1 - box.x0 - 1, box.y1 - box.y0 - 1);
  ctx.font = FONT;
  ctx.fillStyle = isError ? "#c00" : "#222";
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  ctx.fillText(text, (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2, box.x1 - box.x0 - 12);
  ctx.restore();
}

function render({ model, el }) {
  // ------------------------------------------------------------------ DOM
  const root = element(
    "div",
    "display: inline-flex; flex-direction: column; gap: 8px; box-sizing: border-box; " +
      "font: 12px system-ui, -apple-system, 'Segoe UI', sans-serif; color: #333;",
    null,
    "lw-curve-training",
  );
  const top = element("div", "display: flex; gap: 8px; align-items: flex-start;");
  const mapCanvas = element("canvas", "display: block; flex: none; touch-action: none;", null, "lw-curve-map");
  const side = element("div", "display: flex; flex-direction: column; gap: 8px; flex: none;");
  const profileCanvas = element("canvas", "display: block;", null, "lw-curve-profile");
  const lossCanvas = element("canvas", "display: block;", null, "lw-curve-loss");
  side.append(profileCanvas, lossCanvas);
  top.append(mapCanvas, side);

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
  );
  frameLabel.className = "lw-frame-label";
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
  const statusText = element("span", "flex: 1 1 auto; overflow: hidden; text-overflow: ellipsis; margin-left: 4px;");
  statusText.className = "lw-status";
  trainRow.append(trainButton, pauseButton, stopButton, statusText);

  const info = element(
    "div",
    `height: ${INFO_H}px; line-height: ${INFO_H}px; color: #444; ` +
      "overflow: hidden; white-space: nowrap; text-overflow: ellipsis;",
  );
  info.className = "lw-readout";
  root.append(top, playerRow, trainRow, info);
  el.append(root);

  // ---------------------------------------------------------------- state
  const cache = new GridCache();
  let frames = [];
  let framesRev = 0;
  let straight = { profile: new Float32Array(0), barrier: null };
  let straightRev = 0;
  let version = 0; // numbers decoded frames: the map's cache key
  let player = initialPlayer(model.get("selected") ?? -1);
  let playTimer = 0;
  let raf = 0;
  let redraws = 0;
  let drawn = null; // geometry of the last map drawing, for the pointer
  let problem = ""; // a frame or state that could not be decoded
  let hoverText = "";
  let axesKey = null;
  let axes = { profile: null, loss: null };

  // a drag of a control point: the local positions run ahead of the kernel
  let drag = null; // {index, name, frame, moved}
  let local = null; // {frame, controls}: shown instead of that frame's controls
  let settle = null; // {seq, timer}: the drop, waiting for the kernel's answer
  let sendRaf = 0;
  let seqCounter = 0;
  const sentAt = new Map(); // seq -> performance.now() when the move left
  let answered = []; // send times of moves answered since the last redraw
  const answerMs = [];
  const kernelMs = [];

  const send = (content) => {
    try {
      model.send(content);
    } catch (err) {
      // an exported page has no kernel to talk to
      problem = `cannot reach the kernel: ${err.message}`;
    }
  };

  const loadFrames = () => {
    try {
      frames = (model.get("frames") || []).map((f) => decodeFrame(f, null, ++version));
      problem = "";
    } catch (err) {
      problem = `cannot read the frames: ${err.message}`;
    }
    framesRev++;
  };
  const loadStraight = () => {
    try {
      straight = decodeStraight(model.get("straight"));
    } catch (err) {
      problem = `cannot read the straight segment: ${err.message}`;
    }
    straightRev++;
  };

  /** The y axes of the small plots, fixed while frames only get appended. */
  const fixedAxes = (log) => {
    const key = `${framesRev}|${straightRev}|${log}`;
    if (key !== axesKey) {
      axesKey = key;
      axes = {
        profile: fixedAxis([straight.profile, ...frames.map((f) => f.profile)], log),
        loss: fixedAxis([frames.map((f) => f.loss)], true),
      };
    }
    return axes;
  };

  const controlsOf = (frame, shown) => (local && local.frame === shown ? local.controls : frame.controls);

  const mapState = (frame, shown, size) => {
    const kind = model.get("curve_kind");
    const controls = controlsOf(frame, shown);
    const names = controlNames(controls.length);
    const moving = controls !== frame.controls;
    const curveLabel = kind === "bezier" ? "Bezier curve" : "polygonal chain";
    const status = model.get("status");
    const when = `step ${frame.step} · epoch ${formatEpoch(frame.epoch)}`;
    const name = model.get("title") || curveName(kind, controls.length);
    // drawMap centres the title over the plot and does not shorten it
    const title = fitText([`${name} · ${when}`, when, `step ${frame.step}`], size.mapW - 44, measureTitle);
    return {
      grid: frame.grid,
      gridVersion: frame.version,
      xRange: frame.xRange,
      yRange: frame.yRange,
      colormap: model.get("colormap"),
      log: model.get("log_scale"),
      contours: model.get("contours"),
      range: colorRange(model.get("color_range")),
      metric: "loss",
      points: [
        { name: "w1", x: frame.w1[0], y: frame.w1[1], role: "anchor", label: "w1" },
        { name: "w2", x: frame.w2[0], y: frame.w2[1], role: "anchor", label: "w2" },
        ...controls.map(([x, y], k) => ({ name: names[k], x, y, role: "path", label: names[k] })),
      ],
      paths: [],
      overlays: [
        {
          name: "segment",
          label: withBarrier("segment", straight.barrier),
          color: SEGMENT_COLOR,
          xyData: Float32Array.from([...frame.w1, ...frame.w2]),
        },
        {
          name: "curve",
          label: moving ? `${curveLabel} (moving)` : withBarrier(curveLabel, frame.barrier),
          color: CURVE_COLOR,
          xyData: moving ? provisionalCurve(kind, frame.w1, controls, frame.w2) : frame.curve,
        },
      ],
      title,
      // drawMap draws its progress bar for "computing"
      status: status === "training" ? "computing" : status,
      progress: model.get("progress"),
      dragging: drag ? drag.name : null,
      width: size.mapW,
      height: size.topH,
    };
  };

  const drawProfile = (ctx, frame, size, log) => {
    const { profile } = fixedAxes(log);
    const kind = model.get("curve_kind");
    const series = [];
    const legend = [];
    if (frame && frame.profile.length) {
      series.push({ xs: evenT(frame.profile.length), ys: frame.profile, color: CURVE_COLOR, width: 2 });
      legend.push({
        label: withBarrier(kind === "bezier" ? "Bezier curve" : "polygonal chain", frame.barrier),
        short: withBarrier("curve", frame.barrier),
        color: CURVE_COLOR,
      });
    }
    if (straight.profile.length) {
      // drawn first, so the curve's line lies on top where they meet
      series.unshift({
        xs: evenT(straight.profile.length),
        ys: straight.profile,
        color: SEGMENT_PLOT_COLOR,
        dash: SEGMENT_DASH,
        width: 1.5,
      });
      legend.push({
        label: withBarrier("segment", straight.barrier),
        short: withBarrier("straight", straight.barrier),
        color: SEGMENT_PLOT_COLOR,
        dash: SEGMENT_DASH,
      });
    }
    drawLinePlot(ctx, {
      width: size.sideW,
      height: size.plotH,
      title: "loss along the curve",
      xLabel: "t",
      x: [0, 1],
      y: series.length ? profile : null,
      series,
      legend,
      empty: frames.length ? "no profile" : "preparing…",
    });
  };

  const drawLoss = (ctx, shown, size) => {
    const { loss } = fixedAxes(model.get("log_scale"));
    const { xs, ys } = lossSeries(frames, shown);
    const frame = shown >= 0 ? frames[shown] : null;
    const here = frame && frame.loss != null;
    drawLinePlot(ctx, {
      width: size.sideW,
      height: size.plotH,
      title: "training loss",
      xLabel: "step",
      x: stepRange(frames, model.get("total_steps")),
      y: loss,
      series: [{ xs, ys, color: "#1f77b4", width: 1.8 }],
      markers: here ? [{ x: frame.step, y: frame.loss, color: "#1f77b4" }] : [],
      legend: here ? [{ label: `step ${frame.step}: ${formatValue(frame.loss)}`, color: "#1f77b4" }] : [],
      empty: "no training yet",
    });
  };

  const statusLine = () => {
    const status = model.get("status") || "";
    const pct = Math.round(100 * (Number(model.get("progress")) || 0));
    const total = model.get("total_steps");
    if (status === "preparing") return "preparing…";
    if (status.startsWith("error")) return status;
    const of = total ? ` of ${total} steps` : "";
    if (status === "ready") return total ? `ready · ${total} steps planned` : "ready";
    return `${status} · ${pct}%${of}`;
  };

  const notes = (frame) => {
    if (!frame) return "";
    const parts = [];
    if (frame.hires) parts.push("high-resolution frame");
    if (leavesPlane(frame)) parts.push(`the curve leaves this plane (by up to ${formatValue(frame.offPlane)})`);
    if (model.get("editable") && frame.controls.length) {
      const what = frame.controls.length > 1 ? "a control point" : "theta";
      parts.push(`drag ${what} to bend the curve before training`);
    }
    return parts.join(" · ");
  };

  const updateControls = (shown, frame) => {
    const count = frames.length;
    const status = model.get("status") || "";
    slider.max = String(Math.max(0, count - 1));
    slider.value = String(Math.max(0, shown));
    slider.disabled = count < 2;
    frameLabel.textContent = frame ? `frame ${shown + 1}/${count} · step ${frame.step}` : "no frames yet";
    playButton.textContent = player.playing ? "❚❚" : "▶";
    playButton.title = player.playing ? "Pause the replay" : "Play the recorded frames";
    playButton.disabled = count < 2;
    const can = buttonStates(status, frame);
    trainButton.disabled = !can.train;
    pauseButton.disabled = !can.pause;
    stopButton.disabled = !can.stop;
    sharpen.disabled = !can.sharpen;
    statusText.textContent = statusLine();
    statusText.style.color = status.startsWith("error") ? "#c00" : "#444";
  };

  const redraw = () => {
    raf = 0;
    const size = layout(model.get("width") || 900, model.get("height") || 480);
    root.style.width = `${size.width}px`;
    const dpr = window.devicePixelRatio || 1;
    const count = frames.length;
    const shown = shownIndex(player, count);
    const frame = shown >= 0 ? frames[shown] : null;
    const status = model.get("status") || "";
    try {
      const mapCtx = sizeCanvas(mapCanvas, size.mapW, size.topH, dpr);
      if (frame) {
        drawn = drawMap(mapCtx, mapState(frame, shown, size), cache);
        root.dataset.view = JSON.stringify(drawn.view);
      } else {
        drawn = null;
        hoverText = "";
        const isError = status.startsWith("error");
        drawPlaceholder(mapCtx, size.mapW, size.topH, isError ? status : "preparing…", isError);
        delete root.dataset.view;
      }
      drawProfile(sizeCanvas(profileCanvas, size.sideW, size.plotH, dpr), frame, size, Boolean(model.get("log_scale")));
      drawLoss(sizeCanvas(lossCanvas, size.sideW, size.plotH, dpr), shown, size);
    } catch (err) {
      problem = `cannot draw: ${err.message}`;
    }
    updateControls(shown, frame);
    info.style.color = problem ? "#c00" : "#444";
    if (!drag) info.textContent = problem || hoverText || notes(frame);

    root.dataset.status = status;
    root.dataset.frames = String(count);
    root.dataset.shown = String(shown);
    root.dataset.playing = player.playing ? "1" : "0";
    root.dataset.drawn = String(++redraws);
    if (answered.length) {
      const now = performance.now();
      for (const t of answered) answerMs.push(now - t);
      answered = [];
      answerMs.splice(0, Math.max(0, answerMs.length - 200));
      root.dataset.answerMs = answerMs.map((v) => v.toFixed(1)).join(",");
    }
  };
  const schedule = () => {
    if (!raf) raf = requestAnimationFrame(redraw);
  };

  // --------------------------------------------------------------- player
  const setPlayer = (next) => {
    player = next;
    clearTimeout(playTimer);
    playTimer = player.playing ? setTimeout(onTick, frameInterval(speed.value)) : 0;
    schedule();
  };
  const onTick = () => setPlayer(tick(player, frames.length));
  const onPlay = () => setPlayer(player.playing ? pause(player, frames.length) : play(player, frames.length));
  const onSlide = () => setPlayer(seek(player, Number(slider.value), frames.length));
  const onSpeed = () => {
    if (player.playing) setPlayer(player);
  };
  const onSelected = () => setPlayer(select(player, model.get("selected"), frames.length));

  // -------------------------------------------------------------- kernel
  const onMessage = (content, buffers) => {
    if (!content || typeof content !== "object") return;
    if (content.event === "frame") {
      let frame;
      try {
        frame = decodeFrame(content.frame, buffers || [], ++version);
      } catch (err) {
        problem = `cannot read frame ${content.index}: ${err.message}`;
        schedule();
        return;
      }
      const next = applyFrame(frames, content.index, frame);
      if (next.changed) {
        frames = next.frames;
        framesRev++;
        problem = "";
        // a new frame while playing: the timer carries on up to it
        schedule();
      }
    } else if (content.event === "answer") {
      onAnswer(content);
    }
  };

  const onAnswer = ({ seq, kernel_ms: ms }) => {
    if (!sentAt.has(seq)) return;
    answered.push(sentAt.get(seq));
    // moves the kernel skipped (it answers the newest) will get no answer
    for (const s of sentAt.keys()) if (s <= seq) sentAt.delete(s);
    kernelMs.push(Number(ms));
    kernelMs.splice(0, Math.max(0, kernelMs.length - 200));
    root.dataset.kernelMs = kernelMs.map((v) => v.toFixed(1)).join(",");
    if (settle && seq >= settle.seq) {
      clearTimeout(settle.timer);
      settle = null;
      local = null;
    }
    schedule();
  };

  // A clicked button stays disabled until the kernel's next status redraws the row, so a
  // double click cannot ask twice.
  const control = (action) => (ev) => {
    ev.currentTarget.disabled = true;
    send({ event: "control", action });
  };
  const onSharpen = () => {
    const shown = shownIndex(player, frames.length);
    if (shown >= 0) send({ event: "sharpen", index: shown });
  };

  // ------------------------------------------------------------- dragging
  const canvasXY = (ev) => {
    const r = mapCanvas.getBoundingClientRect();
    return [ev.clientX - r.left, ev.clientY - r.top];
  };
  const shownFrame = () => {
    const shown = shownIndex(player, frames.length);
    return shown >= 0 ? [frames[shown], shown] : [null, -1];
  };
  const draggable = (frame, shown) => {
    const controls = controlsOf(frame, shown);
    const names = controlNames(controls.length);
    return controls.map(([x, y], k) => ({ name: names[k], x, y, role: "path" }));
  };

  const sendMove = (final) => {
    const seq = ++seqCounter;
    sentAt.set(seq, performance.now());
    if (sentAt.size > 500) sentAt.delete(sentAt.keys().next().value);
    const [x, y] = local.controls[drag.index];
    send({ event: "move", seq, index: drag.index, x, y, final });
    return seq;
  };
  const onMoveFrame = () => {
    sendRaf = 0;
    if (drag && local) sendMove(false);
  };

  const onDown = (ev) => {
    if (ev.button !== 0 || !drawn || !model.get("editable")) return;
    const [frame, shown] = shownFrame();
    if (!frame) return;
    const [u, v] = canvasXY(ev);
    const points = draggable(frame, shown);
    const name = pick(points, drawn.tf, u, v);
    if (!name) return;
    if (settle) {
      clearTimeout(settle.timer);
      settle = null;
    }
    drag = { index: points.findIndex((p) => p.name === name), name, frame: shown, moved: false };
    local = { frame: shown, controls: controlsOf(frame, shown).map((c) => c.slice()) };
    mapCanvas.setPointerCapture?.(ev.pointerId);
    ev.preventDefault();
    schedule();
  };

  const onMove = (ev) => {
    const [u, v] = canvasXY(ev);
    if (!drawn) return;
    const { box, tf } = drawn;
    if (!drag) {
      const [frame, shown] = shownFrame();
      const inside = u >= box.x0 && u < box.x1 && v >= box.y0 && v < box.y1;
      let text = "";
      if (frame && inside) {
        const x = tf.fx(u);
        const y = tf.fy(v);
        const extent = gridExtent({ grid: frame.grid, xRange: frame.xRange, yRange: frame.yRange });
        const val = valueAt(frame.grid, extent, x, y);
        text = `x = ${x.toPrecision(3)}, y = ${y.toPrecision(3)}`;
        if (val !== undefined) text += `: loss ${formatValue(val)}`;
      }
      const over = frame && model.get("editable") && pick(draggable(frame, shown), tf, u, v);
      mapCanvas.style.cursor = over ? "grab" : "default";
      if (text !== hoverText) {
        hoverText = text;
        info.textContent = problem || hoverText || notes(frame);
      }
      return;
    }
    // the point stays inside the plot, where a person can still see and grab it
    const cu = Math.min(Math.max(u, box.x0), box.x1);
    const cv = Math.min(Math.max(v, box.y0), box.y1);
    const x = tf.fx(cu);
    const y = tf.fy(cv);
    local.controls[drag.index] = [x, y];
    drag.moved = true;
    mapCanvas.style.cursor = "grabbing";
    info.textContent = `${drag.name}: x = ${x.toPrecision(3)}, y = ${y.toPrecision(3)}`;
    if (!sendRaf) sendRaf = requestAnimationFrame(onMoveFrame);
    schedule();
  };

  const endDrag = () => {
    if (!drag) return;
    if (sendRaf) cancelAnimationFrame(sendRaf);
    sendRaf = 0;
    if (drag.moved) {
      const seq = sendMove(true);
      const timer = setTimeout(() => {
        // no answer (no kernel, or it failed): show what the frames say
        if (settle && settle.seq === seq) {
          settle = null;
          local = null;
          schedule();
        }
      }, SETTLE_MS);
      settle = { seq, timer };
    } else {
      local = null;
    }
    drag = null;
    mapCanvas.style.cursor = "default";
    schedule();
  };

  const onLeave = () => {
    if (drag) return;
    hoverText = "";
    schedule();
  };

  const onEditable = () => {
    if (!model.get("editable") && drag) {
      // training started under the pointer: the kernel's frames win
      if (sendRaf) cancelAnimationFrame(sendRaf);
      sendRaf = 0;
      drag = null;
      local = null;
    }
    schedule();
  };

  // ------------------------------------------------------------ wiring
  mapCanvas.addEventListener("pointerdown", onDown);
  mapCanvas.addEventListener("pointermove", onMove);
  mapCanvas.addEventListener("pointerup", endDrag);
  mapCanvas.addEventListener("pointercancel", endDrag);
  mapCanvas.addEventListener("mouseleave", onLeave);
  playButton.addEventListener("click", onPlay);
  slider.addEventListener("input", onSlide);
  speed.addEventListener("change", onSpeed);
  sharpen.addEventListener("click", onSharpen);
  const onTrain = control("start");
  const onPause = control("pause");
  const onStop = control("stop");
  trainButton.addEventListener("click", onTrain);
  pauseButton.addEventListener("click", onPause);
  stopButton.addEventListener("click", onStop);

  const listeners = [
    [
      "change:frames",
      () => {
        loadFrames();
        schedule();
      },
    ],
    [
      "change:straight",
      () => {
        loadStraight();
        schedule();
      },
    ],
    ["change:selected", onSelected],
    ["change:editable", onEditable],
    ...REDRAW_ON.map((name) => [`change:${name}`, schedule]),
    ["msg:custom", onMessage],
  ];
  for (const [event, fn] of listeners) model.on(event, fn);
  loadFrames();
  loadStraight();
  redraw();

  return () => {
    if (raf) cancelAnimationFrame(raf);
    if (sendRaf) cancelAnimationFrame(sendRaf);
    clearTimeout(playTimer);
    if (settle) clearTimeout(settle.timer);
    for (const [event, fn] of listeners) model.off(event, fn);
  };
}

export default { render };
