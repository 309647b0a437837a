// The curve widget and its kernel. In: "frame" messages (a frame recorded
// or redrawn while training runs or a point is dragged) and "answer" messages
// (a move handled). Out: the training controls and sharpening of the frame
// shown; the drag's moves go out through curve/pointer.js.

/**
 * A function that sends `content` to the kernel; where there is none to reach
 * (an exported page), it reports that through `fail` instead of throwing.
 */
export function kernelSender(model, fail) {
  return (content) => {
    try {
      model.send(content);
    } catch (err) {
      fail(`cannot reach the kernel: ${err.message}`);
    }
  };
}

/**
 * Listen to the kernel's messages and to the buttons that talk to it.
 *
 * @param {object} o
 * @param {object} o.model the widget's model
 * @param {object} o.ui the widget's elements (curve/layout.js)
 * @param {import("./store.js").FrameStore} o.store takes the frames
 * @param {import("../drag.js").DragLog} o.drags takes the answers
 * @param {object} o.pointer hears which moves were answered (curve/pointer.js)
 * @param {(content: object) => void} o.send a message to the kernel
 * @param {() => number} o.shownIndex the index of the frame shown, -1 when none
 * @param {(text: string) => void} o.report says what went wrong ("" when all is well)
 * @param {() => void} o.schedule asks for a redraw
 * @returns {() => void} stops listening
 */
export function attachKernelMessages({ model, ui, store, drags, pointer, send, shownIndex, report, schedule }) {
  const onFrame = ({ index, frame }, buffers) => {
    let changed;
    try {
      changed = store.receive(index, frame, buffers);
    } catch (err) {
      report(`cannot read frame ${index}: ${err.message}`);
      schedule();
      return;
    }
    if (changed) {
      report("");
      // a new frame while playing: the player's timer carries on up to it
      schedule();
    }
  };
  const onAnswer = (content) => {
    const seq = drags.answer(content);
    if (seq === null) return;
    Object.assign(ui.root.dataset, drags.attributes());
    pointer.answered(seq);
    schedule();
  };
  const onMessage = (content, buffers) => {
    if (!content || typeof content !== "object") return;
    if (content.event === "frame") onFrame(content, buffers);
    else if (content.event === "answer") onAnswer(content);
  };

  // A clicked button stays disabled until the kernel's next status redraws
  // the row, so a double click cannot ask twice.
  const control = (action) => (ev) => {
    ev.currentTarget.disabled = true;
    send({ event: "control", action });
  };
  const onSharpen = () => {
    const index = shownIndex();
    if (index >= 0) send({ event: "sharpen", index });
  };

  const buttons = [
    [ui.trainButton, control("start")],
    [ui.pauseButton, control("pause")],
    [ui.stopButton, control("stop")],
    [ui.sharpen, onSharpen],
  ];
  for (const [button, fn] of buttons) button.addEventListener("click", fn);
  model.on("msg:custom", onMessage);
  return () => {
    for (const [button, fn] of buttons) button.removeEventListener("click", fn);
    model.off("msg:custom", onMessage);
  };
}
