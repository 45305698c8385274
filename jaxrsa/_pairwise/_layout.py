"""How prepared models are laid out for the block products, chosen once per measure.

Gram-type measures (inner products of prepared vectors) keep their vectors in the storage dtype
of `precision` and, with several devices, split along the feature axis: each device multiplies
its slice of every block pair and one small `psum` adds the slices. Other measures keep blocks
split by models: each device pairs its rows with all of the other block.
"""

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
from jaxtyping import Array, Float

from jaxrsa import _inputs, measures
from jaxrsa._pairwise._devices import AXIS

# `precision=` of similarity_matrix: how Gram-type inner products are computed.
PRECISIONS = {
    "float32": (None, lax.Precision.HIGHEST),  # exact float32 products on every backend
    "tf32": (None, lax.Precision.DEFAULT),  # TF32 / bf16 passes where the hardware has them
    "bfloat16": (jnp.bfloat16, lax.Precision.DEFAULT),  # bf16 features, float32 accumulation
}


class Layout(NamedTuple):
    """Static description of where and how prepared blocks live (hashable: a jit argument)."""

    gram: bool  # prepared vectors are multiplied (GramMeasure) rather than paired
    mesh: Mesh | None
    precision: str = "float32"

    @property
    def storage(self):
        """The dtype Gram vectors are stored in for the products (None: as prepared)."""
        return PRECISIONS[self.precision][0] if self.gram else None

    @property
    def concatenate(self) -> bool:
        """Whether a block is assembled by concatenating chunks (split by models over devices)
        rather than filled in place."""
        return self.mesh is not None and not self.gram

    def stored_bytes(self, prepared_bytes: int) -> int:
        """Bytes of a prepared model in this layout."""
        return prepared_bytes // (2 if self.storage == jnp.bfloat16 else 1)


def layout(measure: measures.Measure, mesh: Mesh | None, precision: str) -> Layout:
    _inputs.check_choice("precision", precision, tuple(PRECISIONS))
    gram = isinstance(measure, measures.GramMeasure)
    if precision != "float32" and not gram:
        raise ValueError(
            f"precision={precision!r} applies to Gram-type measures (inner products of prepared "
            f"vectors); {measure} is not one"
        )
    return Layout(gram, mesh, precision)


def _prepare_rows(measure: measures.Measure, xs: Float[Array, "k n d"], start, count):
    """Prepared models `[k, ...]` (with `count`, their panel of example rows `[start, start +
    count)`: `GramMeasure.prepare_rows`) and whether each preparation is finite."""
    if count is None:
        prepared = measure.prepare_many(xs)
    else:
        prepared = lax.map(lambda x: measure.prepare_rows(x, start, count), xs)
    ok = jax.tree.reduce(
        jnp.logical_and,
        jax.tree.map(lambda a: jnp.isfinite(a).reshape(a.shape[0], -1).all(axis=1), prepared),
    )
    return prepared, ok


@functools.partial(jax.jit, static_argnames=("measure", "layout", "count"))
def prepare_chunk(
    measure: measures.Measure, xs: Float[Array, "k n d"], layout: Layout, start=0, count=None
):
    """`measure.prepare_many` of a chunk (with `count`: the panel of its prepared vectors for
    example rows `[start, start + count)`), each device preparing its models when there is a
    mesh, in the layout of the products; with whether each prepared model is finite.

    A panel is a slice of prepared Gram vectors along the axis the mesh splits, so panels and
    devices compose: each device holds its slice of the panel, and products add up over both.
    """
    fn = functools.partial(_prepare_rows, measure, count=count)
    if layout.mesh is not None:  # host callbacks (ranking) run per device on its own rows
        spec = P(AXIS)
        fn = jax.shard_map(
            fn, mesh=layout.mesh, in_specs=(spec, P()), out_specs=spec, check_vma=False
        )
    prepared, ok = fn(xs, jnp.asarray(start, jnp.int32))
    if layout.gram:
        prepared = _gram_layout(prepared, layout)
    return prepared, ok


def _gram_layout(features: Float[Array, "b p"], layout: Layout):
    """Gram features in the storage dtype and, with several devices, split along the feature
    axis, zero-padded to a multiple of the device count (zeros add nothing to products)."""
    features = features if layout.storage is None else features.astype(layout.storage)
    if layout.mesh is None:
        return features
    features = jnp.pad(features, ((0, 0), (0, -features.shape[1] % layout.mesh.size)))
    return lax.with_sharding_constraint(features, NamedSharding(layout.mesh, P(None, AXIS)))


def _inner(measure: measures.GramMeasure, pxs, pys, layout: Layout) -> Float[Array, "a b"]:
    """`measure.inner` of two prepared Gram blocks (or panels of them), split along features
    over the mesh's devices if there is one: partial products, then one small sum."""
    matmul = functools.partial(measure.inner, precision=PRECISIONS[layout.precision][1])
    if layout.mesh is None:
        return matmul(pxs, pys)
    spec = P(None, AXIS)
    return jax.shard_map(
        lambda a, b: lax.psum(matmul(a, b), AXIS),
        mesh=layout.mesh,
        in_specs=(spec,) * 2,
        out_specs=P(),
    )(pxs, pys)


inner = jax.jit(_inner, static_argnames=("measure", "layout"))


@functools.partial(jax.jit, static_argnames=("measure", "layout", "upper"))
def block(measure: measures.Measure, pxs, pys, layout: Layout, upper=False) -> Float[Array, "a b"]:
    """`measure.block` of two prepared blocks, split over the mesh's devices if there is one.

    `upper`: `pys` is `pxs` and the measure symmetric, so only the entries on and above the
    diagonal are needed (`Measure.upper_block`; with a mesh the whole block is computed).
    """
    mesh = layout.mesh
    if layout.gram:
        return measure.finish(_inner(measure, pxs, pys, layout))
    if mesh is None:
        return measure.upper_block(pxs) if upper else measure.block(pxs, pys)
    return jax.shard_map(
        measure.block, mesh=mesh, in_specs=(P(AXIS), P()), out_specs=P(AXIS), check_vma=False
    )(pxs, pys)


@functools.partial(jax.jit, donate_argnums=0)
def write_rows(block, rows, start):
    """`block` with `rows` written from row `start`, in place (the block's buffer is reused)."""
    return jax.tree.map(lambda b, r: lax.dynamic_update_slice_in_dim(b, r, start, 0), block, rows)


def nbytes(tree) -> int:
    return sum(int(np.prod(a.shape)) * np.dtype(a.dtype).itemsize for a in jax.tree.leaves(tree))
