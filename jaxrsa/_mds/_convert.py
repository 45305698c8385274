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

_METHODS = {
    "angular": jnp.arccos,
    "sqrt": lambda s: jnp.sqrt(jnp.maximum(2 - 2 * s, 0)),
    "linear": lambda s: 1 - s,
}


@functools.partial(jax.jit, static_argnames="method")
def _convert(matrix: Array, method: str | None) -> Array:
    """Symmetrized, zero diagonal; a similarity (`method` given) clipped to [-1, 1], converted."""
    s = (matrix + jnp.swapaxes(matrix, -1, -2)) / 2
    d = jnp.maximum(s, 0) if method is None else _METHODS[method](jnp.clip(s, -1, 1))
    eye = jnp.eye(s.shape[-1], dtype=bool)
    return jnp.where(eye, jnp.zeros((), d.dtype), d)


def to_dissimilarity(
    similarity: ArrayLike,
    method: Literal["angular", "sqrt", "linear"] = "angular",
    *,
    measure=None,
) -> Float[Array, "*batch m m"]:
    """Turn a similarity matrix with entries in [-1, 1] into a dissimilarity matrix.

    The input is symmetrized (``(S + S^T) / 2``) and clipped to [-1, 1] first, so that
    round-off such as ``s = 1 + 1e-7`` cannot produce NaN; the diagonal of the output is
    exactly 0. Use ``"angular"`` or ``"sqrt"`` for cosine-like similarities (both are metrics
    on unit vectors), ``"linear"`` for the plain ``1 - s``. Give ``measure`` to convert what
    that measure computed: a distance (``larger_is_more_similar`` False, e.g. ``"gulp"`` or
    ``"shape_metric"``) is already a dissimilarity and is returned symmetrized, whatever
    ``method``.

    Args:
        similarity: ``[m, m]`` or ``[..., m, m]`` similarities, symmetric to a relative
            tolerance of 1e-5 and within [-1, 1] up to the same tolerance (a distance
            measure's matrix: symmetric, non-negative, zero diagonal, to the same tolerance).
        method: ``"angular"``: ``arccos(s)`` (radians, in [0, pi]); ``"sqrt"``:
            ``sqrt(2 - 2 s)`` (the Euclidean distance of unit vectors with cosine ``s``);
            ``"linear"``: ``1 - s``.
        measure: the measure (a name or object) that computed the matrix; None: a similarity.

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
    from jaxrsa import measures  # the measures import the MDS package's siblings

    if method not in _METHODS:
        raise ValueError(f"method must be one of {tuple(_METHODS)}, got {method!r}")
    distance = measure is not None and not measures.get(measure).larger_is_more_similar
    name = "dissimilarity" if distance else "similarity"
    s = jnp.asarray(similarity)
    _validate.check_square(s.shape, name, max_batch_dims=None)
    s = s.astype(_inputs.float_dtype(name, s))
    if _inputs.concrete(s):
        try:
            _validate.check_symmetric_matrices(
                np.asarray(s),
                name,
                nonnegative=distance,
                zero_diagonal=distance,
                bound=None if distance else 1.0,
            )
        except ValueError as e:
            if measure is not None or "outside" not in str(e):
                raise
            raise ValueError(f"{e}; for a distance measure's matrix pass measure=") from None
    return _convert(s, None if distance else method)
