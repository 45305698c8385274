"""Representation-distillation losses: make a student's representations of a batch resemble a
teacher's.

Each loss is 1 - similarity (or the distance itself, for a distance-valued measure) of the
student's activations `[b, ...]` and the teacher's `[b, ...]` on the same batch of b examples;
feature maps are flattened per example and the widths may differ. The teacher goes through
`jax.lax.stop_gradient`, so only the student learns. Every loss works inside `jit`, `vmap` and
`grad` (see `jaxrsa.similarity`: under a trace an undefined batch gives NaN instead of an error).

Batch sizes: the measures compare the b x b structure of one batch, so a batch is a sample of
examples and small batches are noisy estimates. `rsa` needs b >= 3 and `cka` b >= 2, but
biased CKA is biased upwards at small b (two random representations of 32 examples and 64
features already score about 0.5): use b >= 128 for `cka`, or `cka_debiased` (unbiased HSIC,
b >= 4) for smaller batches. `procrustes` needs b >= 2 and works best with b well above the
widths.

References:
    S. Abnar, M. Dehghani and W. Zuidema, "Transferring Inductive Biases through Knowledge
    Distillation" (2020); S. Kornblith et al., "Similarity of Neural Network Representations
    Revisited", ICML 2019.

Examples:
    >>> import jax, jax.numpy as jnp
    >>> from jaxrsa import losses
    >>> teacher = jax.random.normal(jax.random.key(0), (16, 8))
    >>> w = jax.random.normal(jax.random.key(1), (8, 4))
    >>> loss = lambda w: losses.cka(teacher @ w, teacher)
    >>> bool(loss(w) >= 0), jax.grad(loss)(w).shape
    (True, (8, 4))
"""

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike
from jaxtyping import Array, Float

from jaxrsa import measures
from jaxrsa._pairwise import similarity

__all__ = ["cka", "cka_debiased", "procrustes", "representation_loss", "rsa"]


def representation_loss(
    student: ArrayLike, teacher: ArrayLike, measure: str | measures.Measure = "rsa"
) -> Float[Array, ""]:
    """Distillation loss of any measure: 1 - similarity, or the distance for a distance measure.

    Args:
        student: the student's activations `[b, ...]` (flattened to `[b, d_s]`).
        teacher: the teacher's activations `[b, ...]` on the same examples (`stop_gradient`).
        measure: a name from `jaxrsa.measures.names()` or a measure object. Rank and
            neighbour measures raise under differentiation.

    Returns:
        A scalar, 0 when the student's representations equal the teacher's (up to the
        measure's invariances).
    """
    measure = measures.get(measure)
    student = jnp.asarray(student)
    teacher = jax.lax.stop_gradient(jnp.asarray(teacher))
    student = student.reshape(student.shape[0], -1)
    teacher = teacher.reshape(teacher.shape[0], -1)
    value = similarity(student, teacher, measure)
    return 1.0 - value if measure.larger_is_more_similar else value


def rsa(student: ArrayLike, teacher: ArrayLike) -> Float[Array, ""]:
    """1 - `rsa` (the default measure: off-diagonal rows of the cosine similarity matrices,
    z-scored and compared row by row), batch size b >= 3; see `representation_loss`.

    Abnar et al.'s own loss compared uncentred rows with the diagonal included
    (`representation_loss(s, t, "rsa_rowwise_cosine")`), which saturates on ReLU activations.
    """
    return representation_loss(student, teacher, "rsa")


def cka(student: ArrayLike, teacher: ArrayLike) -> Float[Array, ""]:
    """1 - linear CKA, b >= 2 (biased upwards for small b: prefer b >= 128 or `cka_debiased`)."""
    return representation_loss(student, teacher, "cka")


def cka_debiased(student: ArrayLike, teacher: ArrayLike) -> Float[Array, ""]:
    """1 - debiased linear CKA (unbiased HSIC), b >= 4: the CKA loss for small batches."""
    return representation_loss(student, teacher, "cka_debiased")


def procrustes(student: ArrayLike, teacher: ArrayLike) -> Float[Array, ""]:
    """1 - orthogonal Procrustes score, b >= 2: the student must match the teacher's geometry up
    to rotation, translation and scale (stricter than CKA)."""
    return representation_loss(student, teacher, "procrustes")
