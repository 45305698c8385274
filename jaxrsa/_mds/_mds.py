"""The public SMACOF entry point: validation, starts, restarts, batching."""

import functools
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.typing import ArrayLike
from jaxtyping import Array

from jaxrsa import _inputs
from jaxrsa._mds import _classical, _smacof, _validate
from jaxrsa._mds._result import MDSResult, MDSStatus

VMAP_RESTART_BYTES = 4 * 2**20
"""Restarts run side by side with ``vmap`` while their ``[runs, m, m]`` temporaries take at
most this many bytes (m up to 512 in float32, 362 in float64 for 4 runs), one after
another with ``lax.map`` beyond. A vmapped ``while_loop`` steps every run until the slowest
stops and streams ``runs`` times more memory per step; small problems gain from the batched
kernels, large ones lose (measured by ``benchmarks/bench_mds.py --restarts``)."""


def vectorize_restarts(runs: int, m: int, dtype) -> bool:
    """Whether restarts of an ``[m, m]`` problem run as one ``vmap`` (else ``lax.map``)."""
    return runs * m * m * jnp.dtype(dtype).itemsize <= VMAP_RESTART_BYTES


def _starts(
    delta: Array,
    w: Array | None,
    init_x: Array | None,
    key: Array | None,
    init: str,
    n_init: int,
    k: int,
) -> Array:
    """``[n_runs, m, k]`` initial configurations for one matrix."""
    if init == "array":
        return init_x
    m = delta.shape[0]
    if init == "classical" and n_init == 1:
        randoms = jnp.zeros((1, m, k), delta.dtype)
    else:
        keys = jax.random.split(key, n_init)
        randoms = jax.vmap(lambda kk: jax.random.normal(kk, (m, k), delta.dtype))(keys)
    if init == "random":
        return randoms
    if w is not None:  # impute missing entries by the mean observed dissimilarity
        observed = w > 0
        mean = jnp.sum(jnp.where(observed, delta, 0)) / jnp.sum(observed)
        delta = jnp.where(observed | jnp.eye(m, dtype=bool), delta, mean)
    return randoms.at[0].set(_classical.classical_start(delta, k))


def _check_init(init_x: Array, delta: Array, k: int) -> Array:
    """An explicit init as ``[runs, m, k]`` (``[b, runs, m, k]`` for a batch of b matrices)."""
    m, batch = delta.shape[-1], delta.shape[:-2]
    if batch:
        ok = init_x.ndim == 2 or (init_x.ndim in (3, 4) and init_x.shape[0] == batch[0])
        want = "[m, k] (shared), [b, m, k] or [b, runs, m, k]"
    else:
        ok = init_x.ndim in (2, 3)
        want = "[m, k] or [runs, m, k]"
    if not ok or init_x.shape[-2:] != (m, k):
        raise ValueError(
            f"init must be an array {want} with m = {m} points and k = n_components = {k} "
            f"columns; got shape {tuple(init_x.shape)}"
        )
    if _inputs.concrete(init_x):
        _check_init_values(np.asarray(init_x), k)
    if init_x.ndim == 2 or (batch and init_x.ndim == 3):
        init_x = init_x[..., None, :, :]
    return jnp.broadcast_to(init_x.astype(delta.dtype), (*batch, *init_x.shape[-3:]))


def _check_init_values(init_x: np.ndarray, k: int) -> None:
    """Refuse non-finite starts and degenerate ones: a start whose centred points span fewer
    than k dimensions (all points equal, or collinear in 2-D) keeps every Guttman transform in
    that subspace, so SMACOF would return it as converged."""
    if not np.all(np.isfinite(init_x)):
        raise ValueError("init has non-finite entries")
    flat = init_x.reshape(-1, *init_x.shape[-2:]).astype(np.float64)
    for i, x in enumerate(flat):
        x = x - x.mean(axis=0)
        top = np.max(np.abs(x), initial=0.0)
        s = np.linalg.svd(x / top, compute_uv=False) if top > 0 else np.zeros(k)
        rank = int(np.sum(s > x.shape[0] * np.finfo(init_x.dtype).eps * s[0]))
        if rank < k:
            where = f"init[{', '.join(map(str, np.unravel_index(i, init_x.shape[:-2])))}]"
            raise ValueError(
                f"{where if init_x.ndim > 2 else 'init'}: the start is degenerate: its centred "
                f"points span {rank} < n_components = {k} dimensions (all points "
                "equal or collinear), and SMACOF cannot leave that subspace; start from points "
                "in general position"
            )


