"""Similarity matrices to dissimilarity matrices, ready for :func:`jaxrsa.mds`."""

import functools
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike
from jaxtyping import Array, Float

from jaxrsa import _inputs
from jaxrsa._mds import _validate

_METHODS = ("angular", "sqrt", "linear")


@functools.partial(jax.jit, static_argnames="method")
def _convert(similarity: Array, method: str) -> Array:
    s = jnp.clip((similarity + jnp.swapaxes(similarity, -1, -2)) / 2, -1, 1)
    if method == "angular":
        d = jnp.arccos(s)
    elif method == "sqrt":
        d = jnp.sqrt(jnp.maximum(2 - 2 * s, 0))
    else:
        d = 1 - s
    eye = jnp.eye(s.shape[-1], dtype=bool)
    return jnp.where(eye, jnp.zeros((), d.dtype), d)


def to_dissimilarity(
    similarity: ArrayLike,
    method: Literal["angular", "sqrt", "linear"] = "angular",
) -> Float[Array, "*batch m m"]:
    """Turn a similarity matrix with entries in [-1, 1] into a dissimilarity matrix.

    The input is symmetrized (``(S + S^T) / 2``) and clipped to [-1, 1] first, so that
    round-off such as ``s = 1 + 1e-7`` cannot produce NaN; the diagonal of the output is
    exactly 0. Use ``"angular"`` or ``"sqrt"`` for cosine-like similarities (both are metrics
    on unit vectors), ``"linear"`` for the plain ``1 - s``.

    Args:
        similarity: ``[m, m]`` or ``[..., m, m]`` similarities, symmetric to a relative
            tolerance of 1e-5 and within [-1, 1] up to the same tolerance.
        method: ``"angular"``: ``arccos(s)`` (radians, in [0, pi]); ``"sqrt"``:
            ``sqrt(2 - 2 s)`` (the Euclidean distance of unit vectors with cosine ``s``);
            ``"linear"``: ``1 - s``.

    Returns:
        ``[..., m, m]`` symmetric non-negative dissimilarities with a zero diagonal, in the
        input's float dtype (the default float dtype for integer input).

    Raises:
        ValueError: for an unknown method, a non-square input, or (for concrete input)
            non-finite, asymmetric or out-of-range entries.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxrsa import to_dissimilarity
        >>> s = jnp.array([[1.0, 0.0], [0.0, 1.0]])
        >>> to_dissimilarity(s, "linear").tolist()
        [[0.0, 1.0], [1.0, 0.0]]
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    s = jnp.asarray(similarity)
    _validate.check_square(s.shape, "similarity", max_batch_dims=None)
    s = s.astype(_inputs.float_dtype("similarity", s))
    if _inputs.concrete(s):
        _validate.check_symmetric_matrices(
            np.asarray(s), "similarity", nonnegative=False, zero_diagonal=False, bound=1.0
        )
    return _convert(s, method)
