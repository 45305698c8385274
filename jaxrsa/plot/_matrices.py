"""Matrices as pictures: model x model similarity, layer x layer similarity, example RDMs."""

from collections.abc import Sequence

import numpy as np
from jax.typing import ArrayLike
from matplotlib.figure import Figure

from jaxrsa import _labels
from jaxrsa.plot._style import axes_of, group_styles, new_figure

MAX_TICK_LABELS = 40


def _square(matrix, name: str) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=float)
    if matrix.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D matrix, got shape {matrix.shape}")
    if not np.isfinite(matrix).all():
        raise ValueError(f"{name}: contains non-finite values")
    return matrix


def similarity_heatmap(
    matrix: ArrayLike,
    names: Sequence[str] | None = None,
    groups: Sequence[str] | None = None,
    *,
    title: str = "Model x model similarity",
    label: str = "similarity",
    chance: ArrayLike | None = None,
    ax=None,
) -> Figure:
    """The m x m similarity matrix, models ordered by group, group boundaries drawn.

    Args:
        matrix: `[m, m]`, or a labelled one (`jaxrsa.to_dataframe`, `jaxrsa.to_xarray`).
        names: one name per model (tick labels when m <= 40); by default the labelled
            matrix's row names.
        groups: optional family of each model: models are sorted by it (stable) and each
            group gets a coloured band along the axes.
        title: axes title.
        label: colour bar label.
        chance: optional `[m, m]` booleans: entries not different from chance (e.g.
            `permutation_test(...).p_value >= 0.05`), marked with a cross.
        ax: draw into these axes instead of a new figure.
    """
    matrix, names, _ = _labels.unlabel(matrix, names, names)
    matrix = _square(matrix, "matrix")
    m = matrix.shape[0]
    if matrix.shape != (m, m) or len(names) != m:
        raise ValueError(
            f"matrix must be [m, m] with m = len(names) = {len(names)}, got {matrix.shape}"
        )
    if chance is not None:
        chance = np.asarray(chance)
        if chance.shape != (m, m) or chance.dtype != bool:
            raise ValueError(
                f"chance: expected [{m}, {m}] booleans, got {chance.dtype} {chance.shape}"
            )
    groups = [str(g) for g in groups] if groups is not None else [""] * m
    order = np.argsort([list(dict.fromkeys(groups)).index(g) for g in groups], kind="stable")
    matrix, names, groups = (
        matrix[np.ix_(order, order)],
        [names[i] for i in order],
        [groups[i] for i in order],
    )
    fig, ax = axes_of(ax, 7.2, 6.0)
    image = ax.imshow(matrix, cmap="viridis", interpolation="nearest")
    fig.colorbar(image, ax=ax, shrink=0.8, label=label)
    if chance is not None and chance.any():
        rows, cols = np.nonzero(chance[np.ix_(order, order)])
        ax.scatter(cols, rows, marker="x", s=18, color="white", linewidths=1.0,
                   label="not different from chance")  # fmt: skip
        ax.legend(loc="upper right", bbox_to_anchor=(1.0, -0.02), frameon=False, fontsize=8)
    if m <= MAX_TICK_LABELS:
        ax.set_xticks(range(m), names, rotation=90, fontsize=7)
        ax.set_yticks(range(m), names, fontsize=7)
    else:
        ax.set_xticks([])
        ax.set_yticks([])
    styles = group_styles(groups)
    start = 0
    for g in dict.fromkeys(groups):
        size = groups.count(g)
        if g and len(styles) > 1:
            for pos in (start - 0.5, start + size - 0.5):
                ax.axhline(pos, color="white", linewidth=1.2)
                ax.axvline(pos, color="white", linewidth=1.2)
            ax.annotate(
                g,
                xy=(start + size / 2 - 0.5, -0.6),
                xycoords="data",
                ha="center",
                va="bottom",
                fontsize=9,
                color=styles[g]["color"],
                fontweight="bold",
                annotation_clip=False,
            )
        start += size
    ax.set_xlim(-0.5, m - 0.5)
    ax.set_ylim(m - 0.5, -0.5)
    ax.set_title(title, pad=18 if len(styles) > 1 else 6)
    return fig


