"""ProfilePlot and LossCurve without a browser: what the marks hold, checked
against numpy computations written here; in-place updates; throttling."""

from __future__ import annotations

import threading
import time

import bqplot as bq
import ipywidgets
import numpy as np
import pytest

from landscape_widgets import LossCurve, Profile, ProfilePlot
from landscape_widgets.widgets.bq_style import log_tick_values
from landscape_widgets.widgets.loss_curve import downsample_minmax

T = np.linspace(0.0, 1.0, 101)


def assert_legend_outside(figure):
    """The legend's names and samples sit under the plot area (y < 0 on its [0, 1]
    scales), inside the figure's width, and the bottom margin holds them."""
    legend = figure.legend
    assert legend.names.visible and list(legend.names.text) == [e.name for e in legend.entries]
    assert (np.asarray(legend.names.y) < 0).all()
    assert ((0 <= np.asarray(legend.names.x)) & (np.asarray(legend.names.x) < 1)).all()
    assert list(legend.samples.colors) == [e.color for e in legend.entries]
    assert (np.asarray(legend.samples.y) < 0).all() and legend.samples.apply_clip is False
    assert figure.fig_margin["bottom"] >= 44 + 16 * legend.rows


def data_marks(figure):
    """A figure's marks without those of its legend."""
    return [m for m in figure.marks if all(m is not k for k in figure.legend.marks)]


def bump(t, height=0.8, left=0.3, right=0.5):
    """A profile from ``left`` to ``right`` with a bump: barrier known in closed form."""
    return left + (right - left) * t + height * np.sin(np.pi * t) ** 2


def expected_barrier(t, values):
    """Max over 0 <= t <= 1 minus the larger end value, ends interpolated linearly,
    finite points only (written out here, independent of the package)."""
    t, values = np.asarray(t, float), np.asarray(values, float)
    ok = np.isfinite(values)
    t, values = t[ok], values[ok]

    def at(s):
        if s <= t[0]:
            return values[0]
        if s >= t[-1]:
            return values[-1]
        j = np.searchsorted(t, s)  # t[j - 1] < s <= t[j]
        w = (s - t[j - 1]) / (t[j] - t[j - 1])
        return (1 - w) * values[j - 1] + w * values[j]

    inside = (t >= 0) & (t <= 1)
    return values[inside].max() - max(at(0.0), at(1.0))


def counting(widget, monkeypatch) -> list[dict]:
    """The 'update' messages the widget sends to the front-end, from now on."""
    sent: list[dict] = []
    original = widget._send

    def send(msg, buffers=None):
        if msg.get("method") == "update":
            sent.append(msg["state"])
        return original(msg, buffers=buffers)

    monkeypatch.setattr(widget, "_send", send)
    return sent


def finite_xy(mark):
    y = np.asarray(mark.y, float)
    ok = np.isfinite(y)
    return np.asarray(mark.x, float)[ok], y[ok]


# --------------------------------------------------------------------------
# ProfilePlot


def test_barrier_in_legend_and_marker_match_numpy():
    straight = bump(T, height=0.8)
    # A profile beyond [0, 1] whose ends 0 and 1 fall between grid points.
    t2 = np.linspace(-0.23, 1.19, 57)
    curve = 0.2 + 0.4 * t2 + 0.35 * np.sin(np.pi * t2) + 0.05 * np.cos(7 * t2)
    plot = ProfilePlot({"straight": Profile(T, straight)})
    plot.set_profile("curve", t2, curve)

    for name, t, values in [("straight", T, straight), ("curve", t2, curve)]:
        b = expected_barrier(t, values)
        assert b > 0.1
        assert plot.barriers[name] == pytest.approx(b, abs=1e-12)
        (label,) = plot.lines[name].labels
        assert label.startswith(name)
        assert f"barrier {b:.3f}" in label
        # The marker is a vertical bar at the peak from the larger end value up to the peak.
        x, y = finite_xy(plot.barrier_marks[name])
        inside = (t >= 0) & (t <= 1)
        peak_t = t[inside][np.argmax(values[inside])]
        peak = values[inside].max()
        assert y.max() == pytest.approx(peak)
        assert y.min() == pytest.approx(peak - b)
        assert y.max() - y.min() == pytest.approx(b)
        vertical = np.flatnonzero(np.diff(y) != 0)
        assert len(vertical) == 1
        assert x[vertical[0]] == x[vertical[0] + 1] == pytest.approx(peak_t)
        assert plot.barrier_marks[name].colors == plot.lines[name].colors

    # Equal ends, peak on the grid at t = 0.5: the barrier is the bump's height.
    plot.set_profile("symmetric", T, bump(T, height=0.8, left=0.4, right=0.4))
    assert plot.barriers["symmetric"] == pytest.approx(0.8, abs=1e-12)


