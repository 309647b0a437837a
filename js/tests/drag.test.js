import { describe, expect, it } from "vitest";
import { DragLog, KEEP, PENDING } from "../src/drag.js";

/** A log on a clock the test sets by hand. */
function logAt(start = 0) {
  const clock = { now: start };
  return { clock, log: new DragLog(() => clock.now) };
}

describe("numbering moves", () => {
  it("counts up from 1, above any number the kernel already holds", () => {
    const { log } = logAt();
    expect(log.next()).toBe(1);
    expect(log.move({ name: "p", x: 1, y: 2 })).toEqual({ event: "move", seq: 2, name: "p", x: 1, y: 2 });
    expect(log.next(10)).toBe(11);
    expect(log.next(3)).toBe(12);
    expect(log.next(null)).toBe(13);
  });

  it("forgets the oldest moves past PENDING unanswered ones", () => {
    const { log } = logAt();
    for (let k = 0; k < PENDING + 5; k++) log.next();
    expect(log.sentAt.size).toBe(PENDING);
    expect(log.answer({ event: "answer", seq: 1, kernel_ms: 1 })).toBeNull();
    expect(log.answer({ event: "answer", seq: PENDING + 5, kernel_ms: 1 })).toBe(PENDING + 5);
  });
});

describe("answers", () => {
  it("time a move from leaving the page to the first redraw after its answer", () => {
    const { clock, log } = logAt(100);
    const { seq } = log.move({ x: 0 });
    clock.now = 130;
    expect(log.answer({ event: "answer", seq, kernel_ms: 12.34 })).toBe(seq);
    expect(log.attributes()).toEqual({ kernelMs: "12.3" });
    clock.now = 145;
    expect(log.redrawn()).toBe(true);
    expect(log.attributes()).toEqual({ answerMs: "45.0", kernelMs: "12.3" });
    expect(log.redrawn()).toBe(false);
  });

  it("settle the moves the kernel skipped, which get no answer of their own", () => {
    const { log } = logAt();
    const seqs = [1, 2, 3].map(() => log.next());
    expect(log.answer({ event: "answer", seq: seqs[1], kernel_ms: 5 })).toBe(seqs[1]);
    expect(log.answer({ event: "answer", seq: seqs[0], kernel_ms: 5 })).toBeNull();
    expect(log.answer({ event: "answer", seq: seqs[2], kernel_ms: 6 })).toBe(seqs[2]);
    log.redrawn();
    expect(log.attributes().answerMs.split(",")).toHaveLength(2);
    expect(log.attributes().kernelMs).toBe("5.0,6.0");
  });

  it("are only the answers to this log's moves", () => {
    const { log } = logAt();
    const seq = log.next();
    expect(log.answer({ event: "frame", seq })).toBeNull();
    expect(log.answer({ event: "answer", seq: seq + 1, kernel_ms: 1 })).toBeNull();
    expect(log.answer(null)).toBeNull();
    expect(log.answer({ event: "answer", seq, kernel_ms: 1 })).toBe(seq);
    expect(log.answer({ event: "answer", seq, kernel_ms: 1 })).toBeNull();
  });

  it("keep the newest KEEP timings", () => {
    const { log } = logAt();
    for (let k = 0; k < KEEP + 10; k++) {
      const seq = log.next();
      log.answer({ event: "answer", seq, kernel_ms: k });
      log.redrawn();
    }
    const kernel = log.attributes().kernelMs.split(",").map(Number);
    expect(kernel).toHaveLength(KEEP);
    expect(kernel[0]).toBe(10);
    expect(log.attributes().answerMs.split(",")).toHaveLength(KEEP);
  });

  it("write no attribute before the first answer", () => {
    expect(logAt().log.attributes()).toEqual({});
  });
});
