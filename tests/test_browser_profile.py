"""ProfilePlot and LossCurve in JupyterLab in a real Chromium: bqplot draws
the lines, the legend names the barrier heights, an update from the kernel
moves the existing path, and points appended from a background thread reach
the page."""

from __future__ import annotations

import re
import textwrap

import numpy as np
import pytest
from conftest import write_notebook
from test_profile_plot import bump, expected_barrier

pytestmark = pytest.mark.browser

T = np.linspace(0.0, 1.0, 101)
STRAIGHT = dict(height=0.8, left=0.3, right=0.5)
CURVE = dict(height=0.15, left=0.3, right=0.5)
UPDATED = dict(height=1.3, left=0.2, right=0.4)
N_START, N_END = 40, 240

SETUP = textwrap.dedent(
    f"""
    import threading, time
    import numpy as np
    from landscape_widgets import LossCurve, Profile, ProfilePlot

    def bump(t, height, left, right):
        return left + (right - left) * t + height * np.sin(np.pi * t) ** 2

    t = np.linspace(0.0, 1.0, 101)
    straight = Profile(t, bump(t, **{STRAIGHT!r}), {{"accuracy": 1 - 0.5 * np.sin(np.pi * t)}})
    curve = Profile(t, bump(t, **{CURVE!r}), {{"accuracy": 1 - 0.1 * np.sin(np.pi * t)}})
    plot = ProfilePlot({{"straight": straight, "curve": curve}}, show_accuracy=True,
                       title="straight vs curve")
    plot.add_class("lw-profile-test")
    plot
    """
)
LOSS_CURVE = textwrap.dedent(
    f"""
    steps = np.arange({N_START})
    lc = LossCurve(title="training loss")
    lc.add_class("lw-loss-test")
    lc.extend(steps, 2.0 / np.sqrt(steps + 1))
    lc.flush()
    lc
    """
)
UPDATE = f'plot.set_profile("straight", t, bump(t, **{UPDATED!r}), 1 - 0.3 * np.sin(np.pi * t))'
FEED = textwrap.dedent(
    f"""
    def feed():
        for i in range({N_START}, {N_END}):
            lc.append(i, 2.0 / np.sqrt(i + 1) + 0.05 * np.sin(i / 3))
            time.sleep(0.004)

    feeder = threading.Thread(target=feed)
    feeder.start()
    """
)

PROFILE = ".lw-profile-test"
LOSS = ".lw-loss-test"


def line_paths(page, root: str) -> list[dict]:
    """The drawn paths of the Lines marks in one figure: d, stroke, dash."""
    return page.evaluate(
        """(root) => Array.from(document.querySelectorAll(root + ' g.curve path.line'))
             .map(p => ({d: p.getAttribute('d') || '',
                         stroke: getComputedStyle(p).stroke,
                         dash: getComputedStyle(p).strokeDasharray}))""",
        root,
    )


# The names of the legend under the plot (Label marks; the line samples are runs of dashes).
LEGEND_NAMES_JS = """(root) => Array.from(document.querySelectorAll(root + ' text.label'))
  .filter(e => getComputedStyle(e).visibility !== 'hidden' && e.textContent
               && !/^[—– ]+$/.test(e.textContent))"""


def legend_text(page, root: str) -> list[str]:
    return page.evaluate(f"(root) => ({LEGEND_NAMES_JS})(root).map(e => e.textContent)", root)


def legend_below_plot(page, root: str) -> bool:
    """Whether every legend name lies below the plot area, inside the figure."""
    return page.evaluate(
        f"""(root) => {{
          const box = (sel) => document.querySelector(sel).getBoundingClientRect();
          const plot = box(root + ' .plotarea_background');
          const fig = box(root);
          const names = ({LEGEND_NAMES_JS})(root);
          return names.length > 0 && names.every(e => {{
            const b = e.getBoundingClientRect();
            return b.top >= plot.bottom && b.bottom <= fig.bottom + 1 && b.right <= fig.right + 1;
          }});
        }}""",
        root,
    )


def n_points(d: str) -> int:
    """Points in an SVG path drawn by d3.line: one M plus one L per further point."""
    return len(re.findall(r"[ML]", d))


def points(d: str) -> np.ndarray:
    """The (x, y) pixel points of a path of M/L commands."""
    return np.array(re.findall(r"[ML]\s*(-?[\d.e+-]+)[ ,]\s*(-?[\d.e+-]+)", d), dtype=float)


def check_marker(loss_d: str, marker_d: str, right_end_higher: bool) -> None:
    """On screen, the barrier bar spans from the higher end of the loss line up to its peak."""
    line, bar = points(loss_d), points(marker_d)
    end_y = line[-1, 1] if right_end_higher else line[0, 1]
    peak_y = line[:, 1].min()  # SVG y grows downwards
    assert bar[:, 1].min() == pytest.approx(peak_y, abs=0.6)
    assert bar[:, 1].max() == pytest.approx(end_y, abs=0.6)
    peak_x = line[np.argmin(line[:, 1]), 0]
    assert np.median(bar[:, 0]) == pytest.approx(peak_x, abs=0.6)


