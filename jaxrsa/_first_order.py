"""First order: the n x n (dis)similarity matrix of one model's representations of n examples."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike
from jaxtyping import Array, Float

from jaxrsa import _inputs
from jaxrsa._numerics import centre_unit, gram, median_sq_distance, sq_distances, symmetrize, unit

METRICS = ("euclidean", "sqeuclidean", "correlation", "cosine")
KERNELS = ("dot", "cosine", "correlation", "rbf")

# Why a row (an example) can make a metric or kernel undefined.
ROW_CONDITION = {
    "cosine": "has zero norm, so its cosine similarity is undefined",
    "correlation": "is constant across features, so its Pearson correlation is undefined",
}


def normalized_rows(x: Float[Array, "n d"], how: str) -> Float[Array, "n d"]:
    """Rows scaled to unit norm ("cosine") or centred and scaled ("correlation"); NaN: undefined."""
    return unit(x) if how == "cosine" else centre_unit(x)


def first_undefined_example(x: Float[Array, "*m n d"], how: str) -> tuple[int, ...] | None:
    """(model, example) or (example,) of the first row that `how` cannot normalize, or None."""
    rows = normalized_rows(x, how)
    bad = np.argwhere(np.isnan(np.asarray(rows)).any(axis=-1))
    return tuple(int(i) for i in bad[0]) if len(bad) else None


def rbf_kernel(x: Float[Array, "n d"], threshold: float = 0.5) -> Float[Array, "n n"]:
    """K_ij = exp(-D2_ij / (2 t^2 median(D2))), the median over all n^2 squared distances.

    Kornblith et al. (2019)'s bandwidth; NaN when the median is zero (most examples coincide).
    """
    d2 = sq_distances(x)
    median = median_sq_distance(d2)
    bandwidth = 2.0 * threshold**2 * median
    safe = jnp.where(median > 0, bandwidth, 1.0)
    return jnp.where(median > 0, jnp.exp(-d2 / safe), jnp.nan)


def rsm_kernel(x: Float[Array, "n d"], kernel: str, threshold: float = 0.5) -> Float[Array, "n n"]:
    """Similarity matrix of one model (see `rsm`)."""
    if kernel == "dot":
        return symmetrize(gram(x))
    if kernel == "rbf":
        return rbf_kernel(x, threshold)
    s = symmetrize(gram(normalized_rows(x, kernel)))
    return s.at[jnp.diag_indices(x.shape[0])].set(1.0)


def rdm_kernel(x: Float[Array, "n d"], metric: str) -> Float[Array, "n n"]:
    """Dissimilarity matrix of one model (see `rdm`)."""
    if metric == "sqeuclidean":
        return sq_distances(x)
    if metric == "euclidean":
        return jnp.sqrt(sq_distances(x))
    d = 1.0 - symmetrize(gram(normalized_rows(x, metric)))
    return d.at[jnp.diag_indices(x.shape[0])].set(0.0)


@functools.partial(jax.jit, static_argnames=("which", "option", "threshold"))
def _first_order(x, which: str, option: str, threshold: float):
    if which == "rdm":
        kernel = functools.partial(rdm_kernel, metric=option)
    else:
        kernel = functools.partial(rsm_kernel, kernel=option, threshold=threshold)
    return jax.vmap(kernel)(x) if x.ndim == 3 else kernel(x)


def _apply(x: ArrayLike, which: str, option: str, threshold: float = 0.5):
    name, valid = ("metric", METRICS) if which == "rdm" else ("kernel", KERNELS)
    _inputs.check_choice(name, option, valid)
    x = _inputs.as_models_array(x)
    if option in ROW_CONDITION and _inputs.concrete(x):
        bad = first_undefined_example(x, option)
        if bad is not None:
            who = f"model {bad[0]}, example {bad[1]}" if len(bad) == 2 else f"example {bad[0]}"
            raise ValueError(f"{who} {ROW_CONDITION[option]}")
    out = _first_order(x, which, option, threshold)
    if option == "rbf":
        _inputs.check_models_finite(
            out, "the median squared distance is zero (most examples coincide)"
        )
    return out


def rdm(x: ArrayLike, metric: str = "correlation") -> Float[Array, "*m n n"]:
    """Representational dissimilarity matrix of one model or a batch of models.

    Args:
        x: activations `[n, d]` (n examples, d features), or `[m, n, d]` for m models.
        metric: "correlation" (1 - Pearson r between two examples' feature vectors), "cosine"
            (1 - cosine similarity), "euclidean" or "sqeuclidean".

    Returns:
        `[n, n]` (or `[m, n, n]`): symmetric, zero diagonal, dtype of `x` (float32 for integers).

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxrsa import rdm
        >>> rdm(jnp.array([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0]]), "cosine")
        Array([[0., 1., 0.],
               [1., 0., 1.],
               [0., 1., 0.]], dtype=float32)
    """
    return _apply(x, "rdm", metric)


def rsm(x: ArrayLike, kernel: str = "cosine", *, threshold: float = 0.5) -> Float[Array, "*m n n"]:
    """Representational similarity (Gram) matrix of one model or a batch of models.

    Args:
        x: activations `[n, d]`, or `[m, n, d]` for m models.
        kernel: "cosine", "correlation" (Pearson r between examples), "dot" (X X^T) or "rbf"
            (exp(-D2 / (2 threshold^2 median(D2))), D2 the squared distances, the median over all
            n^2 entries, as CKA-RBF uses it).
        threshold: the RBF bandwidth as a fraction of the median distance.

    Returns:
        `[n, n]` (or `[m, n, n]`), symmetric, dtype of `x` (float32 for integers).

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxrsa import rsm
        >>> rsm(jnp.array([[1.0, 0.0], [1.0, 1.0]]), "dot")
        Array([[1., 1.],
               [1., 2.]], dtype=float32)
    """
    return _apply(x, "rsm", kernel, _inputs.positive("threshold", threshold))
