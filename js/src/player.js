// The frame player of CurveTrainingWidget and the rules for its buttons.
// Pure functions on small immutable objects, no DOM, no timers: the widget
// owns the timer and calls `tick`.
//
// A player is {index, follow, playing}. While `follow` is set it shows the
// newest frame, whatever `index` says, so frames that arrive during training
// appear at once; a person moving back in time turns following off, and
// coming back to the last frame turns it on again.

/** Frames per second at speed 1. */
export const FPS = 6;

/** Speeds the player offers. */
export const SPEEDS = Object.freeze([0.5, 1, 2, 4]);

/** Milliseconds between frames at a speed. */
export function frameInterval(speed) {
  const s = Number(speed) > 0 ? Number(speed) : 1;
  return 1000 / (FPS * s);
}

/**
 * The player for the `selected` trait at start: -1 follows the newest frame,
 * i >= 0 shows frame i.
 */
export function initialPlayer(selected = -1) {
  return Number.isInteger(selected) && selected >= 0
    ? { index: selected, follow: false, playing: false }
    : { index: 0, follow: true, playing: false };
}

function clamp(i, count) {
  return Math.min(Math.max(0, i), count - 1);
}

/** Index of the frame shown among `count` frames; -1 when there is none. */
export function shownIndex(player, count) {
  if (count <= 0) return -1;
  return player.follow ? count - 1 : clamp(player.index, count);
}

/**
 * The slider moved to frame i: show it and stop playing; follow new frames
 * again only when i is the last one.
 */
export function seek(player, i, count) {
  if (count <= 0) return player;
  const index = clamp(Math.round(i), count);
  return { index, follow: index === count - 1, playing: false };
}

/**
 * The kernel set `selected`: -1 follows the newest frame; i >= 0 shows frame
 * i and stops following, even when i is the last frame (it asked for that
 * frame, not for the newest). Playing stops either way.
 */
export function select(player, selected, count) {
  if (!Number.isInteger(selected) || selected < 0) {
    return { index: Math.max(0, count - 1), follow: true, playing: false };
  }
  return { index: selected, follow: false, playing: false };
}

/** Start playing from the frame shown, or from the first when the last is shown. */
export function play(player, count) {
  if (count < 2) return { ...player, playing: false };
  const shown = shownIndex(player, count);
  return { index: shown >= count - 1 ? 0 : shown, follow: false, playing: true };
}

/** Stop playing where the player is. */
export function pause(player, count) {
  if (!player.playing) return player;
  const shown = shownIndex(player, count);
  return { index: Math.max(0, shown), follow: player.follow, playing: false };
}

/**
 * One timer step: the next frame. On reaching the last frame playing stops
 * there and the player follows new frames again, as when the slider is moved
 * to the end.
 */
export function tick(player, count) {
  if (!player.playing) return player;
  const next = shownIndex(player, count) + 1;
  if (next >= count - 1) return { index: Math.max(0, count - 1), follow: true, playing: false };
  return { index: next, follow: false, playing: true };
}

/**
 * Which buttons are enabled for a training status: Train when ready, paused,
 * stopped or failed; Pause while training; Stop while training or paused; Sharpen
 * when a frame is shown that is not already at high resolution.
 */
export function buttonStates(status, shownFrame) {
  return {
    // after an error, Train is a retry
    train:
      status === "ready" || status === "paused" || status === "stopped" || status.startsWith("error"),
    pause: status === "training",
    stop: status === "training" || status === "paused",
    sharpen: Boolean(shownFrame) && !shownFrame.hires,
  };
}
