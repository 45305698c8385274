"""Eager checks at the API boundary of the MDS functions.

Shape checks always run. Value checks (finite, symmetric, non-negative, zero diagonal, a
connected weight graph) need concrete arrays: they run on NumPy copies of the inputs and are
skipped when a function is called on tracers inside a user's ``jit`` or ``vmap``.
"""

import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike
from jaxtyping import Array

from jaxrsa import _inputs

RTOL = 1e-5
"""Relative tolerance (times the largest absolute entry) for symmetry, diagonal and sign."""


def check_square(shape: tuple, name: str, *, max_batch_dims: int | None) -> None:
    """Raise unless ``shape`` is ``[..., m, m]`` with at most ``max_batch_dims`` leading axes
    (any number when None)."""
    too_many = max_batch_dims is not None and len(shape) > 2 + max_batch_dims
    if len(shape) < 2 or too_many or shape[-1] != shape[-2]:
        want = {0: "[m, m]", 1: "[m, m] or a batch [b, m, m]", None: "[..., m, m]"}[max_batch_dims]
        raise ValueError(f"{name} must be a square matrix {want}; got shape {tuple(shape)}")


def _labelled(a: np.ndarray, name: str):
    """Pairs (label, matrix) over the leading axes of a ``[..., m, m]`` array."""
    if a.ndim == 2:
        return [(name, a)]
    flat = a.reshape(-1, *a.shape[-2:])
    return [
        (f"{name}[{', '.join(map(str, np.unravel_index(i, a.shape[:-2])))}]", flat[i])
        for i in range(flat.shape[0])
    ]


def check_symmetric_matrices(
    a: np.ndarray,
    name: str,
    *,
    mask: np.ndarray | None = None,
    nonnegative: bool = True,
    zero_diagonal: bool = True,
    bound: float | None = None,
) -> None:
    """Value checks of concrete ``[..., m, m]`` matrices.

    Args:
        a: the matrices.
        name: argument name for messages.
        mask: optional boolean array of ``a``'s shape; entries where it is False are ignored
            (missing values, which may be NaN).
        nonnegative: reject entries below ``-RTOL * max|a|``.
        zero_diagonal: reject diagonals beyond ``RTOL * max|a|`` in absolute value.
        bound: if given, reject entries with ``|a| > bound * (1 + RTOL)``.
    """
    masks = _labelled(mask, name) if mask is not None else None
    for idx, (label, mat) in enumerate(_labelled(np.asarray(a), name)):
        if masks is not None:
            mat = np.where(masks[idx][1], mat, 0.0)
        if not np.all(np.isfinite(mat)):
            extra = " (where the weight is positive)" if mask is not None else ""
            raise ValueError(f"{label} has non-finite entries (NaN or inf){extra}")
        scale = float(np.max(np.abs(mat), initial=0.0))
        tol = RTOL * scale
        asym = float(np.max(np.abs(mat - mat.T), initial=0.0))
        if asym > tol:
            raise ValueError(
                f"{label} is not symmetric: max |A - A^T| = {asym:.3g} exceeds "
                f"{RTOL:g} * max |A| = {tol:.3g}"
            )
        if nonnegative and mat.size and mat.min() < -tol:
            raise ValueError(f"{label} has negative entries (min {mat.min():.3g})")
        diag = float(np.max(np.abs(np.diagonal(mat)), initial=0.0))
        if zero_diagonal and diag > tol:
            raise ValueError(f"{label} has a non-zero diagonal (max |A_ii| = {diag:.3g})")
        if bound is not None and scale > bound * (1 + RTOL):
            raise ValueError(
                f"{label} has entries outside [-{bound:g}, {bound:g}] (max |A| = {scale:.6g})"
            )


def check_connected(w: np.ndarray, name: str) -> None:
    """Raise unless the pairs of positive weight connect all points of each ``[m, m]`` matrix.

    A breadth-first search on the boolean adjacency matrix: O(m^2) in all.
    """
    for label, mat in _labelled(np.asarray(w), name):
        adjacent = mat > 0
        seen = np.zeros(mat.shape[0], dtype=bool)
        seen[0] = True
        frontier = seen.copy()
        while frontier.any():
            frontier = adjacent[frontier].any(axis=0) & ~seen
            seen |= frontier
        if not seen.all():
            raise ValueError(
                f"{label}: the pairs with positive weight do not connect all points "
                f"({int((~seen).sum())} of {seen.size} unreachable from point 0); the relative "
                "placement of disconnected groups is undefined"
            )