def layer_heatmap(
    matrix: ArrayLike,
    row_names: Sequence[str] | None = None,
    col_names: Sequence[str] | None = None,
    *,
    title: str = "Layer x layer similarity",
    xlabel: str = "layer",
    ylabel: str = "layer",
    ax=None,
) -> Figure:
    """A small matrix of layer-to-layer similarities with the values written in the cells.

    `matrix` may be labelled (`jaxrsa.to_dataframe`, `jaxrsa.to_xarray`): its row and column
    names are then the default `row_names` and `col_names`.
    """
    matrix, row_names, col_names = _labels.unlabel(matrix, row_names, col_names)
    matrix = _square(matrix, "matrix")
    if matrix.shape != (len(row_names), len(col_names)):
        raise ValueError(
            f"matrix shape {matrix.shape} does not match {len(row_names)} x {len(col_names)} names"
        )
    fig, ax = axes_of(ax, 1.2 + 0.9 * len(col_names), 1.0 + 0.8 * len(row_names))
    lo, hi = float(matrix.min()), float(max(matrix.max(), 1.0))
    image = ax.imshow(matrix, cmap="viridis", vmin=lo, vmax=hi)
    fig.colorbar(image, ax=ax, shrink=0.8, label="similarity")
    digits = 2 if hi - lo > 0.1 else 3  # near-1 similarities (e.g. RSA of ReLU layers) differ late
    for (i, j), v in np.ndenumerate(matrix):
        bright = (v - lo) > 0.6 * (hi - lo)
        ax.text(
            j,
            i,
            f"{v:.{digits}f}",
            ha="center",
            va="center",
            fontsize=8,
            color="black" if bright else "white",
        )
    ax.set_xticks(range(len(col_names)), col_names, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(row_names)), row_names, fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return fig


def rdm_panel(
    rdms: ArrayLike,
    titles: Sequence[str],
    labels: ArrayLike,
    *,
    title: str = "Representational dissimilarity matrices (examples sorted by class)",
    cols: int | None = None,
) -> Figure:
    """Several RDMs side by side, examples sorted by class with class boundaries marked.

    Args:
        rdms: `[k, n, n]` dissimilarity matrices of k models over the same n examples.
        titles: one title per RDM.
        labels: `[n]` class of each example (sorting and tick labels).
        title: figure title.
        cols: panels per row (default: all in one row up to 4).

    Each panel shows the dissimilarities as percentiles of that RDM (rank transform), the usual
    way to compare RDMs whose scales differ.
    """
    rdms = np.asarray(rdms, dtype=float)
    labels = np.asarray(labels)
    if rdms.ndim != 3 or rdms.shape[1] != rdms.shape[2]:
        raise ValueError(f"rdms: expected [k, n, n], got shape {rdms.shape}")
    if labels.shape != (rdms.shape[1],) or len(titles) != rdms.shape[0]:
        raise ValueError("labels must be [n] and titles one per RDM")
    if not np.isfinite(rdms).all():
        raise ValueError("rdms: contains non-finite values")
    k, n = rdms.shape[:2]
    order = np.argsort(labels, kind="stable")
    classes, starts = np.unique(labels[order], return_index=True)
    cols = cols or min(k, 4)
    rows = -(-k // cols)
    fig = new_figure(3.2 * cols + 0.8, 3.2 * rows + 0.6)
    axes = fig.subplots(rows, cols, squeeze=False)
    iu = np.triu_indices(n, 1)
    for i, ax in enumerate(axes.flat):
        if i >= k:
            ax.set_axis_off()
            continue
        d = rdms[i][np.ix_(order, order)]
        ranks = np.zeros_like(d)
        ranks[iu] = (np.argsort(np.argsort(d[iu])) + 0.5) / len(iu[0]) * 100
        ranks = ranks + ranks.T
        image = ax.imshow(ranks, cmap="magma", vmin=0, vmax=100, interpolation="nearest")
        centres = (starts + np.append(starts[1:], n)) / 2 - 0.5
        ax.set_xticks(centres, classes, fontsize=7)
        ax.set_yticks(centres, classes, fontsize=7)
        ax.tick_params(length=0)
        for s in starts[1:]:
            ax.axhline(s - 0.5, color="white", linewidth=0.5)
            ax.axvline(s - 0.5, color="white", linewidth=0.5)
        ax.set_title(titles[i], fontsize=10)
        if i % cols == 0:
            ax.set_ylabel("examples (by class)", fontsize=8)
        if i >= k - cols:
            ax.set_xlabel("examples (by class)", fontsize=8)
    fig.colorbar(image, ax=axes, shrink=0.8, label="dissimilarity (percentile)")
    fig.suptitle(title)
    return fig