def test_barrier_agrees_with_profile_barrier():
    t = np.linspace(-0.5, 1.5, 81)
    loss = np.cos(3 * t) + t
    plot = ProfilePlot()
    plot.set_profile("p", Profile(t, loss))
    assert plot.barriers["p"] == Profile(t, loss).barrier()


def test_update_is_in_place_one_message_per_mark(monkeypatch):
    acc = 1 - 0.3 * np.sin(np.pi * T)
    plot = ProfilePlot({"straight": Profile(T, bump(T), {"accuracy": acc})}, show_accuracy=True)
    marks_before = list(plot.marks)
    lines = plot.lines["straight"]
    barrier = plot.barrier_marks["straight"]
    accuracy = plot.accuracy_lines["straight"]
    changes = []
    plot.observe(changes.append, names=["marks", "axes"])
    sent = {w: counting(w, monkeypatch) for w in (plot, lines, barrier, accuracy)}

    new = bump(T, height=1.5, left=0.1, right=0.2)
    plot.set_profile("straight", T, new, accuracy=acc / 2)

    assert plot.lines["straight"] is lines
    assert [id(m) for m in plot.marks] == [id(m) for m in marks_before]
    assert changes == []
    np.testing.assert_array_equal(lines.y, new)
    np.testing.assert_array_equal(accuracy.y, acc / 2)
    assert lines.labels == [f"straight (barrier {expected_barrier(T, new):.3f})"]
    assert finite_xy(barrier)[1].max() == pytest.approx(new.max())
    # One 'update' message per mark, none for the figure.
    assert len(sent[plot]) == 0
    assert len(sent[lines]) == 1 and {"y", "labels"} <= set(sent[lines][0])
    assert len(sent[barrier]) == 1 and {"x", "y"} <= set(sent[barrier][0])
    assert len(sent[accuracy]) == 1 and "y" in sent[accuracy][0]


def test_set_profile_is_fast():
    plot = ProfilePlot(show_accuracy=True)
    acc = 1 - 0.3 * np.sin(np.pi * T)
    plot.set_profile("straight", Profile(T, bump(T), {"accuracy": acc}))
    plot.set_profile("curve", Profile(T, bump(T, 0.2), {"accuracy": acc}))
    times = []
    for i in range(200):
        prof = Profile(T, bump(T, height=0.5 + i / 400), {"accuracy": acc})
        start = time.perf_counter()
        plot.set_profile("straight", prof)
        times.append(time.perf_counter() - start)
    # Called on every drag event (~30 a second): well under 10 ms. Typically ~0.2 ms.
    assert np.median(times) < 3e-3, np.median(times)
    np.testing.assert_array_equal(plot.lines["straight"].y, bump(T, height=0.5 + 199 / 400))


