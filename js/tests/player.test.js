import { describe, expect, it } from "vitest";
import {
  FPS,
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
} from "../src/player.js";

describe("following the newest frame", () => {
  it("shows the last frame as frames arrive", () => {
    const p = initialPlayer(-1);
    expect(shownIndex(p, 0)).toBe(-1);
    expect(shownIndex(p, 1)).toBe(0);
    expect(shownIndex(p, 5)).toBe(4);
  });

  it("a frame chosen by the kernel at start stays shown as frames arrive", () => {
    const p = initialPlayer(2);
    expect(shownIndex(p, 1)).toBe(0); // not there yet: the nearest one
    expect(shownIndex(p, 3)).toBe(2);
    expect(shownIndex(p, 9)).toBe(2);
  });
});

describe("the slider", () => {
  it("moving back stops following; new frames do not move the view", () => {
    const p = seek(initialPlayer(-1), 3, 10);
    expect(shownIndex(p, 10)).toBe(3);
    expect(shownIndex(p, 11)).toBe(3);
  });

  it("moving to the last frame follows again", () => {
    const back = seek(initialPlayer(-1), 3, 10);
    const end = seek(back, 9, 10);
    expect(end.follow).toBe(true);
    expect(shownIndex(end, 12)).toBe(11);
  });

  it("stops playing and clamps to the frames there are", () => {
    const playing = play(initialPlayer(0), 10);
    const p = seek(playing, 42, 10);
    expect(p.playing).toBe(false);
    expect(shownIndex(p, 10)).toBe(9);
    expect(shownIndex(seek(playing, -3, 10), 10)).toBe(0);
  });
});

describe("the kernel's selection", () => {
  it("i >= 0 shows frame i and stops following, even at the last frame", () => {
    const p = select(initialPlayer(-1), 4, 5);
    expect(shownIndex(p, 5)).toBe(4);
    expect(shownIndex(p, 6)).toBe(4);
  });

  it("-1 follows the newest frame and stops playing", () => {
    const playing = play(seek(initialPlayer(-1), 1, 5), 5);
    const p = select(playing, -1, 5);
    expect(p.playing).toBe(false);
    expect(shownIndex(p, 7)).toBe(6);
  });
});

describe("playing", () => {
  it("steps one frame per tick and stops at the last frame", () => {
    let p = play(seek(initialPlayer(-1), 0, 4), 4);
    const seen = [shownIndex(p, 4)];
    while (p.playing) {
      p = tick(p, 4);
      seen.push(shownIndex(p, 4));
    }
    expect(seen).toEqual([0, 1, 2, 3]);
    // at the end it follows new frames again
    expect(shownIndex(p, 5)).toBe(4);
  });

  it("starts over from the first frame when the last is shown", () => {
    const p = play(initialPlayer(-1), 6);
    expect(p.playing).toBe(true);
    expect(shownIndex(p, 6)).toBe(0);
  });

  it("plays on into frames that arrive while playing", () => {
    let p = play(seek(initialPlayer(-1), 0, 3), 3);
    p = tick(p, 3); // frame 1 of 3
    p = tick(p, 5); // two more arrived: frame 2 of 5, still playing
    expect(shownIndex(p, 5)).toBe(2);
    expect(p.playing).toBe(true);
  });

  it("pause keeps the frame shown; with one frame there is nothing to play", () => {
    let p = play(seek(initialPlayer(-1), 0, 8), 8);
    p = tick(tick(p, 8), 8);
    const paused = pause(p, 8);
    expect(paused.playing).toBe(false);
    expect(shownIndex(paused, 8)).toBe(2);
    expect(play(initialPlayer(-1), 1).playing).toBe(false);
    expect(tick(paused, 8)).toBe(paused);
  });

  it("speeds are multiples of six frames per second", () => {
    expect(FPS).toBe(6);
    expect(SPEEDS).toEqual([0.5, 1, 2, 4]);
    expect(frameInterval(1)).toBeCloseTo(1000 / 6, 9);
    expect(frameInterval("4")).toBeCloseTo(1000 / 24, 9);
    expect(frameInterval(0.5)).toBeCloseTo(1000 / 3, 9);
  });
});

describe("buttons", () => {
  const frame = { hires: false };
  it("enables Train, Pause and Stop by status", () => {
    const table = {
      preparing: [false, false, false],
      ready: [true, false, false],
      training: [false, true, true],
      paused: [true, false, true],
      stopped: [true, false, false],
      finished: [false, false, false],
      "error: out of memory": [true, false, false],
    };
    for (const [status, want] of Object.entries(table)) {
      const b = buttonStates(status, frame);
      expect([b.train, b.pause, b.stop], status).toEqual(want);
    }
  });

  it("offers to sharpen a shown frame that is not sharp yet", () => {
    expect(buttonStates("training", frame).sharpen).toBe(true);
    expect(buttonStates("training", { hires: true }).sharpen).toBe(false);
    expect(buttonStates("preparing", null).sharpen).toBe(false);
  });
});
