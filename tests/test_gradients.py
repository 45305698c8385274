"""Every measure inside a caller's jit, vmap and grad: true derivatives (finite differences in
float64), finite gradients where the value is defined (dead units, duplicated features, x == y,
n near the minimum; float32 and float64), clear errors for measures without a derivative, and a
traceable `jaxrsa.similarity`.

`python -m tests.test_gradients` prints the measure x dtype x case table.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

import jaxrsa
from jaxrsa import measures

# Piecewise constant in the activations (ranks, neighbour lists): differentiating must raise.
NOT_DIFFERENTIABLE = {
    "rsa_spearman",
    "rsa_kendall",
    "rsa_tau_a",
    "rsa_rho_a",
    "rsa_bures",  # square roots of rank-deficient kernels (refused as not differentiable)
    "mutual_knn",
    "jaccard_similarity",
    "rank_similarity",
    "second_order_cosine_similarity",
    "cknna",
    "cycle_knn",
}
DIFFERENTIABLE = [name for name in measures.names() if name not in NOT_DIFFERENTIABLE]
CASES = ("dead units", "duplicated features", "x == y", "n near minimum")
N, D = 24, 6


def pair(rng, n=N, d=D):
    x = rng.normal(size=(n, d))
    y = np.tanh(x @ rng.normal(size=(d, d))) + 0.5 * rng.normal(size=(n, d))
    return x, y


def degenerate_cases(seed=0):
    """Inputs `[3, N, D]` (dead units, duplicated features, x == y) and, for each, a direction
    that keeps its structure (dead units stay dead, duplicates stay equal)."""
    rng = np.random.default_rng(seed)
    x, y = pair(rng)
    dx, dy = rng.normal(size=(2, N, D))
    dead_x, dead_y = x.copy(), y.copy()
    dead_x[:, :2] = dead_y[:, 0] = 0.0
    dup_x, dup_y = x.copy(), y.copy()
    dup_x[:, -1], dup_y[:, -1] = x[:, 0], y[:, 1]
    ddead_x, ddead_y, ddup_x, ddup_y = dx.copy(), dy.copy(), dx.copy(), dy.copy()
    ddead_x[:, :2] = ddead_y[:, 0] = 0.0
    ddup_x[:, -1], ddup_y[:, -1] = dx[:, 0], dy[:, 1]
    xs = np.stack([dead_x, dup_x, x])
    ys = np.stack([dead_y, dup_y, x.copy()])
    dxs = np.stack([ddead_x, ddup_x, dx])
    dys = np.stack([ddead_y, ddup_y, dy])
    return xs, ys, dxs, dys


def small_case(measure, seed=1):
    """The fewest examples for which the measure is defined, at width 3."""
    d = 3
    if isinstance(measure, measures.PWCCA):  # r_x + r_y < n - 1, else ties at 1 (see PWCCA)
        n = 2 * d + 2
    elif isinstance(measure, measures.CCA):  # rank < n - 1
        n = d + 2
    else:
        n = measure.min_n + 1
    return pair(np.random.default_rng(seed), n, d)


@functools.partial(jax.jit, static_argnums=0)
def grads_and_slopes(measure, xs, ys, dxs, dys):
    """Per case: value, both gradients, and the derivative along (dx, dy), batched with vmap."""

    def one(x, y, dx, dy):
        value, grads = jax.value_and_grad(measure, argnums=(0, 1))(x, y)
        slope = jax.jvp(measure, (x, y), (dx, dy))[1]
        return value, grads, slope

    return jax.vmap(one)(xs, ys, dxs, dys)


@functools.partial(jax.jit, static_argnums=0)
def central_differences(measure, xs, ys, dxs, dys, h):
    step = jax.vmap(measure)
    return (step(xs + h * dxs, ys + h * dys) - step(xs - h * dxs, ys - h * dys)) / (2 * h)


def finite(tree) -> bool:
    return all(bool(jnp.isfinite(a).all()) for a in jax.tree.leaves(tree))


def at_minimum(measure, arrays, i) -> bool:
    """Whether case i compares a model with itself under a distance (value 0, its minimum)."""
    xs, ys = arrays[0], arrays[1]
    same = xs[i].shape == ys[i].shape and np.array_equal(xs[i], ys[i])
    return same and not measure.larger_is_more_similar


def gradient_table(name: str) -> dict[tuple[str, str], str]:
    """(dtype, case) -> "ok" or what went wrong, for one differentiable measure.

    "ok": value and gradients finite; in float64 also the derivative along a direction that
    keeps the case's structure equals central differences to 1e-6, except for a distance
    between a model and itself: its value and derivative are both exactly 0 (in both dtypes).
    """
    measure = measures.get(name)
    xs, ys, dxs, dys = degenerate_cases()
    sx, sy = small_case(measure)
    sdx, sdy = np.random.default_rng(2).normal(size=(2, *sx.shape))
    xs_all = [(xs, ys, dxs, dys), (sx[None], sy[None], sdx[None], sdy[None])]
    out = {}
    for dtype in (np.float32, np.float64):
        status = []
        for arrays in xs_all:
            a = [jnp.asarray(v, dtype) for v in arrays]
            values, grads, slopes = grads_and_slopes(measure, *a)
            fd = central_differences(measure, *a, 1e-6) if dtype == np.float64 else None
            for i in range(values.shape[0]):
                case = jax.tree.map(lambda t, i=i: t[i], (values, grads, slopes))
                if not finite(case[0]):
                    status.append("value NaN")
                elif not finite(case[1:]):
                    status.append("gradient NaN")
                elif at_minimum(measure, arrays, i):
                    # a distance at 0 has a kink (sqrt, arccos, |.|) whose symmetric derivative
                    # is 0; central differences there only see the rounding of a tiny distance
                    ok = float(values[i]) == 0 and float(slopes[i]) == 0
                    status.append("ok" if ok else f"at 0: {float(values[i]):.3g}, slope "
                                  f"{float(slopes[i]):.3g}")  # fmt: skip
                elif fd is not None and abs(float(slopes[i] - fd[i])) > 1e-6 * (
                    1 + abs(float(fd[i]))
                ):
                    status.append(f"slope {float(slopes[i]):.3g} vs fd {float(fd[i]):.3g}")
                else:
                    status.append("ok")
        for case, s in zip(CASES, status, strict=True):
            out[(np.dtype(dtype).name, case)] = s
    return out


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_true_derivative_float64(rng, name):
    """`check_grads`, order 1, forward and reverse, on generic inputs (cka_rbf: its median
    bandwidth moves with the inputs and is differentiated too)."""
    measure = measures.get(name)
    x, y = pair(rng, n=12, d=4)
    y = y[:, :3]  # different widths
    check_grads(jax.jit(measure), (x, y), order=1, modes=("fwd", "rev"), atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_finite_gradients_on_degenerate_inputs(name):
    table = gradient_table(name)
    bad = {k: v for k, v in table.items() if v != "ok"}
    assert not bad, bad


def test_cka_rbf_gradient_moves_the_bandwidth(rng):
    """The median bandwidth is part of the function: a constant median gives another gradient."""
    x, y = pair(rng, n=10, d=3)
    measure = measures.get("cka_rbf")
    got = jax.grad(measure)(x, y)
    d2 = ((x[:, None] - x[None]) ** 2).sum(-1)
    fixed = np.median(d2)

    def fixed_bandwidth(a):
        k = jnp.exp(-((a[:, None] - a[None]) ** 2).sum(-1) / (2 * 0.25 * fixed))
        e = ((y[:, None] - y[None]) ** 2).sum(-1)
        l_ = jnp.exp(-e / (2 * 0.25 * np.median(e)))
        h = jnp.eye(10) - 1 / 10
        k, l_ = h @ k @ h, h @ l_ @ h
        return jnp.sum(k * l_) / jnp.sqrt(jnp.sum(k * k) * jnp.sum(l_ * l_))

    assert float(fixed_bandwidth(x)) == pytest.approx(float(measure(x, y)), abs=1e-12)
    assert np.abs(np.asarray(jax.grad(fixed_bandwidth)(x)) - np.asarray(got)).max() > 1e-3


@pytest.mark.parametrize("name", sorted(NOT_DIFFERENTIABLE & set(measures.names())))
def test_rank_and_neighbour_measures_refuse_differentiation(rng, name):
    x, y = pair(rng, n=30, d=4)
    measure = measures.get(name)
    for transform in (jax.grad, jax.jacfwd):
        with pytest.raises(TypeError, match="not differentiable.*'rsa_pearson'.*'cka'"):
            transform(lambda a, measure=measure: measure(a, y))(x)
    assert np.isfinite(float(jax.jit(measure)(x, y)))  # the value itself still traces


@pytest.mark.parametrize("name", ["rsa", "cka", "cca", "pwcca", "procrustes", "mutual_knn"])
def test_similarity_is_traceable(rng, name):
    x, y = pair(rng, n=20, d=4)
    concrete = float(jaxrsa.similarity(x, y, name))
    jitted = jax.jit(jaxrsa.similarity, static_argnums=2)(x, y, name)
    assert float(jitted) == pytest.approx(concrete, abs=1e-10)
    batched = jax.vmap(lambda a: jaxrsa.similarity(a, y, name))(jnp.stack([x, 3.0 * x]))
    np.testing.assert_allclose(batched, concrete, atol=1e-10)
    if name != "mutual_knn":
        g = jax.grad(jaxrsa.similarity)(x, y, name)
        np.testing.assert_allclose(g, jax.grad(measures.get(name))(x, y), atol=1e-10)


def test_similarity_traced_shape_errors_and_undefined_input(rng):
    x, y = pair(rng, n=20, d=4)
    with pytest.raises(ValueError, match="has 19 examples but x has 20"):
        jax.jit(jaxrsa.similarity, static_argnums=2)(x, y[:19], "cka")
    with pytest.raises(ValueError, match="at least 4 examples"):
        jax.jit(jaxrsa.similarity, static_argnums=2)(x[:3], y[:3], "cka_debiased")
    flat = np.ones_like(x)  # zero variance: an error on concrete input, NaN under a trace
    with pytest.raises(ValueError, match="same representation"):
        jaxrsa.similarity(flat, y, "cca")
    assert np.isnan(float(jax.jit(jaxrsa.similarity, static_argnums=2)(flat, y, "cca")))


def test_similarity_traced_keeps_dtype_and_magnitude(rng):
    x, y = pair(rng, n=20, d=4)
    traced = jax.jit(jaxrsa.similarity, static_argnums=2)
    assert traced(x.astype(np.float32), y.astype(np.float32), "cka").dtype == np.float32
    assert traced(x.astype(np.float32), y, "cka").dtype == np.float64
    big = traced((1e20 * x).astype(np.float32), y.astype(np.float32), "cka")
    assert float(big) == pytest.approx(float(jaxrsa.similarity(x, y, "cka")), abs=1e-5)


def main():
    rows = []
    for name in DIFFERENTIABLE:
        for (dtype, case), status in gradient_table(name).items():
            rows.append((name, dtype, case, status))
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':{width}s}  dtype    " + "  ".join(f"{c:20s}" for c in CASES))
    for name in DIFFERENTIABLE:
        for dtype in ("float32", "float64"):
            cells = [s for n, t, _, s in rows if n == name and t == dtype]
            print(f"{name:{width}s}  {dtype}  " + "  ".join(f"{c:20s}" for c in cells))


if __name__ == "__main__":
    jax.config.update("jax_enable_x64", True)
    main()
