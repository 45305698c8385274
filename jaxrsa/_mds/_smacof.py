"""SMACOF (stress majorization by Guttman transforms) for one dissimilarity matrix.

Kernels here are undecorated and unbatched: :func:`jaxrsa.mds` jits them, runs restarts and
batches with ``vmap`` / ``lax.map``.

One iteration at configuration ``X_k`` makes a single pass over the ``[m, m]`` matrices: the
distances ``d(X_k)`` give both the stress of ``X_k`` and the Guttman transform
``X_{k+1} = V^+ B(X_k) X_k`` (``V^+ = I / m`` on centred configurations when unweighted), with
``B_ij = -w_ij delta_ij / d_ij`` off the diagonal (0 where ``d_ij = 0``) and rows summing to 0.
The matrix product ``R [X, 1]`` with ``R_ij = w_ij delta_ij / d_ij`` yields ``B X`` (row sums
in the last column), and metric stress follows without another pass over the matrix:
``sum_{i<j} w (d - delta)^2 = sum w delta^2 + sum w d^2 - 2 tr(X^T B X)``, with
``sum_{i<j} d^2 = m ||X||^2 - ||1^T X||^2`` when unweighted. This form is used for the stopping
test only; the reported stress is summed term by term once at the end (the expansion cancels
digits when the fit is close, notably in float32).

Stopping, as scikit-learn >= 1.7: after the k-th transform (k >= 2) when
``stress(X_{k-1}) - stress(X_k) <= eps * sum_{i<j} w d_ij(X_k)^2``, i.e. the decrease of stress
relative to the size of the configuration. Non-metric MDS replaces ``delta`` in iteration k
by the disparities: the isotonic regression of ``d(X_k)`` on the order of ``delta``
(:mod:`._isotonic`; the first iteration uses ``delta`` itself), scaled so that
``sum_{i<j} w dhat^2 = sum_{i<j} w``; the stress of ``X_k`` is taken against the previous
disparities, as in scikit-learn, so iteration counts agree.
"""

from typing import NamedTuple

import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, Bool, Float, Int

from jaxrsa._mds import _isotonic
from jaxrsa._mds._result import MDSStatus

RUNNING = -1
_HIGHEST = lax.Precision.HIGHEST


class Problem(NamedTuple):
    """What the iteration needs about one ``[m, m]`` matrix, computed once per fit.

    ``w``/``vplus`` are None when unweighted; the ``pairs``... fields are None for metric MDS.
    """

    delta: Float[Array, "m m"]
    wdelta: Float[Array, "m m"]
    eta: Float[Array, ""]  # sum_{i<j} w delta^2
    w: Float[Array, "m m"] | None
    vplus: Float[Array, "m m"] | None
    pairs: Int[Array, " p"] | None  # flat indices i * m + j (i < j), sorted by delta
    rank: Int[Array, " mm"] | None  # position in `pairs` of each entry's pair; p on the diagonal
    w_pairs: Float[Array, " p"] | None
    blocks: Bool[Array, " p"] | None  # tie blocks of the sorted delta
    dhat0: Float[Array, " p"] | None  # first disparities: scaled delta


class State(NamedTuple):
    """Loop state at configuration ``x = X_k`` (``k = n_iter``)."""

    x: Float[Array, "m k"]
    stress: Float[Array, ""]  # stress of X_{k-1} while running; of x once stopped
    n_iter: Int[Array, ""]
    status: Int[Array, ""]
    dhat: Float[Array, " p"] | None  # disparities that `stress` refers to (non-metric)


def laplacian_pinv(w: Float[Array, "m m"]) -> Float[Array, "m m"]:
    """Moore-Penrose inverse of the weighted Laplacian ``V = diag(W 1) - W`` of a connected
    weight graph, as ``(V + 11^T / m)^{-1} - 11^T / m``."""
    m = w.shape[0]
    v = jnp.diag(jnp.sum(w, axis=1)) - w
    j = jnp.full((m, m), 1 / m, w.dtype)
    return jnp.linalg.inv(v + j) - j


def setup(delta: Array, w: Array | None, metric: bool) -> Problem:
    """Precompute the :class:`Problem` of cleaned ``delta`` (and weights, zero diagonal)."""
    m = delta.shape[0]
    wdelta = delta if w is None else w * delta
    eta = 0.5 * jnp.sum(wdelta * delta)
    vplus = None if w is None else laplacian_pinv(w)
    if metric:
        return Problem(delta, wdelta, eta, w, vplus, None, None, None, None, None)
    rows, cols = jnp.triu_indices(m, 1)
    flat = rows * m + cols
    order = jnp.argsort(delta.ravel()[flat], stable=True)
    pairs = flat[order]
    p = pairs.shape[0]
    position = jnp.zeros(p, int).at[order].set(jnp.arange(p))
    rank = jnp.full((m, m), p).at[rows, cols].set(position).at[cols, rows].set(position).ravel()
    w_pairs = jnp.ones(p, delta.dtype) if w is None else w.ravel()[pairs]
    d_sorted = delta.ravel()[pairs]
    blocks = _isotonic.tie_blocks(d_sorted, w_pairs)
    dhat0 = _normalize(d_sorted, w_pairs)
    return Problem(delta, wdelta, eta, w, vplus, pairs, rank, w_pairs, blocks, dhat0)