def _fit_one(delta, w, init_x, key, eps, max_iter, *, metric, init, n_init, k):
    if key is None and init == "classical":
        key = jax.random.key(0)
    scale = _validate.magnitude(delta)  # solve at unit scale: nothing over- or underflows
    delta = delta / scale
    init_x = None if init_x is None else init_x / scale
    back = scale if metric else jnp.ones_like(scale)  # non-metric maps are scale-free
    problem = _smacof.setup(delta, w, metric)
    x0s = _starts(delta, w, init_x, key, init, n_init, k)
    solve = functools.partial(_smacof.run, problem, eps=eps, max_iter=max_iter)
    if vectorize_restarts(x0s.shape[0], delta.shape[0], delta.dtype):
        runs = jax.vmap(solve)(x0s)
    else:
        runs = lax.map(solve, x0s)
    best = jnp.argmin(jnp.where(jnp.isfinite(runs.stress), runs.stress, jnp.inf))
    win = jax.tree.map(lambda a: a[best], runs)
    positive = win.eta > 0
    stress_1 = jnp.where(positive, jnp.sqrt(win.stress / jnp.where(positive, win.eta, 1)), 0)
    return MDSResult(
        embedding=win.x * back,
        stress=win.stress * back**2,
        stress_1=stress_1,
        n_iter=win.n_iter,
        converged=win.status == MDSStatus.CONVERGED,
        status=win.status,
        restart_stress=runs.stress * back**2,
    )


@functools.partial(jax.jit, static_argnames=("metric", "init", "n_init", "k"))
def _fit(delta, w, init_x, key, eps, max_iter, *, metric, init, n_init, k):
    delta, w = _validate.clean(delta, w)
    fit = functools.partial(_fit_one, metric=metric, init=init, n_init=n_init, k=k)
    if delta.ndim == 2:
        return fit(delta, w, init_x, key, eps, max_iter)
    keys = None if key is None else jax.random.split(key, delta.shape[0])
    axis = lambda a: None if a is None else 0  # noqa: E731
    in_axes = (0, axis(w), axis(init_x), axis(keys), None, None)
    return jax.vmap(fit, in_axes=in_axes)(delta, w, init_x, keys, eps, max_iter)


