// anywidget front-end of landscape_widgets.CurveTrainingWidget: the training
// of a curve between two networks, frame by frame.
//
// Each frame is a loss map on the plane through w1, w2 and the curve's
// control point at that step, with the curve drawn in it. The frames live in
// widget state (so an exported page can replay them) and new ones arrive as
// messages while training runs. This side decodes them, keeps its own list,
// and plays them back; the kernel is only asked to act (train, pause, stop,
// sharpen a frame, move a control point before training). The root's data-*
// attributes say what is shown, for browser tests. The modules:
//   curve/layout.js    the elements and their sizes
//   curve/store.js     the decoded frames and straight segment
//   curve/scene.js     drawing the map and the two line plots
//   curve/pointer.js   the read-out and dragging control points
//   curve/messages.js  messages from and to the kernel
//   drag.js            numbering the moves, timing the kernel's answers

import { sizeCanvas } from "./canvas.js";
import { buildCurveLayout, canvasSizes } from "./curve/layout.js";
import { renderLegend } from "./map/legend.js";
import { attachKernelMessages, kernelSender } from "./curve/messages.js";
import { attachControlDrag } from "./curve/pointer.js";
import { drawFrameMap, drawPlaceholder, drawProfile, drawTrainingLoss } from "./curve/scene.js";
import { FrameStore } from "./curve/store.js";
import { DragLog } from "./drag.js";
import { GridCache } from "./draw.js";
import { frameNotes, statusLine } from "./frames.js";
import { buttonStates, frameInterval, initialPlayer, pause, play, seek, select, shownIndex, tick } from "./player.js";

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

