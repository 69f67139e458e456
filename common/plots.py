"""Plots the labs share: training curves, image grids, a confusion matrix, a heatmap.

Every function returns the Matplotlib figure and shows it. To look at the figures of a
headless run, ``make lab N=00`` writes every figure of the executed notebook to
``build/figures/``. In a notebook, end a cell with ``_ = common.plots.history(...)``: a bare
call as the cell's last line would show the figure twice (``make check`` flags it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def _plt() -> Any:
    import matplotlib.pyplot as plt

    return plt


def _finish(fig: Any) -> Any:
    plt = _plt()
    if "agg" in plt.get_backend().lower():
        plt.close(fig)  # headless (tests): nothing to show, do not pile figures up
    else:
        plt.show()
    return fig


def history(hist: Any, metrics: Sequence[str] | None = None, title: str = "Training curves") -> Any:
    """Loss and metrics per epoch from a Keras ``History`` (or its ``.history`` dict).

    One panel per metric; training solid, validation (when present) dashed.
    """
    logs = getattr(hist, "history", hist)
    if not isinstance(logs, dict) or not logs:
        raise ValueError(
            f"Expected a keras History or a non-empty dict of per-epoch lists, received {type(hist).__name__}."
        )
    base = [k for k in logs if not k.startswith("val_")]
    metrics = list(metrics) if metrics is not None else base
    missing = [m for m in metrics if m not in logs]
    if missing:
        raise ValueError(f"Unknown metric(s) {missing}. Expected some of: {', '.join(base)}.")
    plt = _plt()
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.2), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        epochs = np.arange(1, len(logs[metric]) + 1)
        ax.plot(epochs, logs[metric], "-o", ms=3, label="train")
        if f"val_{metric}" in logs:
            ax.plot(epochs, logs[f"val_{metric}"], "--o", ms=3, label="validation")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no "epoch 2.5" ticks
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return _finish(fig)


def image_grid(
    images: Any,
    labels: Sequence[Any] | None = None,
    ncols: int = 8,
    title: str = "Images",
    cmap: str = "gray",
    size: float = 1.3,
) -> Any:
    """Show a batch of images ``(n, h, w)`` or ``(n, h, w, c)`` with optional captions."""
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim not in (3, 4):
        raise ValueError(
            f"Expected images shaped (n, h, w) or (n, h, w, channels), received {images.shape}."
        )
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"Expected {len(images)} labels (one per image), received {len(labels)}.")
    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    plt = _plt()
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols, size * nrows + 0.4), squeeze=False
    )
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i], cmap=cmap if images.ndim == 3 else None)
            if labels is not None:
                ax.set_title(str(labels[i]), fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return _finish(fig)


def confusion_matrix(
    y_true: Any, y_pred: Any, class_names: Sequence[str], title: str = "Confusion matrix"
) -> Any:
    """Counts of true class (rows) against predicted class (columns), with the counts written in."""
    y_true = np.asarray(y_true).astype(int).ravel()
    y_pred = np.asarray(y_pred).astype(int).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred differ in length: {y_true.shape} vs {y_pred.shape}.")
    k = len(class_names)
    counts = np.zeros((k, k), dtype=int)
    np.add.at(counts, (y_true, y_pred), 1)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(0.55 * k + 2.5, 0.55 * k + 2))
    im = ax.imshow(counts, cmap="Blues")
    ax.set_xticks(range(k), class_names, rotation=45, ha="right")
    ax.set_yticks(range(k), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(k):
        for j in range(k):
            if counts[i, j]:
                color = "white" if counts[i, j] > counts.max() / 2 else "black"
                ax.text(j, i, counts[i, j], ha="center", va="center", fontsize=7, color=color)
    fig.colorbar(im, ax=ax, fraction=0.046)
    ax.set_title(title)
    fig.tight_layout()
    return _finish(fig)


def heatmap(
    matrix: Any,
    xlabels: Sequence[str] | None = None,
    ylabels: Sequence[str] | None = None,
    title: str = "Heatmap",
    xlabel: str = "",
    ylabel: str = "",
    cmap: str = "viridis",
) -> Any:
    """A 2-D array as an image with labelled axes (alignments, attention, probabilities)."""
    matrix = np.asarray(matrix)
    if matrix.ndim != 2:
        raise ValueError(f"Expected a 2-D array, received shape {matrix.shape}.")
    plt = _plt()
    h, w = matrix.shape
    fig, ax = plt.subplots(figsize=(min(12, 0.35 * w + 2.5), min(10, 0.35 * h + 1.8)))
    im = ax.imshow(matrix, cmap=cmap, aspect="auto")
    if xlabels is not None:
        ax.set_xticks(range(w), xlabels, fontsize=8)
    if ylabels is not None:
        ax.set_yticks(range(h), ylabels, fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    return _finish(fig)