def _normalize(dhat: Array, w: Array) -> Array:
    """Scale disparities so that ``sum w dhat^2 = sum w`` (unchanged if all are 0)."""
    norm = jnp.sum(w * dhat**2)
    ok = norm > 0
    return dhat * jnp.where(ok, jnp.sqrt(jnp.sum(w) / jnp.where(ok, norm, 1)), 1)


def sq_distances(x: Float[Array, "m k"]) -> Float[Array, "m m"]:
    """Squared Euclidean distances, as a sum of squared coordinate differences (fuses into
    one elementwise loop; exact 0 for coincident points, unlike the Gram expansion)."""
    return sum(jnp.square(x[:, None, c] - x[None, :, c]) for c in range(x.shape[1]))


def guttman(
    x: Float[Array, "m k"], wdisp: Float[Array, "m m"], vplus: Array | None
) -> tuple[Array, Array]:
    """``B(X) X`` and the Guttman transform ``V^+ B(X) X`` for weighted disparities ``wdisp``."""
    m, k = x.shape
    d2 = sq_distances(x)
    positive = d2 > 0
    ratio = jnp.where(positive, wdisp / jnp.sqrt(jnp.where(positive, d2, 1)), 0)
    ones = jnp.ones((m, 1), x.dtype)
    out = jnp.matmul(ratio, jnp.concatenate([x, ones], axis=1), precision=_HIGHEST)
    bx = out[:, k:] * x - out[:, :k]
    x_new = bx / m if vplus is None else jnp.matmul(vplus, bx, precision=_HIGHEST)
    return bx, x_new


def sum_sq_distances(x: Float[Array, "m k"], w: Array | None) -> Float[Array, ""]:
    """``sum_{i<j} w_ij d_ij^2`` (in closed form when unweighted)."""
    if w is None:
        return x.shape[0] * jnp.sum(x * x) - jnp.sum(jnp.sum(x, axis=0) ** 2)
    return 0.5 * jnp.sum(w * sq_distances(x))


def stress_of(problem: Problem, x: Array, dhat: Array | None) -> Float[Array, ""]:
    """Raw stress of ``x`` summed term by term (against ``dhat`` for non-metric MDS)."""
    if dhat is None:
        terms = jnp.square(jnp.sqrt(sq_distances(x)) - problem.delta)
        return 0.5 * jnp.sum(terms if problem.w is None else problem.w * terms)
    d = jnp.sqrt(sq_distances(x).ravel()[problem.pairs])
    return jnp.sum(problem.w_pairs * jnp.square(d - dhat))


def init_state(problem: Problem, x0: Float[Array, "m k"]) -> State:
    """Loop state before the first transform."""
    inf = jnp.array(jnp.inf, x0.dtype)
    status = jnp.array(RUNNING, jnp.int32)
    return State(x0, inf, jnp.array(0, jnp.int32), status, problem.dhat0)


def step(problem: Problem, state: State, eps: Array, max_iter: Array) -> State:
    """One SMACOF iteration: evaluate ``X_k``, decide whether to stop, else transform."""
    x, k = state.x, state.n_iter
    if state.dhat is None:
        bx, x_new = guttman(x, problem.wdelta, problem.vplus)
        size = sum_sq_distances(x, problem.w)
        stress = problem.eta + size - 2 * jnp.sum(x * bx)
        dhat = None
    else:
        d = jnp.sqrt(sq_distances(x).ravel()[problem.pairs])
        stress = jnp.sum(problem.w_pairs * jnp.square(d - state.dhat))
        size = jnp.sum(problem.w_pairs * d**2)
        fit = _isotonic.isotonic_regression(d, problem.w_pairs, problem.blocks)
        dhat = jnp.where(k == 0, problem.dhat0, _normalize(fit, problem.w_pairs))
        wdisp = jnp.append(problem.w_pairs * dhat, 0)[problem.rank].reshape(x.shape[0], -1)
        _, x_new = guttman(x, wdisp, problem.vplus)
    finite = jnp.isfinite(stress) & jnp.all(jnp.isfinite(x_new))
    converged = (k >= 2) & (state.stress - stress <= eps * size)
    status = jnp.where(
        ~finite,
        MDSStatus.NONFINITE,
        jnp.where(
            converged,
            MDSStatus.CONVERGED,
            jnp.where(k >= max_iter, MDSStatus.MAX_ITER, RUNNING),
        ),
    ).astype(jnp.int32)
    stop = status != RUNNING
    keep = lambda old, new: jnp.where(stop, old, new)  # noqa: E731
    return State(
        x=keep(x, x_new),
        stress=stress,
        n_iter=keep(k, k + 1),
        status=status,
        dhat=None if dhat is None else keep(state.dhat, dhat),
    )


class Run(NamedTuple):
    """Outcome of one SMACOF run."""

    x: Float[Array, "m k"]
    stress: Float[Array, ""]  # raw, summed term by term
    eta: Float[Array, ""]  # sum_{i<j} w disparity^2, for stress-1
    n_iter: Int[Array, ""]
    status: Int[Array, ""]


def run(problem: Problem, x0: Array, eps: Array, max_iter: Array) -> Run:
    """Iterate :func:`step` from ``x0`` until it stops, in one ``lax.while_loop``."""
    state = lax.while_loop(
        lambda s: s.status == RUNNING,
        lambda s: step(problem, s, eps, max_iter),
        init_state(problem, x0),
    )
    if state.dhat is None:
        eta = problem.eta
    else:
        eta = jnp.sum(problem.w_pairs * state.dhat**2)
    stress = stress_of(problem, state.x, state.dhat)
    return Run(state.x, stress, eta, state.n_iter, state.status)
