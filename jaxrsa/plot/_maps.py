"""Maps of models: MDS embeddings of models and their training paths."""

from collections.abc import Sequence

import numpy as np
from jax.typing import ArrayLike
from matplotlib.figure import Figure

from jaxrsa.plot._style import axes_of, equal_aspect_limits, group_styles


def _check_points(points, name: str, ndim: int) -> np.ndarray:
    points = np.asarray(points, dtype=float)
    if points.ndim != ndim or points.shape[-1] != 2:
        want = "[m, 2]" if ndim == 2 else "[m, T, 2]"
        raise ValueError(f"{name}: expected a 2-D embedding of shape {want}, got {points.shape}")
    if not np.isfinite(points).all():
        raise ValueError(f"{name}: contains non-finite coordinates")
    return points


def _check_groups(groups, m: int) -> list[str]:
    groups = [str(g) for g in groups]
    if len(groups) != m:
        raise ValueError(f"groups: expected one group per model ({m}), got {len(groups)}")
    return groups


# Squared Mahalanobis radius holding 95% of a 2-D normal: the chi-square(2) 0.95 quantile.
CHI2_2DOF_95 = 5.991464547107979


def ellipse(points: np.ndarray, level: float = CHI2_2DOF_95, steps: int = 64) -> np.ndarray:
    """`[steps + 1, 2]` outline of the normal-theory region of `points` `[r, 2]` (mean and
    covariance of the points; the 95% region by default)."""
    mean, cov = points.mean(axis=0), np.cov(points.T)
    values, vectors = np.linalg.eigh(cov)
    t = np.linspace(0.0, 2 * np.pi, steps + 1)
    circle = np.stack([np.cos(t), np.sin(t)], axis=1)
    return mean + (circle * np.sqrt(np.maximum(values, 0.0) * level)) @ vectors.T


def model_map(
    embedding: ArrayLike,
    groups: Sequence[str],
    *,
    names: Sequence[str] | None = None,
    legend_extra: dict[str, str] | None = None,
    regions: ArrayLike | None = None,
    title: str = "Models by representational similarity (MDS)",
    ax=None,
) -> Figure:
    """Scatter models in their 2-D MDS embedding, one colour and marker per group.

    Args:
        embedding: `[m, 2]` coordinates (e.g. `jaxrsa.mds(...).embedding`).
        groups: the family of each model (e.g. "MLP", "CNN"); sets colour and marker.
        names: optional label drawn next to each model (keep it short).
        legend_extra: text appended to a group's legend entry (e.g. mean accuracy).
        regions: optional `[r, m, 2]` positions of every model in r replicate maps aligned to
            `embedding` (e.g. MDS of bootstrap similarity matrices, `procrustes_align`-ed):
            each model's 95% region (normal-theory ellipse) is drawn around it.
        title: axes title.
        ax: draw into these axes instead of a new figure.

    Returns:
        The matplotlib `Figure`.
    """
    points = _check_points(embedding, "embedding", 2)
    groups = _check_groups(groups, len(points))
    fig, ax = axes_of(ax)
    extent = points
    if regions is not None:
        regions = _check_points(regions, "regions", 3)
        if regions.shape[1] != len(points) or regions.shape[0] < 3:
            raise ValueError(
                f"regions: expected [r >= 3, {len(points)}, 2] replicate positions, got "
                f"{regions.shape}"
            )
        styles = group_styles(groups)
        outlines = [ellipse(regions[:, i]) for i in range(len(points))]
        for outline, group in zip(outlines, groups, strict=True):
            color = styles[group]["color"]
            ax.fill(*outline.T, color=color, alpha=0.12, linewidth=0)
            ax.plot(*outline.T, color=color, alpha=0.45, linewidth=0.8)
        ax.fill([], [], color="0.5", alpha=0.25, label="95% region (bootstrap)")
        extent = np.concatenate([points, *outlines])
    for group, style in group_styles(groups).items():
        sel = np.array([g == group for g in groups])
        label = f"{group} ({sel.sum()})" + (f", {legend_extra[group]}" if legend_extra else "")
        ax.scatter(*points[sel].T, s=64, label=label, edgecolor="white", linewidth=0.8, **style)
    if names is not None:
        for (x, y), name in zip(points, names, strict=True):
            ax.annotate(
                name, (x, y), xytext=(4, 4), textcoords="offset points", fontsize=7, color="0.3"
            )
    equal_aspect_limits(ax, extent)
    ax.set_xlabel("MDS dimension 1")
    ax.set_ylabel("MDS dimension 2")
    ax.set_title(title)
    ax.legend(loc="best", frameon=False, fontsize=9)
    ax.grid(alpha=0.25)
    return fig


def trajectories(
    paths: ArrayLike,
    groups: Sequence[str],
    *,
    title: str = "Training trajectories (MDS of every epoch of every model)",
    ax=None,
) -> Figure:
    """Draw each model's path through the map, epoch by epoch, start and end marked.

    Args:
        paths: `[m, T, 2]`: model i at epoch t (one MDS of all m * T points).
        groups: the family of each model (colour).
        title: axes title.
        ax: draw into these axes instead of a new figure.

    Returns:
        The matplotlib `Figure`.
    """
    paths = _check_points(paths, "paths", 3)
    groups = _check_groups(groups, len(paths))
    fig, ax = axes_of(ax, 7.0, 5.6)
    styles = group_styles(groups)
    seen = set()
    for path, group in zip(paths, groups, strict=True):
        color = styles[group]["color"]
        ax.plot(
            *path.T,
            "-",
            color=color,
            alpha=0.55,
            linewidth=1.3,
            label=None if group in seen else group,
        )
        ax.scatter(*path[1:-1].T, s=10, color=color, alpha=0.55)
        seen.add(group)
        ax.scatter(*path[0], s=40, facecolor="white", edgecolor=color, linewidth=1.5, zorder=3)
        ax.scatter(
            *path[-1],
            s=70,
            marker=styles[group]["marker"],
            color=color,
            edgecolor="black",
            linewidth=0.6,
            zorder=4,
        )
    ax.scatter([], [], s=40, facecolor="white", edgecolor="0.3", label="start (epoch 0)")
    ax.scatter([], [], s=70, color="0.5", edgecolor="black", linewidth=0.6, label="end")
    equal_aspect_limits(ax, paths.reshape(-1, 2))
    ax.set_xlabel("MDS dimension 1")
    ax.set_ylabel("MDS dimension 2")
    ax.set_title(title)
    ax.legend(loc="best", frameon=False, fontsize=9)
    ax.grid(alpha=0.25)
    return fig