def prepare_dissimilarities(
    dissimilarities: ArrayLike,
    n_components: int,
    weights: ArrayLike | None = None,
) -> tuple[Array, Array | None]:
    """Checked ``[m, m]`` or ``[b, m, m]`` dissimilarities (and weights of the same shape), in
    their common float dtype. Entries where the weight is 0 are not checked (they may be NaN).
    """
    k = _inputs.integer("n_components", n_components)
    delta = jnp.asarray(dissimilarities)
    check_square(delta.shape, "dissimilarities", max_batch_dims=1)
    m = delta.shape[-1]
    if m < k + 1:
        raise ValueError(
            f"dissimilarities has m = {m} points; embedding in n_components = {k} dimensions "
            f"needs at least {k + 1}"
        )
    if weights is None:
        delta = delta.astype(_inputs.float_dtype("dissimilarities", delta))
        if _inputs.concrete(delta):
            check_symmetric_matrices(np.asarray(delta), "dissimilarities")
        return delta, None
    w = jnp.asarray(weights)
    if w.shape not in (delta.shape, delta.shape[-2:]):
        raise ValueError(
            f"weights must have the shape of dissimilarities {tuple(delta.shape)}"
            + (f" or {tuple(delta.shape[-2:])}" if delta.ndim == 3 else "")
            + f"; got {tuple(w.shape)}"
        )
    dtype = _inputs.float_dtype("dissimilarities and weights", delta, w)
    delta, w = delta.astype(dtype), jnp.broadcast_to(w.astype(dtype), delta.shape)
    if _inputs.concrete(delta, w):
        w_np = np.asarray(w)
        check_symmetric_matrices(w_np, "weights", zero_diagonal=False)
        check_connected(w_np, "weights")
        mask = (w_np > 0) | np.eye(m, dtype=bool)
        check_symmetric_matrices(np.asarray(delta), "dissimilarities", mask=mask)
    return delta, w


def magnitude(delta: Array) -> Array:
    """The largest entry of each cleaned ``[..., m, m]`` matrix (1 for a matrix of zeros).

    MDS is equivariant to scale: the kernels run on ``delta / magnitude`` (entries in [0, 1]),
    so no square or product overflows or underflows at any magnitude, and results are scaled
    back.
    """
    top = jnp.max(delta, axis=(-2, -1))
    return jnp.where(top > 0, top, jnp.ones_like(top))


def check_stress_fits(delta: np.ndarray, w: np.ndarray | None, dtype) -> None:
    """Raise if the raw stress of concrete dissimilarities cannot be held in `dtype`: its
    largest possible value, ``sum_{i<j} w delta^2``, overflows (computed without overflow
    in float64 as ``top^2 * sum w (delta / top)^2 / 2``)."""
    a = np.abs(np.asarray(delta, np.float64))
    if w is not None:  # entries of weight 0 are missing (may be NaN)
        a = np.where(np.asarray(w) > 0, a, 0.0)
    top = np.max(a, axis=(-2, -1), keepdims=True, initial=0.0)
    unit = np.where(top > 0, a / np.where(top > 0, top, 1), 0)
    weighted = unit**2 if w is None else np.asarray(w, np.float64) * unit**2
    with np.errstate(over="ignore"):
        eta = 0.5 * np.sum(weighted, axis=(-2, -1)) * np.squeeze(top, (-2, -1)) ** 2
    worst = float(np.max(eta))
    if not worst <= float(np.finfo(dtype).max):
        raise ValueError(
            f"dissimilarities: entries up to {float(top.max()):.3g} make the raw stress (up to "
            f"{worst:.3g}) overflow {np.dtype(dtype)}; divide them by a constant (the map "
            "scales with them, stress_1 does not) or pass float64"
        )


def clean(delta: Array, w: Array | None = None) -> tuple[Array, Array | None]:
    """Exactly symmetric, non-negative ``[..., m, m]`` matrices with zero diagonals; entries of
    zero weight set to 0. Runs inside jit (also on inputs whose values were not checked)."""
    eye = jnp.eye(delta.shape[-1], dtype=bool)
    if w is not None:
        w = jnp.where(eye, 0, jnp.maximum(w + jnp.swapaxes(w, -1, -2), 0) / 2)
        delta = jnp.where(w > 0, delta, 0)
    delta = (delta + jnp.swapaxes(delta, -1, -2)) / 2
    return jnp.where(eye, 0, jnp.maximum(delta, 0)), w
