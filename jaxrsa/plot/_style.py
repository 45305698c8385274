"""Shared look of jaxrsa figures: one colour per group, consistent fonts, saving."""

import os
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from jaxrsa import _files

FIGURE_FORMATS = ("png", "pdf", "svg")
"""The figure files `save` writes, chosen by the path's extension."""

# Colour-blind-safe (Okabe-Ito); groups beyond these cycle.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def group_styles(groups: Sequence[str]) -> dict[str, dict]:
    """Colour and marker for each distinct group, in order of first appearance."""
    order = list(dict.fromkeys(groups))
    return {
        g: {"color": PALETTE[i % len(PALETTE)], "marker": MARKERS[i % len(MARKERS)]}
        for i, g in enumerate(order)
    }


def new_figure(width: float = 6.4, height: float = 4.8) -> Figure:
    """A figure without pyplot (no global state, no display backend needed)."""
    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def axes_of(ax, width: float = 6.4, height: float = 4.8):
    """`ax` itself, or the single axes of a new figure."""
    if ax is not None:
        return ax.figure, ax
    fig = new_figure(width, height)
    return fig, fig.add_subplot()


def save(fig: Figure, path: str | os.PathLike, dpi: int = 150) -> str:
    """Write `fig` to `path` (PNG, PDF or SVG from the extension) atomically; return the path."""
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext not in FIGURE_FORMATS:
        raise ValueError(
            f"{path}: a figure file must end in {', '.join('.' + f for f in FIGURE_FORMATS)}"
        )
    with _files.atomic_open(path) as f:
        fig.savefig(f, format=ext, dpi=dpi)
    return path


def equal_aspect_limits(ax, points: np.ndarray, margin: float = 0.08) -> None:
    """Square data limits around `points` `[k, 2]` so that distances read true."""
    lo, hi = points.min(axis=0), points.max(axis=0)
    centre, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2, 1e-12) * (1 + margin)
    ax.set_xlim(centre[0] - half, centre[0] + half)
    ax.set_ylim(centre[1] - half, centre[1] + half)
    ax.set_aspect("equal", adjustable="box")