def test_several_profiles_colours_legend_and_removal():
    plot = ProfilePlot()
    for k, name in enumerate(["straight", "curve", "polyline"]):
        plot.set_profile(name, T, bump(T, height=0.2 * (k + 1)))
    assert list(plot.profiles) == ["straight", "curve", "polyline"]
    assert len(data_marks(plot)) == 6  # a line and a barrier marker each
    colors = [plot.lines[n].colors[0] for n in plot.profiles]
    assert len(set(colors)) == 3
    # the legend under the plot names each line in its colour; bqplot's own stays off
    assert not any(m.display_legend for m in plot.marks)
    assert [(e.name, e.color) for e in plot.legend.entries] == [
        (plot.lines[n].labels[0], plot.lines[n].colors[0]) for n in plot.profiles
    ]
    assert_legend_outside(plot)
    assert [plot.lines[n].labels[0].split(" ")[0] for n in plot.profiles] == list(plot.profiles)

    gone = plot.lines["curve"]
    plot.remove_profile("curve")
    assert list(plot.profiles) == ["straight", "polyline"]
    assert len(data_marks(plot)) == 4 and all(m is not gone for m in plot.marks)
    assert "curve" not in plot.barriers
    # The freed colour goes to the next profile.
    plot.set_profile("again", T, bump(T))
    assert plot.lines["again"].colors == [colors[1]]
    with pytest.raises(KeyError, match="curve"):
        plot.remove_profile("curve")
    with pytest.raises(TypeError):
        plot.profiles["x"] = Profile(T, T)  # read-only


def test_accuracy_on_a_second_axis_dashed():
    acc = 1 - 0.4 * np.sin(np.pi * T)
    plot = ProfilePlot({"s": Profile(T, bump(T), {"accuracy": acc})}, show_accuracy=True)
    assert len(plot.axes) == 3
    y2 = [a for a in plot.axes if a.side == "right"]
    assert len(y2) == 1 and "accuracy" in y2[0].label
    mark = plot.accuracy_lines["s"]
    assert mark.line_style == "dashed"
    assert mark.scales["y"] is y2[0].scale is not plot.lines["s"].scales["y"]
    assert mark.colors == plot.lines["s"].colors
    np.testing.assert_array_equal(mark.y, acc)
    assert [(a.side, a.label) for a in plot.axes[:2]] == [("bottom", "t"), ("left", "loss")]

    # Without show_accuracy, accuracy is not drawn and there is no right axis.
    plain = ProfilePlot({"s": Profile(T, bump(T), {"accuracy": acc})})
    assert len(plain.axes) == 2 and not plain.accuracy_lines and len(data_marks(plain)) == 2
    # A profile without accuracy gets no dashed line.
    plot.set_profile("no-acc", T, bump(T))
    assert "no-acc" not in plot.accuracy_lines


def test_metric_other_than_loss():
    acc = 1 - 0.4 * np.sin(np.pi * T)
    plot = ProfilePlot({"s": Profile(T, bump(T), {"accuracy": acc})}, metric="accuracy")
    np.testing.assert_array_equal(plot.lines["s"].y, acc)
    assert plot.y_axis.label == "accuracy"
    assert plot.barriers["s"] == pytest.approx(expected_barrier(T, acc), abs=1e-12)
    with pytest.raises(ValueError, match="no metric 'accuracy'"):
        plot.set_profile("t", T, bump(T))


