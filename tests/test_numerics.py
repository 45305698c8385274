"""Numerical building blocks: the blocked Gram triangle that triangle measures share."""

import jax
import numpy as np
import pytest

from jaxrsa._numerics import gram_triangle, sq_distances_triangle, triangle_indices


@pytest.mark.parametrize("n", [2, 3, 255, 257, 601, 2101])
def test_triangle_indices_are_the_strict_upper_triangle_once(n):
    i, j = triangle_indices(n)
    assert len(i) == n * (n - 1) // 2
    assert (i < j).all()
    assert len(np.unique(i * n + j)) == len(i)


@pytest.mark.parametrize("n", [5, 601])
def test_gram_triangle_equals_the_gram_matrix(rng, n):
    x = rng.normal(size=(n, 9))
    upper, diagonal = jax.jit(gram_triangle)(x)
    g = x @ x.T
    i, j = triangle_indices(n)
    np.testing.assert_allclose(upper, g[i, j], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(diagonal, np.diagonal(g), rtol=1e-12)
    x = x + 1e3  # far from the origin: distances come from centred data
    d2 = ((x[:, None] - x[None]) ** 2).sum(-1)
    np.testing.assert_allclose(sq_distances_triangle(x), d2[i, j], rtol=1e-9, atol=1e-9)