function render({ model, el }) {
  const ui = buildCurveLayout(el);
  const { root, info } = ui;
  const cache = new GridCache();
  const store = new FrameStore();
  const drags = new DragLog(() => performance.now());
  let player = initialPlayer(model.get("selected") ?? -1);
  let playTimer = 0;
  let raf = 0;
  let redraws = 0;
  let drawn = null; // geometry of the last map drawing, for the pointer
  let problem = ""; // a frame or state that could not be decoded, or drawn

  const report = (text) => {
    problem = text;
  };
  const send = kernelSender(model, report);
  const shown = () => {
    const index = shownIndex(player, store.frames.length);
    return { frame: index >= 0 ? store.frames[index] : null, index, drawn };
  };
  const describe = (frame) => problem || pointer.hover() || frameNotes(frame, model.get("editable"));

  function schedule() {
    if (!raf) raf = requestAnimationFrame(redraw);
  }

  function redraw() {
    raf = 0;
    const size = canvasSizes(model.get("width") || 900, model.get("height") || 480);
    root.style.width = `${size.width}px`;
    const dpr = window.devicePixelRatio || 1;
    const { frame, index } = shown();
    const { frames, straight } = store;
    const status = model.get("status") || "";
    try {
      const axes = store.axes(Boolean(model.get("log_scale")));
      const mapCtx = sizeCanvas(ui.mapCanvas, size.mapW, size.mapH, dpr);
      if (frame) {
        const controls = pointer.controlsOf(frame, index);
        const scene = { frame, controls, dragging: pointer.dragging(), straight, size, cache };
        drawn = drawFrameMap(mapCtx, model, scene);
        renderLegend(ui.mapLegend, drawn.state);
        root.dataset.view = JSON.stringify(drawn.view);
      } else {
        drawn = null;
        pointer.clearHover();
        const isError = status.startsWith("error");
        drawPlaceholder(mapCtx, size.mapW, size.mapH, isError ? status : "preparing…", isError);
        delete root.dataset.view;
      }
      drawProfile(sizeCanvas(ui.profileCanvas, size.sideW, size.plotH, dpr), {
        frame,
        straight,
        axis: axes.profile,
        kind: model.get("curve_kind"),
        size,
        empty: frames.length ? "no profile" : "preparing…",
      });
      drawTrainingLoss(sizeCanvas(ui.lossCanvas, size.sideW, size.plotH, dpr), {
        frames,
        shown: index,
        axis: axes.loss,
        totalSteps: model.get("total_steps"),
        size,
      });
    } catch (err) {
      problem = `cannot draw: ${err.message}`;
    }
    updateControls(index, frame, status);
    info.style.color = problem ? "#c00" : "#444";
    if (!pointer.dragging()) info.textContent = describe(frame);

    root.dataset.status = status;
    root.dataset.frames = String(frames.length);
    root.dataset.shown = String(index);
    root.dataset.playing = player.playing ? "1" : "0";
    root.dataset.drawn = String(++redraws);
    if (drags.redrawn()) Object.assign(root.dataset, drags.attributes());
  }

  function updateControls(index, frame, status) {
    const count = store.frames.length;
    ui.slider.max = String(Math.max(0, count - 1));
    ui.slider.value = String(Math.max(0, index));
    ui.slider.disabled = count < 2;
    ui.frameLabel.textContent = frame ? `frame ${index + 1}/${count} · step ${frame.step}` : "no frames yet";
    ui.playButton.textContent = player.playing ? "❚❚" : "▶";
    ui.playButton.title = player.playing ? "Pause the replay" : "Play the recorded frames";
    ui.playButton.disabled = count < 2;
    const can = buttonStates(status, frame);
    ui.trainButton.disabled = !can.train;
    ui.pauseButton.disabled = !can.pause;
    ui.stopButton.disabled = !can.stop;
    ui.sharpen.disabled = !can.sharpen;
    ui.statusText.textContent = statusLine(status, model.get("progress"), model.get("total_steps"));
    ui.statusText.style.color = status.startsWith("error") ? "#c00" : "#444";
  }

  // ---------------------------------------------------------------- player
  const setPlayer = (next) => {
    player = next;
    clearTimeout(playTimer);
    playTimer = player.playing ? setTimeout(onTick, frameInterval(ui.speed.value)) : 0;
    schedule();
  };
  const count = () => store.frames.length;
  const onTick = () => setPlayer(tick(player, count()));
  const onPlay = () => setPlayer(player.playing ? pause(player, count()) : play(player, count()));
  const onSlide = () => setPlayer(seek(player, Number(ui.slider.value), count()));
  const onSpeed = () => {
    if (player.playing) setPlayer(player);
  };
  const onSelected = () => setPlayer(select(player, model.get("selected"), count()));

  // ------------------------------------------------------------ the state
  const loadFrames = () => {
    try {
      store.load(model.get("frames"));
      problem = "";
    } catch (err) {
      problem = `cannot read the frames: ${err.message}`;
    }
  };
  const loadStraight = () => {
    try {
      store.loadStraight(model.get("straight"));
    } catch (err) {
      problem = `cannot read the straight segment: ${err.message}`;
    }
  };
  const onFrames = () => {
    loadFrames();
    schedule();
  };
  const onStraight = () => {
    loadStraight();
    schedule();
  };

  // ------------------------------------------------------------ wiring
  const pointer = attachControlDrag({ model, canvas: ui.mapCanvas, info, drags, send, shown, describe, schedule });
  const stopMessages = attachKernelMessages({
    model,
    ui,
    store,
    drags,
    pointer,
    send,
    shownIndex: () => shown().index,
    report,
    schedule,
  });
  ui.playButton.addEventListener("click", onPlay);
  ui.slider.addEventListener("input", onSlide);
  ui.speed.addEventListener("change", onSpeed);
  const listeners = [
    ["change:frames", onFrames],
    ["change:straight", onStraight],
    ["change:selected", onSelected],
    ...REDRAW_ON.map((name) => [`change:${name}`, schedule]),
  ];
  for (const [event, fn] of listeners) model.on(event, fn);
  loadFrames();
  loadStraight();
  redraw();

  return () => {
    if (raf) cancelAnimationFrame(raf);
    clearTimeout(playTimer);
    pointer.dispose();
    stopMessages();
    for (const [event, fn] of listeners) model.off(event, fn);
  };
}

export default { render };