def test_nan_and_inf_are_gaps_noted_in_the_legend():
    loss = bump(T)
    loss[10] = np.inf
    loss[20] = np.nan
    loss[60] = -np.inf
    plot = ProfilePlot({"bad": Profile(T, loss)})
    y = np.asarray(plot.lines["bad"].y)
    assert not np.isinf(y).any()
    assert np.isnan(y[[10, 20, 60]]).all()
    ok = np.ones(T.size, bool)
    ok[[10, 20, 60]] = False
    np.testing.assert_array_equal(y[ok], loss[ok])
    assert "3 NaN/inf" in plot.lines["bad"].labels[0]
    b = expected_barrier(T, loss)
    assert np.isfinite(b)
    assert plot.barriers["bad"] == pytest.approx(b, abs=1e-12)
    assert f"barrier {b:.3f}" in plot.lines["bad"].labels[0]
    # The profile itself is kept as given.
    assert np.isinf(plot.profiles["bad"].loss[10])

    # Nothing finite: no barrier, no marker, still no error.
    plot.set_profile("bad", T, np.full(T.size, np.nan))
    assert np.isnan(plot.barriers["bad"])
    assert "barrier n/a" in plot.lines["bad"].labels[0]
    assert not plot.barrier_marks["bad"].visible
    assert not plot.lines["bad"].visible  # bqplot errs on a line with no finite point
    # No point with 0 <= t <= 1: no barrier either.
    plot.set_profile("outside", T + 2, bump(T))
    assert np.isnan(plot.barriers["outside"])


def test_log_scale_hides_non_positive_values():
    loss = bump(T)
    loss[5] = 0.0
    plot = ProfilePlot({"p": Profile(T, loss)}, log_scale=True)
    assert isinstance(plot.y_scale, bq.LogScale)
    assert plot.lines["p"].scales["y"] is plot.y_scale is plot.y_axis.scale
    assert np.isnan(plot.lines["p"].y[5])
    assert "1 <= 0 not drawn" in plot.lines["p"].labels[0]
    plot.log_scale = False
    assert isinstance(plot.y_scale, bq.LinearScale)
    assert plot.lines["p"].scales["y"] is plot.y_scale is plot.y_axis.scale
    assert plot.barrier_marks["p"].scales["y"] is plot.y_scale
    assert plot.lines["p"].y[5] == 0.0
    assert "<= 0" not in plot.lines["p"].labels[0]


def test_is_a_figure_that_fits_in_a_box():
    plot = ProfilePlot(title="straight vs curve", width=420, height=260)
    assert isinstance(plot, bq.Figure)
    box = ipywidgets.HBox([plot, LossCurve()])
    assert box.children[0] is plot
    assert (plot.layout.width, plot.layout.height) == ("420px", "260px")
    plot.width = 500
    assert plot.layout.width == "500px"
    assert plot.title == "straight vs curve"
    assert plot.x_axis.label == "t" and plot.y_axis.label == "loss"


def test_profile_plot_errors():
    with pytest.raises(TypeError, match="unexpected keyword argument.*colour"):
        ProfilePlot(colour="red")
    with pytest.raises(TypeError, match="profiles must be a dict"):
        ProfilePlot([Profile(T, T)])
    with pytest.raises(TypeError, match="show_accuracy"):
        ProfilePlot(show_accuracy="yes")
    with pytest.raises(ValueError, match="width must be at least 200"):
        ProfilePlot(width=50)
    with pytest.raises(TypeError, match="height must be an int"):
        ProfilePlot(height="300px")
    plot = ProfilePlot()
    with pytest.raises(TypeError, match="name must be a non-empty str"):
        plot.set_profile(3, T, T)
    with pytest.raises(TypeError, match="either a Profile or arrays"):
        plot.set_profile("p", Profile(T, T), T)
    with pytest.raises(TypeError, match="needs a Profile, or arrays t and loss"):
        plot.set_profile("p", T)
    with pytest.raises(ValueError, match="'p': loss has 100 values for 101 values of t"):
        plot.set_profile("p", T, T[:-1])
    with pytest.raises(ValueError, match="accuracy has 3 values"):
        plot.set_profile("p", T, T, accuracy=[1, 2, 3])
    with pytest.raises(ValueError, match="sorted in increasing order"):
        plot.set_profile("p", T[::-1], T)
    with pytest.raises(ValueError, match="t holds NaN"):
        plot.set_profile("p", np.r_[T[:-1], np.nan], T)
    with pytest.raises(TypeError, match="real numbers"):
        plot.set_profile("p", T, ["a"] * T.size)
    with pytest.raises(ValueError, match="must be 1-D"):
        plot.set_profile("p", T, np.ones((T.size, 2)))
    assert not plot.profiles and not data_marks(plot)  # nothing half-added


