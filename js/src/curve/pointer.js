// The mouse on the curve widget's map: the read-out while hovering, and
// dragging a control point before training bends the curve.
//
// While a point is dragged its position runs ahead of the frames: the map
// shows the local controls and a provisional curve, and each move goes to the
// kernel (at most one per animation frame), which answers with the frame
// redrawn. After the drop the local position stays until the kernel has
// answered the final move, or for SETTLE_MS when no answer comes.

import { gridExtent } from "../draw.js";
import { followPointer, pointerXY } from "../dom.js";
import { controlNames, formatValue, valueAt } from "../frames.js";
import { pick } from "../view.js";

// how long a dragged point stays where it was dropped without the kernel's answer
const SETTLE_MS = 4000;

/**
 * Listen to the mouse on the map's canvas.
 *
 * @param {object} o
 * @param {object} o.model the widget's model (`editable`)
 * @param {HTMLCanvasElement} o.canvas
 * @param {HTMLElement} o.info the info line
 * @param {import("../drag.js").DragLog} o.drags numbers the moves
 * @param {(content: object) => void} o.send a message to the kernel
 * @param {() => {frame: object, index: number, drawn: object}} o.shown the
 *   frame shown (null, -1 when none) and the geometry of its map
 * @param {(frame: object) => string} o.describe the info line's text for a frame
 * @param {() => void} o.schedule asks for a redraw
 */
export function attachControlDrag({ model, canvas, info, drags, send, shown, describe, schedule }) {
  let drag = null; // {index, name, moved}
  let local = null; // {frame, controls}: shown instead of that frame's controls
  let settle = null; // {seq, timer}: the drop, waiting for the kernel's answer
  let sendFrame = 0;
  let hoverText = "";

  const controlsOf = (frame, index) => (local && local.frame === index ? local.controls : frame.controls);
  const draggable = (frame, index) => {
    const controls = controlsOf(frame, index);
    const names = controlNames(controls.length);
    return controls.map(([x, y], k) => ({ name: names[k], x, y, role: "path" }));
  };
  const endSettle = () => {
    clearTimeout(settle.timer);
    settle = null;
  };

  const sendMove = (final) => {
    const [x, y] = local.controls[drag.index];
    const message = drags.move({ index: drag.index, x, y, final });
    send(message);
    return message.seq;
  };
  const onMoveFrame = () => {
    sendFrame = 0;
    if (drag && local) sendMove(false);
  };
  const stopSending = () => {
    if (sendFrame) cancelAnimationFrame(sendFrame);
    sendFrame = 0;
  };

  const onDown = (ev) => {
    const { frame, index, drawn } = shown();
    if (ev.button !== 0 || !drawn || !model.get("editable") || !frame) return;
    const [u, v] = pointerXY(canvas, ev);
    const points = draggable(frame, index);
    const name = pick(points, drawn.tf, u, v);
    if (!name) return;
    if (settle) endSettle();
    drag = { index: points.findIndex((p) => p.name === name), name, moved: false };
    local = { frame: index, controls: controlsOf(frame, index).map((c) => c.slice()) };
    canvas.setPointerCapture?.(ev.pointerId);
    ev.preventDefault();
    schedule();
  };

  const onHover = (u, v) => {
    const { frame, index, drawn } = shown();
    const { box, tf } = drawn;
    let text = "";
    if (frame && u >= box.x0 && u < box.x1 && v >= box.y0 && v < box.y1) {
      const x = tf.fx(u);
      const y = tf.fy(v);
      const val = valueAt(frame.grid, gridExtent(frame), x, y);
      text = `x = ${x.toPrecision(3)}, y = ${y.toPrecision(3)}`;
      if (val !== undefined) text += `: loss ${formatValue(val)}`;
    }
    const over = frame && model.get("editable") && pick(draggable(frame, index), tf, u, v);
    canvas.style.cursor = over ? "grab" : "default";
    if (text !== hoverText) {
      hoverText = text;
      info.textContent = describe(frame);
    }
  };

  const onMove = (ev) => {
    const { drawn } = shown();
    if (!drawn) return;
    const [u, v] = pointerXY(canvas, ev);
    if (!drag) {
      onHover(u, v);
      return;
    }
    // the point stays inside the plot, where a person can still see and grab it
    const { box, tf } = drawn;
    const x = tf.fx(Math.min(Math.max(u, box.x0), box.x1));
    const y = tf.fy(Math.min(Math.max(v, box.y0), box.y1));
    local.controls[drag.index] = [x, y];
    drag.moved = true;
    canvas.style.cursor = "grabbing";
    info.textContent = `${drag.name}: x = ${x.toPrecision(3)}, y = ${y.toPrecision(3)}`;
    if (!sendFrame) sendFrame = requestAnimationFrame(onMoveFrame);
    schedule();
  };

  const onUp = () => {
    if (!drag) return;
    stopSending();
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
    canvas.style.cursor = "default";
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
      stopSending();
      drag = null;
      local = null;
    }
    schedule();
  };

  const stopFollowing = followPointer(canvas, { down: onDown, move: onMove, up: onUp, leave: onLeave });
  model.on("change:editable", onEditable);

  return {
    /** The control points of frame `index` as shown: a drag's, or the frame's own. */
    controlsOf,
    /** The name of the point dragged, or null. */
    dragging: () => (drag ? drag.name : null),
    /** The read-out under the pointer ("" when it is off the map). */
    hover: () => hoverText,
    clearHover() {
      hoverText = "";
    },
    /** The kernel answered move `seq`: a drop it answered shows the frames again. */
    answered(seq) {
      if (settle && seq >= settle.seq) {
        endSettle();
        local = null;
      }
    },
    dispose() {
      stopSending();
      if (settle) endSettle();
      stopFollowing();
      model.off("change:editable", onEditable);
    },
  };
}
