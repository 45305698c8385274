"""The public face of the engine: the similarity of two models, and of every pair."""

import jax
from jax.typing import ArrayLike
from jaxtyping import Array, Float

from jaxrsa import _inputs
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

    Inside your own `jit`, call the measure object directly: `jaxrsa.measures.get("rsa")(x, y)`.

    Examples:
        >>> import numpy as np
        >>> from jaxrsa import similarity
        >>> x = np.random.default_rng(0).normal(size=(50, 8))
        >>> round(float(similarity(x, x @ np.linalg.qr(np.ones((8, 8)) + np.eye(8))[0])), 6)
        1.0
    """
    x_, y_ = _inputs.Reps(("x",), [x]), _inputs.Reps(("y",), [y])
    return _engine.all_pairs(measure, x_, y_, None, None, False, jax.devices()[:1])[0, 0]


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
            budget are recomputed when needed.
        progress: show a progress bar over blocks.
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