# --------------------------------------------------------------------------
# LossCurve


def test_loss_curve_threads_lose_nothing_and_updates_are_throttled(monkeypatch):
    curve = LossCurve()
    curve.append(0, 1.0, series="a")
    curve.append(0, 2.0, series="b")
    curve.flush()
    assert set(curve.lines) == {"a", "b"}
    sent = {name: counting(curve.lines[name], monkeypatch) for name in ("a", "b")}

    n = 1500
    errors = []

    def feed(series, scale):
        try:
            for i in range(1, n + 1):
                curve.append(i, scale / i, series=series)
                if i % 50 == 0:
                    time.sleep(0.02)
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    start = time.monotonic()
    threads = [threading.Thread(target=feed, args=(s, k)) for s, k in (("a", 1.0), ("b", 2.0))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.monotonic() - start
    curve.flush()
    assert not errors
    assert elapsed > 0.5  # long enough for throttling to matter

    steps = np.arange(n + 1.0)
    for name, scale in (("a", 1.0), ("b", 2.0)):
        h_steps, h_losses = curve.history[name]
        np.testing.assert_array_equal(h_steps, steps)
        np.testing.assert_array_equal(h_losses, np.r_[scale, scale / steps[1:]])
        # The plot ends up showing exactly the history.
        np.testing.assert_array_equal(curve.lines[name].x, h_steps)
        np.testing.assert_array_equal(curve.lines[name].y, h_losses)
        # At most ~10 updates a second (plus the final flush), but some while feeding.
        assert 2 <= len(sent[name]) <= elapsed * 10 + 3, (len(sent[name]), elapsed)


def test_loss_curve_timer_sends_the_last_points_without_flush():
    curve = LossCurve()
    for i in range(20):  # much faster than 10 Hz: most are held back
        curve.append(i, 1.0 / (i + 1))
    assert len(curve.lines["loss"].x) < 20
    deadline = time.monotonic() + 5
    while len(curve.lines["loss"].x) < 20 and time.monotonic() < deadline:
        time.sleep(0.02)
    np.testing.assert_array_equal(curve.lines["loss"].x, np.arange(20.0))
    np.testing.assert_array_equal(curve.lines["loss"].y, 1.0 / np.arange(1, 21))


def test_loss_curve_extend_is_drawn_at_once_and_leaves_no_timer():
    # A curve filled by extend() and then displayed must not change under the
    # page while bqplot builds its axes: every extend is sent before it returns.
    curve = LossCurve(log_scale=True)
    for k, name in enumerate(("a", "b", "c")):  # far faster than 10 Hz
        curve.extend(np.arange(5.0), np.arange(1.0, 6.0) * (k + 1), series=name)
        np.testing.assert_array_equal(curve.lines[name].y, np.arange(1.0, 6.0) * (k + 1))
    assert [m.labels[0] for m in data_marks(curve)] == ["a", "b", "c"]


def test_loss_curve_one_series_from_two_threads_is_drawn_in_step_order():
    curve = LossCurve()

    def feed(parity):
        for i in range(parity, 400, 2):
            curve.append(i, float(i) ** 0.5)

    threads = [threading.Thread(target=feed, args=(p,)) for p in (0, 1)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    curve.flush()
    steps, losses = curve.history["loss"]
    assert sorted(steps.tolist()) == list(range(400))
    np.testing.assert_array_equal(losses, steps**0.5)
    np.testing.assert_array_equal(curve.lines["loss"].x, np.arange(400.0))
    np.testing.assert_array_equal(curve.lines["loss"].y, np.arange(400.0) ** 0.5)
    # Out of order within one call, too.
    curve.extend([402, 400, 401], [2.0, 0.0, 1.0], series="late")
    curve.flush()
    np.testing.assert_array_equal(curve.lines["late"].x, [400, 401, 402])
    np.testing.assert_array_equal(curve.lines["late"].y, [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(curve.history["late"][0], [402, 400, 401])


def test_loss_curve_downsamples_for_display_keeping_the_shape():
    rng = np.random.default_rng(0)
    n, max_points = 100_000, 500
    steps = np.arange(n, dtype=float)
    losses = 2.0 * np.exp(-steps / 20_000) + 0.05 * rng.standard_normal(n)
    losses[31_234] = 9.0  # a spike
    losses[77_777] = -3.0  # a dip
    curve = LossCurve(max_points=max_points)
    curve.extend(steps, losses)
    curve.flush()
    x = np.asarray(curve.lines["loss"].x)
    y = np.asarray(curve.lines["loss"].y)
    assert max_points // 2 <= len(x) <= max_points
    assert x[0] == 0 and x[-1] == n - 1
    assert np.all(np.diff(x) > 0)
    np.testing.assert_array_equal(y, losses[x.astype(int)])  # real points only
    assert 9.0 in y and -3.0 in y
    # Envelope: within any stretch (widened by one bucket), the drawn max / min reach the
    # history's max / min of that stretch.
    bucket = int(np.ceil((n - 2) / ((max_points - 2) // 2)))
    for a in range(0, n, 7_919):
        b = min(a + 5_000, n)
        near = (x >= a - bucket) & (x < b + bucket)
        assert y[near].max() >= losses[a:b].max()
        assert y[near].min() <= losses[a:b].min()
    # The full history is kept.
    np.testing.assert_array_equal(curve.history["loss"][1], losses)


def test_downsample_minmax_small_cases():
    x = np.arange(10.0)
    np.testing.assert_array_equal(downsample_minmax(x, x, 10), np.arange(10))
    y = np.array([0, 5, 1, 1, 1, 1, 1, 1, 1, -5, 1, 0], float)
    idx = downsample_minmax(np.arange(12.0), y, 6)
    assert idx[0] == 0 and idx[-1] == 11 and len(idx) <= 6
    assert 1 in idx and 9 in idx  # the extremes
    y_nan = np.r_[1.0, np.full(20, np.nan), 2.0]
    idx = downsample_minmax(np.arange(22.0), y_nan, 6)
    assert idx[0] == 0 and idx[-1] == 21 and len(idx) <= 6


def test_loss_curve_smoothing_is_a_debiased_moving_average():
    a = 0.6
    rng = np.random.default_rng(1)
    losses = 1 + rng.random(50)
    losses[7] = np.nan
    curve = LossCurve(smooth=a)
    curve.extend(np.arange(20), losses[:20])
    for i in range(20, 50):
        curve.append(i, losses[i])
    curve.flush()
    # s_k = sum_i a^(k-i) (1-a) x_i / (1 - a^k) over the k finite values so far.
    finite = losses[np.isfinite(losses)]
    expect_finite = [
        sum(a ** (k - 1 - i) * (1 - a) * finite[i] for i in range(k)) / (1 - a**k)
        for k in range(1, finite.size + 1)
    ]
    expect = np.full(50, np.nan)
    expect[np.isfinite(losses)] = expect_finite
    smooth = curve.smooth_lines["loss"]
    np.testing.assert_allclose(smooth.y, expect, rtol=1e-12)
    assert curve.lines["loss"].opacities[0] < 1  # the raw curve is faded behind
    assert curve.marks.index(curve.lines["loss"]) < curve.marks.index(smooth)


def test_loss_curve_nonfinite_log_scale_and_legend():
    curve = LossCurve(log_scale=True)
    curve.extend([0, 1, 2, 3], [1.0, np.inf, 0.0, 0.5])
    curve.flush()
    y = np.asarray(curve.lines["loss"].y)
    assert np.isnan(y[1]) and np.isnan(y[2]) and y[0] == 1.0 and y[3] == 0.5
    assert np.isinf(curve.history["loss"][1][1])  # history keeps what was given
    assert isinstance(curve.y_scale, bq.LogScale)
    # One series: no legend; two: both named, under the plot.
    assert curve.legend.entries == [] and not curve.legend.names.visible
    curve.append(0, 2.0, series="val")
    curve.flush()
    assert [e.name for e in curve.legend.entries] == ["loss", "val"]
    assert_legend_outside(curve)
    assert curve.lines["loss"].colors != curve.lines["val"].colors
    curve.log_scale = False
    assert curve.lines["val"].scales["y"] is curve.y_scale is curve.y_axis.scale
    assert curve.lines["loss"].y[2] == 0.0
    assert curve.x_axis.label == "step" and curve.y_axis.label == "loss"


def test_loss_curve_clear():
    curve = LossCurve()
    curve.extend([0, 1], [1.0, 0.5])
    curve.append(0, 3.0, series="val")
    curve.flush()
    curve.clear("val")
    assert curve.series == ["loss"] and len(data_marks(curve)) == 1
    curve.clear()
    assert curve.history == {} and data_marks(curve) == [] and not curve.lines
    curve.append(5, 0.1)
    curve.flush()
    np.testing.assert_array_equal(curve.lines["loss"].x, [5.0])
    with pytest.raises(KeyError, match="nope"):
        curve.clear("nope")


def test_loss_curve_accepts_numpy_and_torch_scalars():
    torch = pytest.importorskip("torch")
    curve = LossCurve()
    curve.append(np.int64(1), np.float32(0.5))
    curve.append(2, torch.tensor(0.25))
    curve.extend(torch.arange(3, 5), torch.tensor([0.125, 0.0625]))
    curve.flush()
    np.testing.assert_array_equal(curve.history["loss"][0], [1, 2, 3, 4])
    np.testing.assert_array_equal(curve.history["loss"][1], [0.5, 0.25, 0.125, 0.0625])


def test_loss_curve_errors():
    with pytest.raises(TypeError, match="unexpected keyword argument.*points"):
        LossCurve(points=10)
    with pytest.raises(ValueError, match="max_points must be at least 10"):
        LossCurve(max_points=5)
    with pytest.raises(TypeError, match="max_points must be an int"):
        LossCurve(max_points=100.0)
    with pytest.raises(ValueError, match=r"smooth must be in \[0, 1\)"):
        LossCurve(smooth=1.0)
    with pytest.raises(TypeError, match="smooth must be None or a float"):
        LossCurve(smooth="ema")
    curve = LossCurve()
    with pytest.raises(TypeError, match="step must be a real number"):
        curve.append("1", 0.5)
    with pytest.raises(TypeError, match="loss must be a real number"):
        curve.append(1, [0.5, 0.4])
    with pytest.raises(ValueError, match="step must be finite"):
        curve.append(np.nan, 0.5)
    with pytest.raises(ValueError, match="steps has 2 values but losses has 3"):
        curve.extend([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="steps must be finite"):
        curve.extend([1, np.inf], [1, 2])
    with pytest.raises(TypeError, match="series must be a non-empty str"):
        curve.append(1, 0.5, series=None)
    assert curve.history == {}


def test_loss_curve_series_take_the_colour_asked_for():
    curve = LossCurve()
    curve.extend([0, 1, 2], [1.0, 0.5, 0.25], series="sgd", color="#00e5ff")
    curve.extend([0, 1, 2], [1.0, 0.6, 0.3], series="adam")
    curve.flush()
    assert curve.lines["sgd"].colors == ["#00e5ff"]
    assert curve.lines["adam"].colors != ["#00e5ff"]
    curve.close()


def test_log_ticks_are_few_and_at_1_2_5():
    np.testing.assert_allclose(log_tick_values(0.07, 2.0), [0.1, 0.2, 0.5, 1.0, 2.0])
    wide = log_tick_values(1e-6, 10.0)
    assert len(wide) <= 8 and all(np.log10(wide) == np.round(np.log10(wide)))
    narrow = log_tick_values(0.0805, 0.0809)
    assert narrow.tolist() == [0.0805, 0.0809]
    curve = LossCurve(log_scale=True)
    curve.extend([0, 1, 2, 3], [2.0, 0.5, 0.09, 0.08])
    curve.flush()
    assert list(curve.y_axis.tick_values) == [0.1, 0.2, 0.5, 1.0, 2.0]
    curve.close()


def test_slices_through_one_minimum_can_go_without_barriers():
    bowl = Profile(t=np.linspace(-1, 1, 21), loss=np.linspace(-1, 1, 21) ** 2 + 0.1)
    plot = ProfilePlot(barriers=False)
    plot.set_profile("slice", bowl)
    assert plot.lines["slice"].labels == ["slice"]
    assert not plot.barrier_marks["slice"].visible
    with_bar = ProfilePlot()
    with_bar.set_profile("slice", bowl)
    # with barriers on, a slice through one basin says it has none (not "barrier 0.000")
    assert with_bar.lines["slice"].labels == ["slice (no barrier)"]


def test_a_profile_takes_the_colour_it_is_given_and_keeps_it():
    bowl = Profile(t=np.linspace(0, 1, 11), loss=np.linspace(0, 1, 11) ** 2 + 0.1)
    plot = ProfilePlot()
    plot.set_profile("a", bowl, color="#123456")
    plot.set_profile("b", bowl)
    assert plot.lines["a"].colors == ["#123456"]
    assert plot.barrier_marks["a"].colors == ["#123456"]
    assert plot.lines["b"].colors != ["#123456"]
    plot.set_profile("a", bowl)  # an update without a colour keeps it
    assert plot.lines["a"].colors == ["#123456"]
    plot.set_profile("a", bowl, color="#abcdef")
    assert plot.lines["a"].colors == plot.barrier_marks["a"].colors == ["#abcdef"]
    with pytest.raises(TypeError, match="color"):
        plot.set_profile("a", bowl, color=3)
    with pytest.raises(TypeError, match="barriers"):
        ProfilePlot(barriers="no")


def test_the_legend_wraps_into_rows_and_follows_the_figure_s_width():
    curve = LossCurve()
    names = [f"a rather long series name {k}" for k in range(6)]
    for name in names:
        curve.extend([0, 1], [1.0, 0.5], series=name)
    wide_rows = curve.legend.rows
    assert wide_rows >= 2  # six long names do not fit one row of a 560 px figure
    assert_legend_outside(curve)
    x_wide = np.asarray(curve.legend.names.x).copy()
    curve.layout.width = "360px"
    assert curve.legend.rows > wide_rows
    assert not np.array_equal(np.asarray(curve.legend.names.x), x_wide)
    assert_legend_outside(curve)
    curve.clear()
    assert curve.legend.entries == [] and curve.fig_margin["bottom"] == 44


def test_log_axes_are_labelled_in_plain_numbers_and_linear_ones_by_bqplot():
    plot = ProfilePlot(log_scale=True)
    plot.set_profile("a", Profile(t=np.linspace(0, 1, 5), loss=np.array([30.0, 8, 2, 0.9, 0.6])))
    assert list(plot.y_axis.tick_values) == [1.0, 2.0, 5.0, 10.0, 20.0]
    assert plot.y_axis.tick_format == "~g"  # "20", not "2e+1"
    plot.log_scale = False
    assert plot.y_axis.tick_values is None and plot.y_axis.tick_format is None
    curve = LossCurve(log_scale=True)
    curve.extend([0, 1, 2], [20.0, 3.0, 0.7])
    assert curve.y_axis.tick_format == "~g" and 20.0 in list(curve.y_axis.tick_values)
    curve.log_scale = False
    assert curve.y_axis.tick_values is None
