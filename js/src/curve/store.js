// The curve widget's recorded frames and straight segment, decoded from the
// `frames` and `straight` traits and from "frame" messages, with the y axes
// of the small plots. No DOM.

import { applyFrame, decodeFrame, decodeStraight } from "../frames.js";
import { fixedAxis } from "../lineplot.js";

export class FrameStore {
  constructor() {
    this.frames = [];
    this.straight = decodeStraight(null);
    this.framesRev = 0; // counts changes of the list, for the axes
    this.straightRev = 0;
    this.version = 0; // numbers decoded frames: the map's cache key
    this.axesKey = null;
    this.axesCache = null;
  }

  /** Every frame from the trait; on an error (thrown) the list stays as it was. */
  load(rawFrames) {
    try {
      this.frames = (rawFrames || []).map((f) => decodeFrame(f, null, ++this.version));
    } finally {
      this.framesRev++;
    }
  }

  /** The straight segment from the trait; on an error (thrown) it stays as it was. */
  loadStraight(raw) {
    try {
      this.straight = decodeStraight(raw);
    } finally {
      this.straightRev++;
    }
  }

  /**
   * Frame `index` from a message (its arrays may point into `buffers`);
   * returns whether the list changed (see applyFrame). Throws when the frame
   * cannot be read.
   */
  receive(index, raw, buffers) {
    const next = applyFrame(this.frames, index, decodeFrame(raw, buffers || [], ++this.version));
    if (next.changed) {
      this.frames = next.frames;
      this.framesRev++;
    }
    return next.changed;
  }

  /**
   * The y axes of the small plots, {profile, loss}: fixed while frames only
   * get appended, so the lines move and the axes do not.
   */
  axes(log) {
    const key = `${this.framesRev}|${this.straightRev}|${log}`;
    if (key !== this.axesKey) {
      this.axesKey = key;
      this.axesCache = {
        profile: fixedAxis([this.straight.profile, ...this.frames.map((f) => f.profile)], log),
        loss: fixedAxis([this.frames.map((f) => f.loss)], true),
      };
    }
    return this.axesCache;
  }
}
