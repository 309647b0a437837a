// The shared look: fonts, the markers of each point role and the colours
// given to paths. The values live in styles.json, which the Python side reads
// too (wire/points.py), so the 2D map, the 3D surface and the PNG agree.

import styles from "./styles.json";

/** Labels, ticks and legends. */
export const FONT = styles.font;

/** The map's title. */
export const TITLE_FONT = styles.title_font;

/** The title of a small line plot. */
export const PLOT_TITLE_FONT = styles.plot_title_font;

/** {fill, stroke, r} of the marker of each point role: anchor, probe, path. */
export const ROLE_STYLE = Object.freeze(styles.roles);

/** Colours of paths in the order they are given; the first is the default. */
export const PATH_COLORS = Object.freeze([...styles.path_colors]);
