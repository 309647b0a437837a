// The map's legend, under the canvas: outside the plot, so it never covers a
// path or a point, and as long as it needs to be. Each line sample is a small
// SVG (a dark outline, then the colour, in the line's dash pattern), not a
// canvas: the widget's canvases stay the map and the predictions panel.

import { element } from "../dom.js";
import { legendEntries } from "../decorations.js";

const SVG = "http://www.w3.org/2000/svg";
const SAMPLE = [30, 12]; // CSS pixels of one line sample

function sampleLine(color, width, dash) {
  const line = document.createElementNS(SVG, "line");
  const y = String(SAMPLE[1] / 2);
  for (const [k, v] of [["x1", "2"], ["x2", String(SAMPLE[0] - 2)], ["y1", y], ["y2", y]]) line.setAttribute(k, v);
  line.setAttribute("stroke", color);
  line.setAttribute("stroke-width", String(width));
  if (dash.length) line.setAttribute("stroke-dasharray", dash.join(" "));
  return line;
}

/** Show the legend of `state` in `box` (a div); hidden when there is nothing to list. */
export function renderLegend(box, state) {
  const entries = legendEntries(state);
  const key = JSON.stringify([state.width, entries]);
  if (box.dataset.key === key) return;
  box.dataset.key = key;
  box.replaceChildren();
  box.style.display = entries.length ? "flex" : "none";
  box.style.width = `${state.width}px`;
  box.style.boxSizing = "border-box";
  for (const entry of entries) {
    const item = element("span", "display: inline-flex; align-items: center; gap: 4px;", null, "lw-legend-entry");
    const sample = document.createElementNS(SVG, "svg");
    sample.setAttribute("width", String(SAMPLE[0]));
    sample.setAttribute("height", String(SAMPLE[1]));
    // a dark outline keeps light colours (white, yellow) visible
    sample.append(sampleLine("rgba(0, 0, 0, 0.6)", 4.5, entry.dash), sampleLine(entry.color, 2.5, entry.dash));
    item.append(sample, document.createTextNode(entry.name));
    box.append(item);
  }
}
