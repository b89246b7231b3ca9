"""The evaluation figures a person reads (issue 17, item 6), for each task: what is
drawn, not how it looks (the look was checked by eye; docs/evaluation.md)."""

from __future__ import annotations

import itertools

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from mlops_platform.tasks import ClassificationTask, RegressionTask


def test_a_confusion_matrix_shows_counts_and_shares_with_labels_that_fit():
    labels = {
        "LA": "High price sensitivity",
        "MM": "Medium price sensitivity",
        "UM": "Low price sensitivity",
    }
    task = ClassificationTask(("LA", "MM", "UM"), labels)
    rng = np.random.default_rng(0)
    y = rng.choice(["LA", "MM", "UM"], 300)
    pred = np.where(rng.random(300) < 0.6, y, rng.choice(["LA", "MM", "UM"], 300))
    fig = task.figure("retail: test shop_week 200618", [("challenger", y, pred,
                      task.report(y, pred))], labels)  # fmt: skip
    counts, shares = fig.axes
    cm = np.array(task.report(y, pred)["confusion_matrix"]["matrix"])
    drawn = [t.get_text() for t in counts.texts]
    assert drawn == [str(v) for v in cm.ravel()]
    row = cm[0] / cm[0].sum()
    assert [t.get_text() for t in shares.texts][:3] == [f"{v:.2f}" for v in row]
    # the axes carry the short codes; the names are spelled out once, beneath
    assert [t.get_text() for t in counts.get_xticklabels()] == ["LA", "MM", "UM"]
    assert "LA = High price sensitivity" in fig.texts[-1].get_text()
    assert "[" not in fig.get_suptitle()  # no Python list in a title
    fig.canvas.draw()  # the codes do not overlap each other
    boxes = [t.get_window_extent() for t in counts.get_xticklabels()]
    assert all(a.x1 < b.x0 for a, b in itertools.pairwise(boxes))
    plt.close(fig)


def test_a_forecast_is_drawn_over_time_when_rows_are_series():
    task = RegressionTask(unit="cars")
    times = pd.date_range("2012-10-24 06:00", periods=50, freq="5min")
    series = pd.DataFrame(
        {"series": ["A"] * 50 + ["B"] * 50, "time": np.r_[times, times]}
    )
    y = np.r_[np.linspace(10, 60, 50), np.linspace(300, 500, 50)]
    pred = y + 5  # a constant offset: every residual equal (once a crash)
    panel = ("challenger", y, pred, task.report(y, pred))
    fig = task.figure("parking: test day 20121024", [panel], {}, series)
    scatter, residuals, over_time = fig.axes
    assert scatter.get_xlabel() == "actual (cars)"
    assert residuals.get_xlabel() == "residual: forecast - actual (cars)"
    lines = {line.get_label() for line in over_time.get_lines()}
    assert lines == {"A actual", "A forecast", "B actual", "B forecast"}
    plt.close(fig)
    # rows that are not series: no time panel
    assert len(task.figure("t", [panel], {}).axes) == 2
