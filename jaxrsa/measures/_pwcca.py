"""Projection-weighted CCA (Morcos, Raghu and Bengio 2018)."""

import dataclasses
from typing import NamedTuple

import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from jaxrsa import _inputs
from jaxrsa._numerics import HIGHEST
from jaxrsa.measures._base import Measure
from jaxrsa.measures._cca import check_max_dims, cross, defined, principal, undefined_reason


class Projected(NamedTuple):
    """A prepared model for PWCCA: the CCA basis, and the activations' coordinates in it.

    `coords = Q^T Xc = S V^T` `[k, d]`: column j holds neuron j's centred activations expressed in
    the basis, so <h, xc_j> = (Q^T h) . coords[:, j] for any h in the span of Q.
    """

    q: Float[Array, "n k"]
    coords: Float[Array, "k d"]
    kept: Int[Array, ""]


@dataclasses.dataclass(frozen=True)
class PWCCA(Measure):
    """Projection-weighted mean canonical correlation (Morcos et al. 2018).

    With canonical correlations rho_i and the corresponding canonical variates h_i of X
    (unit-norm n-vectors, h_i = Qx u_i for Qx^T Qy = U diag(rho) V^T), each correlation is weighted
    by how much of X's activations its direction accounts for: alpha_i = sum_j |<h_i, xc_j>| over
    X's centred neurons xc_j. PWCCA = sum_i alpha_i rho_i / sum_i alpha_i, over the
    min(r_x, r_y) canonical pairs.

    The weights come from one side, so PWCCA is not symmetric: `side="x"` (the default, as in
    the paper: "how much of the X activations") weights by the first argument, `side="y"` by the
    second. This is the paper's definition, not the variants with known bugs: the canonical
    *variates* h_i are the weighted directions (not the CCA coefficient vectors, anatome issue
    #30), the neurons are centred, and the side's own activations are used (google/svcca PR #9).
    Undefined (an error) under the same conditions as `CCA`, with the same remedy `max_dims`;
    with `max_dims` the weights still sum over every original neuron. Duplicated neurons count
    twice in the weights (they are neurons of X). Where canonical correlations tie, their
    directions are not unique and neither are the L1 weights: r_x + r_y > n - 1 forces ties at 1
    (the column spaces intersect), so keep the widths (or `max_dims`) well below n / 2.

    Args:
        side: "x" (weights from the first model) or "y" (from the second).
        max_dims: keep at most this many principal directions of each model (None: all).

    References:
        A. Morcos, M. Raghu and S. Bengio, "Insights on representational similarity in neural
        networks with canonical correlation", NeurIPS 2018.

    Examples:
        >>> import numpy as np
        >>> from jaxrsa import measures, similarity
        >>> x = np.random.default_rng(0).normal(size=(20, 3))
        >>> a = np.array([[1.0, 2, 0], [0, 1, 0], [3, 0, 1]])  # invertible
        >>> round(float(similarity(x, x @ a, "pwcca")), 6)
        1.0
    """

    side: str = "x"
    max_dims: int | None = None

    def __post_init__(self):
        _inputs.check_choice("PWCCA side", self.side, ("x", "y"))
        object.__setattr__(self, "max_dims", check_max_dims(self.max_dims))

    @property
    def symmetric(self) -> bool:
        """False: the weights come from one side, so pwcca(x, y) and pwcca(y, x) differ."""
        return False

    @property
    def scale_invariant(self) -> bool:
        return True

    @property
    def translation_invariant(self) -> bool:
        return True

    @property
    def min_n(self) -> int:
        return 3

    @property
    def degenerate(self) -> str:
        return "its activations have zero variance or span every centred direction (n <= d + 1)"

    def explain(self, x: Float[Array, "n d"]) -> str:
        n, d = x.shape
        kept = int(principal(x, self.max_dims).kept)
        return undefined_reason(kept, n, d, "measures.PWCCA(max_dims=k)")

    def workspace(self, n: int, d: int) -> int:
        k = min(n, d)
        return 3 * n * d + 3 * n * k + 2 * k * d

    def prepare(self, x: Float[Array, "n d"]) -> Projected:
        """Basis `[n, k]`, coordinates `[k, d]` (k = min(n, d, max_dims)), NaN if undefined."""
        p = principal(x, self.max_dims)
        ok = defined(p.kept, x.shape[0])
        return Projected(jnp.where(ok, p.u, jnp.nan), p.s[:, None] * p.vt, p.kept)

    def pair(self, px: Projected, py: Projected) -> Float[Array, ""]:
        if self.side == "y":
            px, py = py, px
        m = cross(px.q, py.q)
        u, rho, _ = jnp.linalg.svd(m, full_matrices=False)
        live = jnp.arange(rho.shape[0]) < jnp.minimum(px.kept, py.kept)
        alpha = jnp.sum(jnp.abs(jnp.matmul(u.T, px.coords, precision=HIGHEST)), axis=1)
        alpha = jnp.where(live, alpha, 0.0)
        return jnp.clip(jnp.sum(alpha * jnp.clip(rho, 0.0, 1.0)) / jnp.sum(alpha), 0.0, 1.0)