def mds(
    dissimilarities: ArrayLike,
    n_components: int = 2,
    *,
    metric: bool = True,
    n_init: int = 4,
    max_iter: int = 300,
    eps: float = 1e-6,
    init: Literal["classical", "random"] | ArrayLike = "classical",
    weights: ArrayLike | None = None,
    key: Array | None = None,
) -> MDSResult:
    """Multidimensional scaling by SMACOF (stress majorization), jitted, with restarts.

    Minimizes the raw stress ``sum_{i<j} w_ij (d_ij(X) - delta_ij)^2`` over configurations
    ``X [m, k]`` by Guttman transforms (each one never increases the stress), in one
    ``lax.while_loop`` per run. Several runs start from different configurations and the one of
    lowest final stress is returned.

    Args:
        dissimilarities: ``[m, m]`` symmetric, non-negative, zero-diagonal matrix, or a batch
            ``[b, m, m]`` fitted independently (every result field then has a leading ``b``).
            Symmetry, diagonal and sign are checked to a relative tolerance of 1e-5 of the
            largest entry, then made exact.
        n_components: embedding dimension k; needs m >= k + 1.
        metric: True for metric MDS; False for non-metric (ordinal) MDS, which fits
            distances to the best monotone transform of the dissimilarities (isotonic
            regression; tied dissimilarities keep equal disparities).
        n_init: number of runs. With ``init="classical"`` the first run starts from the
            classical (Torgerson) solution (top eigenvectors by subspace iteration, see
            :func:`classical_mds`) and the others from random configurations; with
            ``init="random"`` all start at random. Ignored for explicit ``init`` arrays.
        max_iter: maximum number of Guttman transforms per run.
        eps: stop a run when one transform lowers the stress by at most ``eps`` times the sum
            of squared embedding distances (scikit-learn's criterion).
        init: ``"classical"`` (deterministic; needs no key), ``"random"`` (standard normal
            starts; needs ``key``), or explicit starts, one run each: ``[m, k]`` or
            ``[runs, m, k]``; for a batch ``[m, k]`` (shared), ``[b, m, k]`` or
            ``[b, runs, m, k]``.
        weights: optional symmetric non-negative ``[m, m]`` (or ``[b, m, m]``) weights; 0 marks
            a missing dissimilarity, whose entry is then ignored and may be NaN. The pairs of
            positive weight must connect all points. The transform then uses the
            pseudo-inverse of the weighted Laplacian (an ``[m, m]`` inverse, once per fit).
        key: PRNG key for random starts (`jax.random.key(seed)`, a raw ``PRNGKey`` or an
            integer seed). Matrix ``i`` of a batch uses
            ``jax.random.split(key, b)[i]``. With ``init="classical"`` and no key, the random
            restarts use ``jax.random.key(0)`` (for every matrix of a batch), so that the
            default call is deterministic.

    Returns:
        :class:`MDSResult` with ``embedding [m, k]``, ``stress`` (raw), ``stress_1``
        (Kruskal: ``sqrt(stress / sum_{i<j} w delta_ij^2)``, with the disparities in place of
        ``delta`` for non-metric MDS), ``n_iter``, ``converged``, ``status``
        (:class:`MDSStatus`) and the final stress of every run. A matrix of zeros gives a zero
        embedding with stress 0.

    Raises:
        ValueError: for a bad shape, too few points, an unknown ``init``, ``"random"`` without
            a key, bad ``n_init``/``max_iter``/``eps``, weights of the wrong shape or a
            disconnected weight graph, and (for concrete input) non-finite, asymmetric or
            negative dissimilarities or a non-zero diagonal, a degenerate explicit start
            (centred points spanning fewer than ``n_components`` dimensions, e.g. all zeros),
            or metric dissimilarities so large that the raw stress overflows the dtype. Called
            on tracers (inside a user's jit), only shapes are checked; NaN then ends as status
            NONFINITE.
        TypeError: a ``key`` that is no PRNG key or integer, a non-bool ``metric``, a
            non-integer ``n_components``/``n_init``/``max_iter``.

    Notes:
        SMACOF runs on the dissimilarities divided by their largest entry and the map is
        scaled back, so any finite magnitude (1e-20 or 1e20) gives the same map up to that
        factor and the same ``stress_1``. Restarts run as one ``vmap`` while their
        ``[runs, m, m]`` temporaries stay within 4 MiB (m <= 512 in float32, 362 in float64
        with 4 runs) and one after another with ``lax.map`` beyond, where a vmapped loop would
        keep every run going until the slowest stops and stream ``runs`` times more memory per
        step. The embedding is defined up to rotation, reflection and translation (SMACOF
        keeps it centred); compare maps with :func:`procrustes_align`.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxrsa import mds
        >>> pts = jnp.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0], [3.0, 4.0]])
        >>> d = jnp.linalg.norm(pts[:, None] - pts[None], axis=-1)
        >>> res = mds(d)
        >>> bool(res.stress_1 < 1e-4), bool(res.converged)
        (True, True)

    References:
        J. de Leeuw, "Applications of convex analysis to multidimensional scaling" (1977);
        I. Borg and P. Groenen, "Modern Multidimensional Scaling", Springer (2005), ch. 8-9;
        J. B. Kruskal, "Nonmetric multidimensional scaling: a numerical method",
        Psychometrika 29 (1964).
    """
    k = _inputs.integer("n_components", n_components)
    n_init = _inputs.integer("n_init", n_init)
    max_iter = _inputs.integer("max_iter", max_iter)
    metric = _inputs.boolean("metric", metric)
    eps = _inputs.number("eps", eps)
    if not (np.isfinite(eps) and eps >= 0):
        raise ValueError(f"eps must be a finite number >= 0, got {eps!r}")
    key = None if key is None else _inputs.prng_key("key", key)
    delta, w = _validate.prepare_dissimilarities(dissimilarities, k, weights)
    if metric and _inputs.concrete(delta, w):
        _validate.check_stress_fits(delta, w, delta.dtype)
    init_x = None
    if isinstance(init, str):
        if init not in ("classical", "random"):
            raise ValueError(f"init must be 'classical', 'random' or an array, got {init!r}")
        if init == "random" and key is None:
            raise ValueError("init='random' needs a key, e.g. key=jax.random.key(0)")
    else:
        init_x = _check_init(jnp.asarray(init), delta, k)
        init = "array"
    return _fit(
        delta,
        w,
        init_x,
        key,
        jnp.asarray(eps, delta.dtype),
        jnp.asarray(max_iter, jnp.int32),
        metric=metric,
        init=init,
        n_init=n_init,
        k=k,
    )
