"""The grounding benchmark's figures on a tiny zoo: they run, and they mean what they say."""

import jax
import numpy as np
import pytest

from benchmarks import bench_grounding
from jaxrsa import measures


@pytest.fixture(scope="module")
def tiny():
    return bench_grounding.activations(3, 1, 80, small=True, train_size=600, pooled=True)


def test_pooling_bounds_conv_widths():
    a = np.arange(2 * 3 * 14 * 14 * 5, dtype=float).reshape(2, 3, 14, 14, 5)
    pooled = bench_grounding.pool(a)
    assert pooled.shape == (2, 3, 16 * 5)
    np.testing.assert_allclose(pooled[0, 0, :5], a[0, 0, :4, :4].mean(axis=(0, 1)))


@pytest.mark.parametrize("name", ["rsa", "cka", "procrustes"])
def test_grounding_scores(tiny, name):
    cnn, mlp = tiny
    assert set(cnn) == set(bench_grounding.CNN_LAYERS)
    assert cnn["conv_0"].shape[-1] == 16 * 4  # 14 x 14 maps of 4 channels on a 4 x 4 grid
    got = bench_grounding.scores(measures.get(name), cnn, mlp, key=jax.random.key(0))
    assert 1 / 6 < got["layer_identification"] <= 1.0  # better than picking a layer at random
    assert got["layer_monotonicity"] > 0  # similarity falls with layer distance
    assert got["family_baseline"] == pytest.approx(6 / 15)  # within-family pairs of 3 + 3 models
    assert 0.0 < got["family_auprc"] <= 1.0
    if name == "rsa":  # the default is unbiased: no correspondence scores about 0
        assert abs(got["chance"]) < 0.1 and abs(got["chance_identical"]) < 0.1
