"""The public face of the engine: the similarity of two models, and of every pair."""

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike
from jaxtyping import Array, Float

from jaxrsa import _inputs, measures
from jaxrsa._pairwise import _engine


def similarity(x: ArrayLike, y: ArrayLike, measure="rsa") -> Float[Array, ""]:
    """Similarity of two models' representations of the same n examples.

    Args:
        x: activations `[n, d_x]` of one model (rows are examples).
        y: activations `[n, d_y]` of another; d_y may differ from d_x.
        measure: a name from `jaxrsa.measures.names()` or a `jaxrsa.measures.Measure`.

    Returns:
        A scalar; 1 for identical representations (up to the measure's invariances).

    Raises:
        ValueError: wrong shapes, different n, too few examples, non-finite values, or a
            representation for which the measure is undefined (the message says which and why).

    Traceable: inside a caller's `jit`, `vmap` or `grad` (any traced argument) the shape checks
    still raise, but checks of values cannot run, so a representation for which the measure is
    undefined (zero-norm examples, zero variance, n <= d + 1 for CCA, ...) gives NaN instead of
    the error; call it once on concrete arrays to learn why. Values are centred and rescaled as
    on concrete input (by the measure's invariances), with the rescaling held constant under
    differentiation.

    Examples:
        >>> import numpy as np
        >>> from jaxrsa import similarity
        >>> x = np.random.default_rng(0).normal(size=(50, 8))
        >>> round(float(similarity(x, x @ np.linalg.qr(np.ones((8, 8)) + np.eye(8))[0])), 6)
        1.0
    """
    if not (_inputs.concrete(x) and _inputs.concrete(y)):
        return _traced_similarity(measures.get(measure), x, y)
    x_, y_ = _inputs.Reps(("x",), [x]), _inputs.Reps(("y",), [y])
    return _engine.all_pairs(measure, x_, y_, None, None, False, jax.devices()[:1])[0, 0]


def _traced_similarity(measure: measures.Measure, x, y) -> Float[Array, ""]:
    """`similarity` under a trace: shape checks, then the measure on the compute dtype."""
    x, y = _inputs.as_float(x, "x"), _inputs.as_float(y, "y")
    needs = f"{measure} needs"
    _inputs.check_shape("x", x.shape, min_n=measure.min_n, needs=needs)
    _inputs.check_shape("y", y.shape, min_n=measure.min_n, n=x.shape[0], like="x", needs=needs)
    dtype = jnp.promote_types(x.dtype, y.dtype)

    def values(a):  # as `_values.to_compute`, with traceable arithmetic
        a = a.astype(dtype)
        if measure.translation_invariant:
            a = a - jnp.mean(a, axis=0)
        if measure.scale_invariant:
            peak = jax.lax.stop_gradient(jnp.max(jnp.abs(a)))
            ok = jnp.isfinite(peak) & (peak > 0)
            a = a * jnp.ldexp(jnp.ones((), dtype), -jnp.where(ok, jnp.frexp(peak)[1] - 1, 0))
        return a

    return measure(values(x), values(y))


def similarity_matrix(
    reps,
    others=None,
    measure="rsa",
    *,
    block_size: int | None = None,
    memory_budget: int | None = None,
    progress: bool = False,
    devices=None,
    precision: str = "float32",
) -> Float[Array, "m mb"]:
    """Similarity of every pair of models.

    Args:
        reps: m models' activations of the same n examples: an `[m, n, d]` array, or a list or
            dict of `[n, d_i]` arrays (widths may differ). NumPy memory-mapped arrays are read
            block by block.
        others: optional second set of models (same forms, same n): the result is then
            `[m, m_b]`, reps against others.
        measure: a name from `jaxrsa.measures.names()` or a `jaxrsa.measures.Measure`.
        block_size: models per block (default: as many as the memory budget allows).
        memory_budget: bytes of working memory for prepared models and their computation
            (default 2 GiB; the result matrix itself is not counted). Prepared blocks beyond the
            budget are recomputed when needed. When not even whole prepared models fit, measures
            whose prepared vector is laid out by example rows (row-wise RSA with the "cosine",
            "correlation" or "dot" kernel: `GramMeasure.row_width`) are computed over panels of
            example rows whose products add up, so any n fits; others raise an error.
        progress: show a progress bar over the pairs of models computed.
        devices: the devices to split the work over (default: all of `jax.devices()`, which
            spans every process after `jax.distributed.initialize()`).
        precision: of Gram-type products (RSA, CKA): "float32" (default, exact float32 on every
            backend), "tf32" (the backend's fast float32 matmul passes: TF32 on NVIDIA GPUs,
            bf16 passes on TPU; plain float32 on CPU) or "bfloat16" (prepared vectors stored in
            bfloat16, half the memory, products accumulated in float32). See the README for the
            measured error of each against float64.

    Returns:
        `[m, m]` (symmetric, the self-similarity on the diagonal) or `[m, m_b]`, in the dtype of
        the activations (float32 unless they are float64). Equals the double loop of
        `similarity` to float tolerance.

    Examples:
        >>> import numpy as np
        >>> from jaxrsa import similarity_matrix
        >>> rng = np.random.default_rng(0)
        >>> reps = {"a": rng.normal(size=(30, 5)), "b": rng.normal(size=(30, 9))}
        >>> similarity_matrix(reps, measure="cka").shape
        (2, 2)
    """
    a = _inputs.as_reps(reps, "reps")
    b = None if others is None else _inputs.as_reps(others, "others")
    return _engine.all_pairs(measure, a, b, block_size, memory_budget, progress, devices, precision)
