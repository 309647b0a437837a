// The mouse on the map: dragging a probe or path point moves it, dragging the
// background pans, the wheel zooms, and hovering shows the read-out. The
// points and window of a gesture run ahead of the model, which hears of them
// as follows.
//
// During a point's drag each move goes as a custom message, at most one per
// animation frame: trait syncs wait for the kernel's reply to the previous one
// (ipywidgets allows one in flight), which would double the time a drag takes
// to be answered. The final position is synced as state when the drag ends,
// followed by a "drop" message. A pan or zoom goes to `view` when the gesture
// ends (the wheel's once it settles), and the kernel re-evaluates the window.

import { plotBox } from "../axes.js";
import { followPointer, listen, pointerXY } from "../dom.js";
import { shownWindow } from "../draw.js";
import { panView, pick, transform, zoomView } from "../view.js";
import { readout } from "./state.js";

const ZOOM_STEP = 1.15;
const WHEEL_SETTLE_MS = 250;

/** Whether canvas pixel (u, v) is inside the plot area `box`. */
function inside(box, u, v) {
  return u >= box.x0 && u < box.x1 && v >= box.y0 && v < box.y1;
}

/**
 * Listen to the mouse on the map's canvas.
 *
 * @param {object} o
 * @param {object} o.model the widget's model
 * @param {HTMLCanvasElement} o.canvas
 * @param {HTMLElement} o.info the read-out line
 * @param {import("../drag.js").DragLog} o.drags numbers the moves
 * @param {() => {state: object, drawn: object}} o.shown what the last redraw drew
 * @param {() => void} o.schedule asks for a redraw
 * @returns {{points: Function, view: Function, dragging: Function, dispose: Function}}
 *   the points and window of the gesture in progress (null when none), the
 *   name of the point dragged, and a function that stops listening
 */
export function attachMapGestures({ model, canvas, info, drags, shown, schedule }) {
  let gesture = null; // {kind: "point", name} or {kind: "pan", u, v, view}
  let localPoints = null;
  let localView = null;
  let sendFrame = 0;
  let wheelTimer = 0;

  const sendMove = () => {
    sendFrame = 0;
    if (!localPoints || !gesture || gesture.kind !== "point") return;
    const p = localPoints.find((q) => q.name === gesture.name);
    model.send(drags.move({ name: p.name, x: p.x, y: p.y }, model.get("drag_seq")));
  };
  const sendPoints = () => {
    sendFrame = 0;
    if (!localPoints) return;
    const seq = drags.next(model.get("drag_seq"));
    model.set("points", localPoints.map((p) => ({ ...p })));
    model.set("drag_seq", seq);
    model.save_changes();
  };
  const sendView = (view) => {
    model.set("view", view.map(Number));
    model.save_changes();
  };

  const onDown = (ev) => {
    const { state, drawn } = shown();
    if (!drawn || ev.button !== 0) return;
    const [u, v] = pointerXY(canvas, ev);
    const points = model.get("points") || [];
    const name = pick(points, drawn.tf, u, v);
    if (name) {
      gesture = { kind: "point", name };
      localPoints = points.map((p) => ({ ...p }));
    } else if (inside(drawn.box, u, v)) {
      gesture = { kind: "pan", u, v, view: shownWindow(state).slice() };
      canvas.style.cursor = "grabbing";
    } else {
      return;
    }
    canvas.setPointerCapture?.(ev.pointerId);
    ev.preventDefault();
  };

  const onMove = (ev) => {
    const { state, drawn } = shown();
    const [u, v] = pointerXY(canvas, ev);
    if (!gesture) {
      info.textContent = readout(state, drawn, model.get("hover"), u, v);
      if (drawn) {
        const over = pick(model.get("points") || [], drawn.tf, u, v);
        canvas.style.cursor = over ? "grab" : "default";
      }
      return;
    }
    if (gesture.kind === "point") {
      const x = drawn.tf.fx(u);
      const y = drawn.tf.fy(v);
      localPoints = localPoints.map((p) => (p.name === gesture.name ? { ...p, x, y } : p));
      info.textContent = `${gesture.name}: x = ${x.toPrecision(3)}, y = ${y.toPrecision(3)}`;
      if (!sendFrame) sendFrame = requestAnimationFrame(sendMove);
    } else {
      const tf0 = transform(plotBox(state.width, state.height), gesture.view);
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
      sendView(localView);
      localView = null;
    }
    schedule();
  };

  const onWheel = (ev) => {
    const { state, drawn } = shown();
    if (!drawn) return;
    const [u, v] = pointerXY(canvas, ev);
    if (!inside(drawn.box, u, v)) return;
    ev.preventDefault();
    const factor = ev.deltaY > 0 ? ZOOM_STEP : 1 / ZOOM_STEP;
    localView = zoomView(shownWindow(state), drawn.tf.fx(u), drawn.tf.fy(v), factor);
    schedule();
    clearTimeout(wheelTimer);
    wheelTimer = setTimeout(() => {
      if (localView) sendView(localView);
      localView = null;
    }, WHEEL_SETTLE_MS);
  };

  const onLeave = () => {
    if (!gesture) info.textContent = "";
  };

  const stopFollowing = followPointer(canvas, { down: onDown, move: onMove, up: onUp, leave: onLeave });
  const stopWheel = listen(canvas, [["wheel", onWheel, { passive: false }]]);

  return {
    points: () => localPoints,
    view: () => localView,
    dragging: () => (gesture && gesture.kind === "point" ? gesture.name : null),
    dispose() {
      if (sendFrame) cancelAnimationFrame(sendFrame);
      clearTimeout(wheelTimer);
      stopFollowing();
      stopWheel();
    },
  };
}
