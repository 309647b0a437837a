// The bookkeeping of a drag's messages, shared by the map and the curve
// widget. Pure, no DOM: the clock is passed in.
//
// During a drag each move leaves the page as a custom message
// {event: "move", seq, ...}, numbered here. The kernel answers the newest move
// it has handled with {event: "answer", seq, kernel_ms, ...}; the moves it
// skipped get no answer of their own. A move's answer time runs from leaving
// the page to the first redraw after its answer (what a person waits for);
// kernel_ms is the kernel's share of it.

/** Timings kept, the newest last. */
export const KEEP = 200;

/** Moves remembered while they wait for an answer; the oldest are forgotten first. */
export const PENDING = 500;

export class DragLog {
  /** @param {() => number} clock milliseconds, e.g. performance.now */
  constructor(clock) {
    this.clock = clock;
    this.seq = 0;
    this.sentAt = new Map(); // seq -> clock() when the move left
    this.answered = []; // send times of the moves answered since the last redraw
    this.answerMs = [];
    this.kernelMs = [];
  }

  /**
   * The next sequence number, above `floor` (a number the kernel holds from
   * an earlier page or view), remembered with the time it leaves.
   */
  next(floor = 0) {
    this.seq = Math.max(this.seq, Number(floor) || 0) + 1;
    this.sentAt.set(this.seq, this.clock());
    if (this.sentAt.size > PENDING) this.sentAt.delete(this.sentAt.keys().next().value);
    return this.seq;
  }

  /** A move message with the next sequence number and `fields`. */
  move(fields, floor = 0) {
    return { event: "move", seq: this.next(floor), ...fields };
  }

  /**
   * Take a message from the kernel. Returns the sequence number it answers,
   * or null when it is no answer to a move of this log (another message, a
   * move already answered, a move of another view).
   */
  answer(content) {
    if (!content || content.event !== "answer" || !this.sentAt.has(content.seq)) return null;
    const { seq } = content;
    this.answered.push(this.sentAt.get(seq));
    for (const s of this.sentAt.keys()) if (s <= seq) this.sentAt.delete(s);
    pushKept(this.kernelMs, Number(content.kernel_ms));
    return seq;
  }

  /**
   * A redraw happened: the moves answered since the last one are answered
   * now. Returns whether there were any.
   */
  redrawn() {
    if (!this.answered.length) return false;
    const now = this.clock();
    for (const t of this.answered) pushKept(this.answerMs, now - t);
    this.answered = [];
    return true;
  }

  /**
   * The timings as the widgets' data-* attributes hold them (answerMs,
   * kernelMs: comma-separated milliseconds), only those with a value.
   */
  attributes() {
    const out = {};
    if (this.answerMs.length) out.answerMs = joined(this.answerMs);
    if (this.kernelMs.length) out.kernelMs = joined(this.kernelMs);
    return out;
  }
}

function pushKept(list, value) {
  list.push(value);
  list.splice(0, Math.max(0, list.length - KEEP));
}

function joined(values) {
  return values.map((v) => v.toFixed(1)).join(",");
}
