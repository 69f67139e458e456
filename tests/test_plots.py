"""common.plots: figures have titles and labels, bad input is explained."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from common import plots


def test_history_panels_and_labels():
    fig = plots.history(
        {"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "accuracy": [0.5, 0.8]}, title="Run 1"
    )
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == ["loss", "accuracy"]
    assert axes[0].get_xlabel() == "epoch" and len(axes[0].get_lines()) == 2
    assert all(tick == round(tick) for tick in axes[0].get_xticks())  # whole epochs only
    assert fig.get_suptitle() == "Run 1"


def test_history_accepts_keras_history_object():
    class H:
        history = {"loss": [3.0, 2.0]}

    assert plots.history(H()).axes[0].get_ylabel() == "loss"


def test_history_errors():
    with pytest.raises(ValueError, match="Expected a keras History"):
        plots.history({})
    with pytest.raises(ValueError, match=r"Unknown metric\(s\) \['auc'\]"):
        plots.history({"loss": [1.0]}, metrics=["auc"])


def test_image_grid_shapes_and_errors():
    fig = plots.image_grid(np.zeros((5, 8, 8, 1)), labels=list("abcde"), ncols=3)
    titled = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titled == list("abcde") and len(fig.axes) == 6
    plots.image_grid(np.zeros((2, 8, 8, 3)))
    with pytest.raises(ValueError, match=r"received \(8, 8\)"):
        plots.image_grid(np.zeros((8, 8)))
    with pytest.raises(ValueError, match="Expected 3 labels"):
        plots.image_grid(np.zeros((3, 4, 4)), labels=["a"])


def test_confusion_matrix_counts():
    fig = plots.confusion_matrix([0, 1, 1, 2], [0, 1, 2, 2], ["a", "b", "c"])
    counts = fig.axes[0].images[0].get_array()
    np.testing.assert_array_equal(counts, [[1, 0, 0], [0, 1, 1], [0, 0, 1]])
    assert fig.axes[0].get_xlabel() == "predicted"
    with pytest.raises(ValueError, match="differ in length"):
        plots.confusion_matrix([0, 1], [0], ["a", "b"])


def test_heatmap_labels_and_errors():
    fig = plots.heatmap(np.eye(3), xlabels=list("xyz"), title="A", xlabel="input", ylabel="output")
    assert fig.axes[0].get_xlabel() == "input" and fig.axes[0].get_title() == "A"
    with pytest.raises(ValueError, match="Expected a 2-D array"):
        plots.heatmap(np.zeros(3))
