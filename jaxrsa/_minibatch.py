"""Linear CKA of every pair of models, accumulated over a stream of minibatches.

Nguyen, Raghu and Kornblith 2021 compute layer x layer CKA over a whole test set without holding
its activations: per minibatch, the (U-)centred Gram of every model, all pairs' HSIC added in one
product; at the end CKA(i, j) = sum HSIC(i, j) / sqrt(sum HSIC(i, i) sum HSIC(j, j)). This is
google-research's `efficient_CKA.MinibatchCKA` (`update_state` then `result`).
"""

import functools
from collections.abc import Iterable, Mapping

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from jaxrsa import _inputs, measures
from jaxrsa._numerics import HIGHEST, compute_dtype
from jaxrsa._pairwise import _values


@functools.partial(jax.jit, static_argnames="measure")
def _hsic(measure: measures.CKA, xs: tuple) -> Float[Array, "m m"]:
    """HSIC (up to one factor shared by every batch of the stream's size) of all pairs of one
    batch's models `xs` (each `[b, d_i]`, already centred): one product of their Gram vectors."""
    grams = jnp.stack([measure.centred_gram(x - jnp.mean(x, axis=0)) for x in xs])
    return jnp.matmul(grams, grams.T, precision=HIGHEST)


def _models(batch, t: int) -> tuple[tuple, tuple[str, ...], list]:
    """A batch's model keys (for comparing batches), labels and arrays."""
    role = f"batch {t}"
    reps = _inputs.as_reps(batch, role)
    keys = tuple(batch) if isinstance(batch, Mapping) else len(reps.labels)
    return keys, reps.labels, [reps.arrays[i] for i in range(len(reps.labels))]


def minibatch_cka(batches: Iterable, *, debiased: bool = True) -> Float[Array, "m m"]:
    """Linear CKA of every pair of m models, accumulated over minibatches of examples.

    Each batch holds the same m models' activations of b new examples; only one batch is in
    memory at a time, so activations of any number of examples can stream through (e.g. computed
    batch by batch from the networks). Per batch, every model's Gram matrix is U-centred
    (`debiased=True`, the unbiased HSIC estimator of Song et al. 2012) or centred (H K H), and the
    HSIC of all pairs is added in one product; the result is
    sum_t HSIC_t(i, j) / sqrt(sum_t HSIC_t(i, i) sum_t HSIC_t(j, j)).

    Every batch must have the same size b: the per-batch HSIC carries a factor that depends on b,
    so a short last batch would be weighted wrongly, and it is an error (drop it, as
    google-research's pipelines do with `drop_remainder=True`, or choose a batch size that
    divides the number of examples). With one batch holding all n examples the result equals
    `similarity_matrix(..., measure="cka_debiased")` (or `"cka"`); with several it estimates
    the same quantity without the n x n Grams.

    Args:
        batches: an iterable (e.g. a generator) of batches, each an `[m, b, d]` array, a list of
            m `[b, d_i]` arrays, or a dict of them (the same keys in every batch).
        debiased: U-centred Grams (b >= 4) rather than centred ones (b >= 2).

    Returns:
        `[m, m]`, symmetric with ones on the diagonal, in the activations' compute dtype.

    Raises:
        ValueError: an empty stream, batches of different sizes or different models, a batch
            smaller than the estimator needs, non-finite values (naming the batch and the
            model), or a model whose activations are constant in every batch.

    References:
        T. Nguyen, M. Raghu and S. Kornblith, "Do Wide and Deep Networks Learn the Same Things?
        Uncovering How Neural Network Representations Vary with Width and Depth", ICLR 2021.

    Examples:
        >>> import numpy as np
        >>> from jaxrsa import minibatch_cka
        >>> rng = np.random.default_rng(0)
        >>> stream = ([x, 2 * x + 1] for x in rng.normal(size=(5, 32, 8)))
        >>> np.round(np.asarray(minibatch_cka(stream), dtype=np.float64), 6)
        array([[1., 1.],
               [1., 1.]])
    """
    debiased = _inputs.boolean("debiased", debiased)
    measure = measures.CKA(debiased=debiased)
    total, first, exponent, dtype = None, None, None, None
    for t, batch in enumerate(batches):
        keys, labels, arrays = _models(batch, t)
        arrays = [a if isinstance(a, jax.Array) else np.asarray(a) for a in arrays]
        shapes = [tuple(a.shape) for a in arrays]
        for label, shape in zip(labels, shapes, strict=True):
            _inputs.check_shape(label, shape, min_n=measure.min_n, needs=f"{measure} needs")
        if first is None:
            first = (keys, shapes)
            dtypes = [_inputs.real_dtype(lb, a.dtype) for lb, a in zip(labels, arrays, strict=True)]
            dtype = max(map(compute_dtype, dtypes), key=lambda d: d.itemsize)
        elif keys != first[0]:
            raise ValueError(
                f"batch {t}: has models {keys} but batch 0 has {first[0]}; every batch must hold "
                "the same models"
            )
        elif shapes != first[1]:
            i = next(i for i, (a, b) in enumerate(zip(shapes, first[1], strict=True)) if a != b)
            raise ValueError(
                f"{labels[i]}: has shape {shapes[i]} but in batch 0 it has {first[1][i]}; every "
                "batch must have the same size and widths (drop a short last batch)"
            )
        xs = []
        for i, (label, x) in enumerate(zip(labels, arrays, strict=True)):
            _inputs.check_finite(x, label)
            if exponent is None or len(exponent) <= i:  # one power of two per model, batch 0's
                exponent = [*(exponent or []), int(np.asarray(_values.exponents(x[None]))[0])]
            xs.append(_values.to_compute(x[None], dtype, measure, [label], [exponent[i]])[0])
        hsic = _hsic(measure, tuple(xs))
        total = hsic if total is None else total + hsic
    if total is None:
        raise ValueError("batches: the stream is empty")
    own = np.asarray(jnp.diagonal(total))
    if not np.isfinite(np.asarray(total)).all():
        raise ValueError(
            "minibatch_cka overflowed the accumulated HSIC; later batches are far larger than "
            "the first (each model is rescaled by batch 0's magnitude)"
        )
    if (own <= 0).any():
        i = int(np.argmax(own <= 0))
        raise ValueError(
            f"model {first[0][i] if isinstance(first[0], tuple) else i}: every example has the "
            "same representation in every batch (zero variance), so its CKA is undefined"
        )
    scale = jnp.sqrt(jnp.asarray(own))
    return jnp.clip(total / scale[:, None] / scale[None, :], -1.0, 1.0)