def test_profile_plot_and_loss_curve_in_jupyterlab(lab_page, lab_server, artifacts):
    write_notebook(lab_server.root / "profile.ipynb", [SETUP, LOSS_CURVE, UPDATE, FEED])
    page = lab_page.page
    lab_page.open_notebook("profile.ipynb")

    # ---- ProfilePlot: two profiles, each a loss line, a barrier marker, an accuracy line
    lab_page.run_cell(0)
    page.wait_for_function(
        "(root) => document.querySelectorAll(root + ' g.curve path.line').length >= 6",
        arg=PROFILE,
        timeout=60_000,
    )
    page.wait_for_function(
        f"(root) => ({LEGEND_NAMES_JS})(root).length >= 2",
        arg=PROFILE,
    )
    figure = page.locator(PROFILE).first
    figure.scroll_into_view_if_needed()
    page.wait_for_timeout(300)  # let the layout settle before the picture
    figure.screenshot(path=str(artifacts / "profile.png"))

    paths = line_paths(page, PROFILE)
    assert len(paths) == 6, paths
    drawn = [p for p in paths if n_points(p["d"]) > 0]
    assert len(drawn) == 6
    # Loss lines and accuracy lines have all 101 points; accuracy is dashed.
    full = [p for p in drawn if n_points(p["d"]) == 101]
    assert len(full) == 4
    assert sum(p["dash"] not in ("none", "") for p in full) == 2
    # The barrier markers: one path of three pieces (a bar and two caps).
    markers = [p for p in drawn if p["d"].count("M") == 3]
    assert len(markers) == 2
    assert len({p["stroke"] for p in drawn}) == 2  # one colour per profile
    blue = paths[0]["stroke"]  # the first profile's colour: "straight"
    loss_lines = [p for p in full if p["dash"] in ("none", "")]
    for p in loss_lines:
        (marker,) = [m for m in markers if m["stroke"] == p["stroke"]]
        check_marker(p["d"], marker["d"], right_end_higher=True)

    texts = legend_text(page, PROFILE)
    assert len(texts) == 2, texts
    for name, kw in (("straight", STRAIGHT), ("curve", CURVE)):
        b = expected_barrier(T, bump(T, **kw))
        assert any(t.startswith(name) and f"{b:.3f}" in t for t in texts), (name, b, texts)
    assert page.locator(PROFILE).get_by_text("straight vs curve").count() == 1
    assert legend_below_plot(page, PROFILE)  # outside the plot area: it covers no line

    # ---- LossCurve
    lab_page.run_cell(1)
    page.wait_for_function(
        "(root) => document.querySelectorAll(root + ' g.curve path.line').length == 1",
        arg=LOSS,
    )
    (loss_path,) = line_paths(page, LOSS)
    assert n_points(loss_path["d"]) == N_START

    # ---- an update from the kernel moves the existing path (no new paths)
    (straight_before,) = [p["d"] for p in loss_lines if p["stroke"] == blue]
    lab_page.run_cell(2)
    new_b = expected_barrier(T, bump(T, **UPDATED))
    page.wait_for_function(
        f"""([root, text]) => ({LEGEND_NAMES_JS})(root)
             .some(e => e.textContent.includes(text))""",
        arg=[PROFILE, f"barrier {new_b:.3f}"],
    )
    # bqplot redraws the line (the y range grew, so the others are redrawn too).
    page.wait_for_function(
        """([root, before]) => Array.from(document.querySelectorAll(root + ' g.curve path.line'))
             .every(p => p.getAttribute('d') != before)""",
        arg=[PROFILE, straight_before],
    )
    page.wait_for_timeout(200)
    after = line_paths(page, PROFILE)
    assert len(after) == 6  # the same marks, no new ones
    assert len(legend_text(page, PROFILE)) == 2
    (straight_after,) = [
        p["d"]
        for p in after
        if p["stroke"] == blue and p["dash"] in ("none", "") and p["d"].count("M") == 1
    ]
    assert straight_after != straight_before and n_points(straight_after) == 101
    (marker_after,) = [p["d"] for p in after if p["stroke"] == blue and p["d"].count("M") == 3]
    check_marker(straight_after, marker_after, right_end_higher=True)
    figure.scroll_into_view_if_needed()
    figure.screenshot(path=str(artifacts / "profile_updated.png"))

    # ---- points appended from a background thread reach the page
    lab_page.run_cell(3)
    page.wait_for_function(
        """([root, n]) => {
             const p = document.querySelector(root + ' g.curve path.line');
             return p && (p.getAttribute('d').match(/[ML]/g) || []).length == n;
           }""",
        arg=[LOSS, N_END],
        timeout=30_000,
    )
    loss_fig = page.locator(LOSS).first
    loss_fig.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    loss_fig.screenshot(path=str(artifacts / "loss_curve.png"))
    (loss_path,) = line_paths(page, LOSS)
    assert n_points(loss_path["d"]) == N_END
    lab_page.assert_no_console_errors()
