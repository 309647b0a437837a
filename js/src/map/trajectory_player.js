// The map's trajectory player: replays the paths of the trajectory overlays
// step by step. Its frames are the recorded steps of all paths on the map;
// "following" the last frame draws whole paths. New runs (a start dropped on
// the map) replay from their first step; `player_step` set from Python shows
// that step.

import { initialPlayer, pause, play, seek, select, shownIndex, tick } from "../player.js";
import { frameAtStep, hasNewRuns, stepFrames, strideFor, trajectoryKeys } from "../trajectories.js";
import { decodeOverlays } from "./state.js";

const TICK_MS = 1000 / 30;

/**
 * Run the player row of the map's layout (`ui`).
 *
 * @param {object} o
 * @param {object} o.model the widget's model
 * @param {object} o.ui the map's elements (map/layout.js)
 * @param {() => void} o.schedule asks for a redraw
 * @returns {{overlays: Function, step: Function, dispose: Function}} the
 *   decoded overlays, the step shown (null: whole paths), and a function that
 *   stops the player
 */
export function attachTrajectoryPlayer({ model, ui, schedule }) {
  const { root, playerRow, playButton, slider, stepLabel, speed } = ui;
  let overlays = decodeOverlays(model.get("overlays"));
  let frames = stepFrames(overlays);
  let seenKeys = trajectoryKeys(overlays);
  let player = initialPlayer(-1);
  let timer = 0;

  const step = () => {
    const k = shownIndex(player, frames.length);
    return k < 0 || (player.follow && !player.playing) ? null : frames[k];
  };

  const show = () => {
    playerRow.style.display = frames.length ? "flex" : "none";
    slider.max = String(Math.max(0, frames.length - 1));
    const k = shownIndex(player, frames.length);
    slider.value = String(Math.max(0, k));
    const last = frames.length ? frames[frames.length - 1] : 0;
    stepLabel.textContent = `step ${k < 0 ? 0 : frames[k]} / ${last}`;
    playButton.textContent = player.playing ? "❚❚" : "▶";
    playButton.title = player.playing ? "Pause" : "Replay the paths step by step";
    root.dataset.playing = player.playing ? "1" : "0";
    root.dataset.playerStep = String(step() ?? -1);
    root.dataset.trajectories = String(overlays.filter((o) => o.stepsData).length);
  };

  const setPlayer = (next) => {
    player = next;
    clearTimeout(timer);
    timer = player.playing ? setTimeout(onTick, TICK_MS / Number(speed.value || 1)) : 0;
    show();
    schedule();
  };
  function onTick() {
    let next = player;
    for (let k = strideFor(frames.length); k > 0 && next.playing; k--) next = tick(next, frames.length);
    setPlayer(next);
  }
  const onPlay = () => setPlayer(player.playing ? pause(player, frames.length) : play(player, frames.length));
  const onSlide = () => setPlayer(seek(player, Number(slider.value), frames.length));
  const onPlayerStep = () => {
    const s = model.get("player_step");
    setPlayer(select(player, s < 0 ? -1 : frameAtStep(frames, s), frames.length));
  };
  const onOverlays = () => {
    overlays = decodeOverlays(model.get("overlays"));
    frames = stepFrames(overlays);
    const keys = trajectoryKeys(overlays);
    const fresh = hasNewRuns(seenKeys, keys);
    seenKeys = keys;
    const asked = model.get("player_step") ?? -1;
    if (asked >= 0 && frames.length) {
      // a step asked for from Python before the paths arrived
      setPlayer(select(player, frameAtStep(frames, asked), frames.length));
    } else if (fresh) {
      // new runs arrived (a start was dropped): replay them from the first step
      root.dataset.runs = String(Number(root.dataset.runs || 0) + 1);
      setPlayer(frames.length > 1 ? play(initialPlayer(-1), frames.length) : player);
    } else {
      setPlayer(player);
    }
  };

  playButton.addEventListener("click", onPlay);
  slider.addEventListener("input", onSlide);
  const listeners = [
    ["change:overlays", onOverlays],
    ["change:player_step", onPlayerStep],
  ];
  for (const [event, fn] of listeners) model.on(event, fn);
  if ((model.get("player_step") ?? -1) >= 0) onPlayerStep();
  else show();

  return {
    overlays: () => overlays,
    step,
    dispose() {
      clearTimeout(timer);
      for (const [event, fn] of listeners) model.off(event, fn);
    },
  };
}
