"""Projection-weighted CCA (Morcos, Raghu and Bengio 2018), as the paper defines it or as
google/svcca's `compute_pwcca` computes it."""

import dataclasses
from typing import NamedTuple

import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from jaxrsa import _inputs
from jaxrsa._numerics import HIGHEST, svd
from jaxrsa.measures._base import Measure
from jaxrsa.measures._cca import (
    check_max_dims,
    cross,
    defined,
    principal,
    undefined_reason,
    widening,
)


class Projected(NamedTuple):
    """A prepared model for PWCCA: the CCA basis, and the activations' coordinates in it.

    `coords = Q^T Xc = S V^T` `[k, d]`: column j holds neuron j's centred activations expressed in
    the basis, so <h, xc_j> = (Q^T h) . coords[:, j] for any h in the span of Q.
    """

    q: Float[Array, "n k"]
    coords: Float[Array, "k d"]
    kept: Int[Array, ""]
    mean: Float[Array, " d"]  # the neurons' means (google's convention adds them back)


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
    (the column spaces intersect), so keep the widths (or `max_dims`) well below n / 2. Near
    ties move the weights in float32 too: among correlations within about 1e-5 of each other,
    float32 rounding chooses the directions, which moved float32 PWCCA by up to 9e-5 against
    float64 (a cluster of correlations within 1e-5 of 0.9999; at most 1.5e-5 elsewhere, up to a
    condition number of 1e5). The basis, and so the accuracy for ill-conditioned activations,
    is `CCA`'s (see its note on precision).

    `convention="google"` reproduces google/svcca's `compute_pwcca` (pwcca.py), from which many
    published PWCCA numbers come; it differs from the paper's definition by 0.04-0.07 on real
    activations. There the weighted side is the one with fewer neurons (x on a tie), its
    directions are the canonical directions without the whitening (Xc u_i, u_i the left singular
    vectors of Sxx^-1/2 Sxy Syy^-1/2), with the mean of neuron i added to direction i, then
    orthonormalized by QR in order, and the weights are sum_j |<p_i, x_j>| over the uncentred
    neurons x_j. google's code raises an IndexError when the first model has more neurons than
    the second (it indexes the first model's activations with the second's neuron mask); here
    that case weights the second model as intended, i.e. equals google's
    `compute_pwcca(y.T, x.T)`. On centred activations the value is well defined and matches
    google's to rounding (pinned in the tests). On uncentred activations the added means make
    google's value depend on the signs LAPACK gives its singular vectors, so it is reproduced
    only up to that choice; where several canonical correlations are exactly 1 (widths summing
    to more than n - 1), the directions and hence the value depend on the basis chosen, in
    google's code as here.

    Args:
        side: "x" (weights from the first model) or "y" (from the second); with
            `convention="google"` the narrower model is weighted and `side` must stay "x".
        max_dims: keep at most this many principal directions of each model (None: all; the
            google convention has no reduction).
        convention: "paper" (default: Morcos et al.'s definition, above) or "google".

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
    convention: str = "paper"

    def __post_init__(self):
        _inputs.check_choice("PWCCA side", self.side, ("x", "y"))
        _inputs.check_choice("PWCCA convention", self.convention, ("paper", "google"))
        object.__setattr__(self, "max_dims", check_max_dims(self.max_dims))
        if self.convention == "google" and (self.side != "x" or self.max_dims is not None):
            raise ValueError(
                "PWCCA(convention='google') weights the model with fewer neurons and reduces "
                "nothing: leave side='x' and max_dims=None"
            )

    @property
    def symmetric(self) -> bool:
        """False: the weights come from one side, so pwcca(x, y) and pwcca(y, x) differ."""
        return False

    @property
    def scale_invariant(self) -> bool:
        return True

    @property
    def translation_invariant(self) -> bool:
        """True for the paper's PWCCA; google's adds the neurons' means back (see above)."""
        return self.convention == "paper"

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
        return (3 * n * d + 3 * n * k + 2 * k * d) * widening()

    def prepare(self, x: Float[Array, "n d"]) -> Projected:
        """Basis `[n, k]`, coordinates `[k, d]` (k = min(n, d, max_dims)), NaN if undefined."""
        p = principal(x, self.max_dims)
        ok = defined(p.kept, x.shape[0])
        q = jnp.where(ok, p.u, jnp.nan)
        return Projected(q, p.s[:, None] * p.vt, p.kept, jnp.mean(x, axis=0))

    def pair(self, px: Projected, py: Projected) -> Float[Array, ""]:
        if self.convention == "google":
            return _google(px, py)
        if self.side == "y":
            px, py = py, px
        m = cross(px.q, py.q)
        u, rho, _ = svd(m)
        live = jnp.arange(rho.shape[0]) < jnp.minimum(px.kept, py.kept)
        alpha = jnp.sum(jnp.abs(jnp.matmul(u.T, px.coords, precision=HIGHEST)), axis=1)
        alpha = jnp.where(live, alpha, 0.0)
        return jnp.clip(jnp.sum(alpha * jnp.clip(rho, 0.0, 1.0)) / jnp.sum(alpha), 0.0, 1.0)


def _google(px: Projected, py: Projected) -> Float[Array, ""]:
    """google/svcca's `compute_pwcca` (see `PWCCA`), its d_x > d_y case weighting y."""
    if px.coords.shape[1] > py.coords.shape[1]:  # weight the model with fewer neurons
        px, py = py, px
    a, rho, _ = svd(cross(px.q, py.q))  # u_i = V_x a_i: T's left singular vectors
    k = px.q.shape[1]
    scale = jnp.linalg.norm(px.coords, axis=1)  # the singular values of Xc
    directions = jnp.matmul(px.q * scale, a, precision=HIGHEST) + px.mean[:k]  # Xc u_i + mean_i
    p, _ = jnp.linalg.qr(directions)
    # <p_i, x_j> for the uncentred neurons x_j = xc_j + mean_j 1, with xc_j = Q coords[:, j]
    on_centred = jnp.matmul(jnp.matmul(p.T, px.q, precision=HIGHEST), px.coords, precision=HIGHEST)
    weights = jnp.sum(jnp.abs(on_centred + jnp.sum(p, axis=0)[:, None] * px.mean), axis=1)
    return jnp.sum(weights * jnp.abs(rho)) / jnp.sum(weights)
