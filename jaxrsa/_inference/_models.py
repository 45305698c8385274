"""The models of an inference call, validated once and held as compute-dtype groups of one shape.

Permutation and bootstrap replicates reuse these groups for every replicate, so activations are
read, checked and converted once (through the engine's one conversion point).
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from jaxrsa import _inputs, measures
from jaxrsa._pairwise import _engine, _values


class Group(NamedTuple):
    """Models of one input shape: their positions on their side and their activations."""

    indices: np.ndarray  # [k] positions among the side's models
    xs: Float[Array, "k n d"]


class Models(NamedTuple):
    """Both sides of an inference call (`b` is None for reps against themselves)."""

    a: tuple[Group, ...]
    b: tuple[Group, ...] | None
    sizes: tuple[int, int]  # models on each side
    n: int
    labels: tuple[tuple[str, ...], tuple[str, ...]]


def _groups(side: _engine.Side, measure: measures.Measure, dtype) -> tuple[Group, ...]:
    by_shape: dict[tuple[int, int], list[int]] = {}
    for i, shape in enumerate(side.shapes):
        by_shape.setdefault(shape, []).append(i)
    groups = []
    for idx in by_shape.values():
        xs = np.stack([np.asarray(side.reps.arrays[i]) for i in idx])
        labels = [side.reps.labels[i] for i in idx]
        for label, x in zip(labels, xs, strict=True):
            _inputs.check_finite(x, label)
        groups.append(
            Group(np.asarray(idx), jnp.asarray(_values.to_compute(xs, dtype, measure, labels)))
        )
    return tuple(groups)


def load(measure: measures.Measure, reps, others) -> Models:
    """Validate shapes and values of `reps` (and `others`) for `measure`; convert them once."""
    a = _inputs.as_reps(reps, "reps")
    b = None if others is None else _inputs.as_reps(others, "others")
    side_a = _engine.side(a, measure)
    sides = (side_a,) if b is None else (side_a, _engine.side(b, measure, side_a))
    dtype = _engine._dtype(sides)
    groups = tuple(_groups(s, measure, dtype) for s in sides)
    return Models(
        a=groups[0],
        b=None if b is None else groups[1],
        sizes=(len(side_a.shapes), len(sides[-1].shapes)),
        n=side_a.shapes[0][0],
        labels=(a.labels, (b or a).labels),
    )


def key_array(key, count: int) -> jax.Array:
    """`count` independent keys from the user's `key` (required, explicit)."""
    if key is None:
        raise TypeError("key is required: pass key=jax.random.key(seed)")
    return jax.random.split(_inputs.prng_key("key", key), count)
