"""Average ranks (ties share the mean of their positions), as `scipy.stats.rankdata`.

Ranking is the one step of Spearman RSA that is not a matrix product: each model's p = n (n - 1) / 2
dissimilarities must be sorted. On accelerators XLA's sort is fast and `rankdata_xla` is used. On
CPU, XLA sorts floats with a generic comparator (about 120 ms per 500,000 values here, 170 ms for an
argsort) while a least-significant-digit radix argsort in NumPy over 16-bit digits of the
order-preserving integer keys takes about 15 ms, and releases the GIL so models are ranked on all
cores at once; `rankdata` therefore ranks through a host callback on CPU. Both give identical ranks.
"""

import functools
import os
from concurrent.futures import ThreadPoolExecutor

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, Float

from jaxrsa._numerics import not_differentiable


def rankdata_xla(v: Float[Array, " p"]) -> Float[Array, " p"]:
    """Average ranks 1..p of `v` with XLA's sort (used on GPU and TPU)."""
    p = v.shape[0]
    order = jnp.argsort(v)
    s = v[order]
    idx = jnp.arange(p)
    new_group = jnp.concatenate([jnp.ones(1, bool), s[1:] != s[:-1]])
    last_of_group = jnp.concatenate([s[1:] != s[:-1], jnp.ones(1, bool)])
    first = lax.cummax(jnp.where(new_group, idx, 0))
    last = lax.cummin(jnp.where(last_of_group, idx, p - 1), reverse=True)
    avg = (0.5 * (first + last) + 1.0).astype(v.dtype)
    return jnp.zeros_like(v).at[order].set(avg)


def _order_keys(v: np.ndarray) -> np.ndarray:
    """Unsigned integers whose order is the float order of `v` (-0.0 just before +0.0)."""
    bits = v.view(np.uint64 if v.dtype == np.float64 else np.uint32)
    top = np.array(8 * bits.itemsize - 1, bits.dtype)
    sign = np.array(1, bits.dtype) << top
    # negative: flip every bit; positive: flip the sign bit
    return bits ^ (((bits >> top) * (sign - np.array(1, bits.dtype))) | sign)


def _radix_argsort(v: np.ndarray) -> np.ndarray:
    """Stable argsort by LSD radix over 16-bit digits (NumPy radix-sorts 16-bit keys)."""
    keys = _order_keys(v)
    order = np.argsort(keys.astype(np.uint16), kind="stable")
    for shift in range(16, 8 * keys.itemsize, 16):
        digit = (keys >> np.array(shift, keys.dtype)).astype(np.uint16)
        order = order[np.argsort(digit[order], kind="stable")]
    return order


def _rank_row(v: np.ndarray) -> np.ndarray:
    p = v.shape[0]
    order = _radix_argsort(v)
    s = v[order]
    ranks = np.arange(1, p + 1, dtype=v.dtype)  # rank of each sorted position, before ties
    tied = np.flatnonzero(s[1:] == s[:-1])  # positions i with s[i] == s[i + 1]: usually few
    if len(tied):
        new = np.concatenate([[True], np.diff(tied) > 1])
        first, last = tied[new], tied[np.append(new[1:], True)] + 1  # a group spans first..last
        members = np.zeros(p, bool)
        members[tied] = members[tied + 1] = True
        where = np.flatnonzero(members)
        group = np.searchsorted(first, where, side="right") - 1
        ranks[where] = (0.5 * (first + last) + 1.0)[group]
    out = np.empty_like(ranks)
    out[order] = ranks
    return out


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=len(os.sched_getaffinity(0)))


def _rank_rows_host(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v)
    rows = v.reshape(-1, v.shape[-1])
    out = np.empty_like(rows)

    def work(i):
        out[i] = _rank_row(rows[i])

    list(_pool().map(work, range(rows.shape[0])))
    return out.reshape(v.shape)


def rankdata_host(v: Float[Array, " p"]) -> Float[Array, " p"]:
    """Average ranks 1..p of `v` with a NumPy radix sort on the host (used on CPU)."""
    return jax.pure_callback(
        _rank_rows_host, jax.ShapeDtypeStruct(v.shape, v.dtype), v, vmap_method="expand_dims"
    )


def rankdata(v: Float[Array, " p"]) -> Float[Array, " p"]:
    """Average ranks 1..p of `v` (ties averaged), the fastest way the backend allows.

    Ranks are piecewise constant in `v`: differentiating through them raises a TypeError that
    names the differentiable measures (rather than JAX's "Pure callbacks do not support JVP",
    or a silent zero gradient from the sort).
    """
    v = not_differentiable(v, "ranking (the average ranks of rsa_spearman)")
    return lax.platform_dependent(v, cpu=rankdata_host, default=rankdata_xla)
