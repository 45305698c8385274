"""jaxrsa.models architectures and activations, against float64 NumPy forward passes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import jaxrsa.models as jm
from jaxrsa.models import _capture
from jaxrsa.models._layers import max_pool_2x2

BN_EPS = 1e-5  # nnx.BatchNorm's default epsilon

# ------------------------------------------------------------------ NumPy references


def conv_ref(x, kernel, bias=0.0):
    """'SAME', stride-1 cross-correlation from sliding windows: x [b,h,w,c], kernel [k,k,c,o]."""
    p = kernel.shape[0] // 2
    padded = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, kernel.shape[:2], axis=(1, 2))
    return np.einsum("bhwcij,ijco->bhwo", windows, kernel) + bias


def pool_ref(x):
    b, h, w, c = x.shape
    out = np.empty((b, h // 2, w // 2, c))
    for i in range(h // 2):
        for j in range(w // 2):
            out[:, i, j] = x[:, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2].max(axis=(1, 2))
    return out


def norm_ref(h, p):
    if "norm" not in p:
        return h
    n = p["norm"]
    return (h - n["mean"]) / np.sqrt(n["var"] + BN_EPS) * n["scale"] + n["bias"]


def features_ref(model, images):
    """Evaluation-mode activations of `model` in float64 NumPy, from its parameters."""
    pure = jax.tree.map(lambda a: np.asarray(a, np.float64), nnx.to_pure_dict(nnx.state(model)))
    x = images.astype(np.float64) / 255.0
    out = {"input": x}
    h = x.reshape(len(x), -1)
    if isinstance(model, jm.CNN):
        h = x if x.ndim == 4 else x[..., None]
        for i, p in pure["convs"].items():
            h = pool_ref(np.maximum(norm_ref(conv_ref(h, **p["conv"]), p), 0))
            out[f"conv_{i}"] = h
        h = h.reshape(len(x), -1)
    for i, p in pure.get("blocks", {}).items():
        h = np.maximum(norm_ref(h @ p["linear"]["kernel"] + p["linear"].get("bias", 0), p), 0)
        out[f"dense_{i}"] = h
    out["penultimate"] = h
    out["logits"] = h @ pure["head"]["kernel"] + pure["head"]["bias"]
    return out


def randomize(model, seed):
    """Random parameters and batch-norm statistics (positive variances), in place, same dtypes.

    Works on abstract models (`nnx.eval_shape`): no JAX random initialiser is compiled.
    """
    rng = np.random.default_rng(seed)
    state = nnx.state(model)
    pure = nnx.to_pure_dict(state)
    leaves, treedef = jax.tree_util.tree_flatten_with_path(pure)
    new = []
    for path, leaf in leaves:
        name = jax.tree_util.keystr(path)
        value = rng.uniform(0.5, 2.0, leaf.shape) if "var" in name else rng.normal(size=leaf.shape)
        new.append(jnp.asarray(value * (0.3 if "kernel" in name else 1.0), leaf.dtype))
    nnx.replace_by_pure_dict(state, jax.tree_util.tree_unflatten(treedef, new))
    nnx.update(model, state)
    return model


CONFIGS = [
    ("mlp", dict(hidden=(12, 7))),
    ("mlp", dict(hidden=(9,), batch_norm=True, dropout=0.5)),
    ("cnn", dict(channels=(4,), dense=(), kernel_size=5, input_shape=(9, 11, 2))),
    ("cnn", dict(channels=(2, 3), dense=(5, 4), batch_norm=True, dropout=0.3)),
]


def make(family, kwargs, seed=0):
    cls = jm.MLP if family == "mlp" else jm.CNN
    return randomize(nnx.eval_shape(lambda: cls(**kwargs, rngs=nnx.Rngs(0))), seed)


def images_for(model, n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, *model.input_shape), dtype=np.uint8)


def assert_close(actual, desired, rel, name=""):
    """|actual - desired| <= rel * max|desired| everywhere (float32 sums of many terms)."""
    desired = np.asarray(desired, np.float64)
    scale = max(np.abs(desired).max(), 1.0)
    np.testing.assert_allclose(np.asarray(actual), desired, rtol=0, atol=rel * scale, err_msg=name)


# ------------------------------------------------------------------ tests


def test_public_names():
    assert sorted(jm.__all__) == sorted(
        [
            "CNN",
            "MLP",
            "CheckpointError",
            "Classifier",
            "Conv2d",
            "Zoo",
            "ZooConfig",
            "activations",
            "capture",
            "load_zoo",
            "preprocess",
            "train_zoo",
            "zoo_activations",
        ]
    )
    for name in jm.__all__:
        assert getattr(jm, name).__module__.startswith("jaxrsa.models")


def test_preprocess():
    x = np.arange(256, dtype=np.uint8).reshape(4, 8, 8)
    out = jm.preprocess(x)
    assert out.dtype == jnp.float32 and out.shape == x.shape
    np.testing.assert_allclose(np.asarray(out), x / 255.0, rtol=1e-6, atol=1e-7)
    floats = np.linspace(0, 1, 12).reshape(3, 4)
    assert jm.preprocess(floats).dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(jm.preprocess(floats)), floats, rtol=1e-7)
    with pytest.raises(TypeError, match="uint8"):
        jm.preprocess(np.zeros((2, 3), np.int8))


@pytest.mark.parametrize("k, c, o, use_bias", [(1, 2, 3, True), (5, 3, 2, False)])
def test_conv2d_matches_sliding_window_reference(k, c, o, use_bias):
    conv = randomize(
        nnx.eval_shape(lambda: jm.Conv2d(c, o, k, use_bias=use_bias, rngs=nnx.Rngs(0))), 1
    )
    x = np.random.default_rng(0).normal(size=(2, 7, 6, c))
    bias = 0.0 if conv.bias is None else np.asarray(conv.bias[...], np.float64)
    expected = conv_ref(x, np.asarray(conv.kernel[...], np.float64), bias)
    assert_close(conv(jnp.asarray(x, jnp.float32)), expected, 1e-6)
    with pytest.raises(ValueError, match="odd"):
        jm.Conv2d(c, o, 2, rngs=nnx.Rngs(0))


@pytest.mark.parametrize("h, w", [(4, 6), (5, 7), (2, 3)])
def test_max_pool_matches_reference(h, w):
    x = np.random.default_rng(0).normal(size=(2, h, w, 3))
    np.testing.assert_array_equal(np.asarray(max_pool_2x2(jnp.asarray(x))), pool_ref(x))


@pytest.mark.parametrize("family, kwargs", CONFIGS)
def test_every_named_layer_matches_reference_in_batches(family, kwargs):
    """Each layer's activations, read 7 at a time from 20 images, equal the float64 forward pass.

    The models have random batch-norm statistics and dropout: matching the reference (which
    has neither batch statistics nor dropout) shows evaluation mode.
    """
    model = make(family, kwargs)
    x = images_for(model, 20)
    ref = features_ref(model, x)
    assert set(model.layer_names) == set(ref)
    got = jm.activations(model, x, model.layer_names, batch_size=7)
    assert list(got) == list(model.layer_names)
    for name in model.layer_names:
        assert got[name].shape == (20, ref[name][0].size) and got[name].dtype == jnp.float32
        assert_close(got[name], ref[name].reshape(20, -1), 1e-5, name)


@pytest.mark.parametrize("batch_size", [1, 64])
def test_activations_do_not_depend_on_batching(batch_size):
    """One image at a time, or all in one padded batch, gives the 7-at-a-time result.

    Equal up to float32 rounding (XLA may sum in another order for another batch shape); with
    batch statistics instead of running ones, the results would differ by O(1).
    """
    model = make("mlp", dict(hidden=(9,), batch_norm=True, dropout=0.5))
    x = images_for(model, 20)
    by_7 = jm.activations(model, x, ["dense_0", "logits"], batch_size=7)
    other = jm.activations(model, x, ["dense_0", "logits"], batch_size=batch_size)
    for name in by_7:
        assert_close(other[name], by_7[name], 1e-6, name)


def test_layer_names_and_feature_shapes():
    mlp = nnx.eval_shape(lambda: jm.MLP((8, 6, 4), rngs=nnx.Rngs(0)))
    assert mlp.layer_names == ("input", "dense_0", "dense_1", "dense_2", "penultimate", "logits")
    options = dict(dense=(5,), input_shape=(16, 12, 3), n_classes=7)
    cnn = nnx.eval_shape(lambda: jm.CNN((2, 3, 4), **options, rngs=nnx.Rngs(0)))
    feats = jax.eval_shape(
        lambda x: jm.CNN((2, 3, 4), **options, rngs=nnx.Rngs(0)).features(x),
        np.zeros((2, 16, 12, 3), np.uint8),
    )
    assert {k: v.shape for k, v in feats.items()} == {
        "input": (2, 16, 12, 3),
        "conv_0": (2, 8, 6, 2),
        "conv_1": (2, 4, 3, 3),
        "conv_2": (2, 2, 1, 4),
        "dense_0": (2, 5),
        "penultimate": (2, 5),
        "logits": (2, 7),
    }
    assert set(feats) == set(cnn.layer_names)
    assert cnn.hyperparameters() == {
        "channels": [2, 3, 4],
        "dense": [5],
        "kernel_size": 3,
        "input_shape": [16, 12, 3],
        "n_classes": 7,
        "dropout": 0.0,
        "batch_norm": False,
    }
    rebuilt = nnx.eval_shape(lambda: jm.CNN(**cnn.hyperparameters(), rngs=nnx.Rngs(0)))
    assert nnx.graphdef(rebuilt) == nnx.graphdef(cnn)


def test_train_mode_uses_dropout_and_batch_statistics():
    model = make("mlp", dict(hidden=(16,), batch_norm=True, dropout=0.5))
    x = images_for(model, 8)
    with pytest.raises(ValueError, match="key"):
        model(x, train=True)
    key = jax.random.key(0)
    eval_out = np.asarray(model.features(x)["dense_0"])
    train_a = np.asarray(model.features(x, train=True, key=key)["dense_0"])
    train_b = np.asarray(model.features(x, train=True, key=key)["dense_0"])
    np.testing.assert_array_equal(train_a, train_b)  # the key fixes the mask
    assert (train_a == 0).mean() > 0.3  # about half dropped (ReLU zeros add to it)
    assert not np.allclose(train_a, eval_out)
    # Without dropout, train mode normalises with this batch's statistics: mean ~0 before ReLU.
    bn = make("mlp", dict(hidden=(16,), batch_norm=True))
    h = bn.blocks[0].linear(jm.preprocess(x).reshape(len(x), -1))
    normed = bn.blocks[0].norm(h, use_running_average=False)
    np.testing.assert_allclose(
        np.asarray(normed).mean(0), np.asarray(bn.blocks[0].norm.bias[...]), atol=1e-5
    )


def test_activations_reuse_one_compiled_program():
    model = make("mlp", dict(hidden=(12, 7)))
    jm.activations(model, images_for(model, 10), "dense_1", batch_size=16)
    size = _capture.batch_function.cache_info().currsize
    for n in (3, 16, 40):
        out = jm.activations(model, images_for(model, n), "dense_1", batch_size=16)
        assert out.shape == (n, 7)
    assert _capture.batch_function.cache_info().currsize == size


def test_activation_errors():
    model = nnx.eval_shape(lambda: jm.MLP((4,), rngs=nnx.Rngs(0)))  # errors come before compute
    x = np.zeros((3, 28, 28), np.uint8)
    with pytest.raises(ValueError, match="valid layers: input, dense_0, penultimate, logits"):
        jm.activations(model, x, "conv_0")
    with pytest.raises(ValueError, match="unknown layer 'nope'"):
        jm.activations(model, x, ["dense_0", "nope"])
    with pytest.raises(ValueError, match=r"images must have shape \[n, 28, 28\]"):
        jm.activations(model, np.zeros((3, 28, 27), np.uint8))
    with pytest.raises(ValueError, match="batch_size"):
        jm.activations(model, x, batch_size=0)
    with pytest.raises(TypeError, match="MLP or CNN"):
        jm.activations(nnx.Linear(2, 3, rngs=nnx.Rngs(0)), x)
    with pytest.raises(ValueError, match="images must have shape"):
        model(np.zeros((3, 28, 27), np.uint8))


@pytest.mark.parametrize(
    "make_model, match",
    [
        (lambda r: jm.MLP((), rngs=r), "hidden needs at least 1"),
        (lambda r: jm.MLP((8, 0), rngs=r), r"hidden\[1\] must be >= 1"),
        (lambda r: jm.MLP((8,), dropout=1.0, rngs=r), r"dropout must be in \[0, 1\)"),
        (lambda r: jm.MLP((8,), input_shape=(784,), rngs=r), "input_shape needs at least 2"),
        (lambda r: jm.CNN((4,), kernel_size=4, rngs=r), "odd"),
        (lambda r: jm.CNN((2, 2, 2), input_shape=(6, 6), rngs=r), "too small"),
        (lambda r: jm.CNN((), rngs=r), "channels needs at least 1"),
        (lambda r: jm.CNN((2.5,), rngs=r), "must be an int"),
    ],
)
def test_model_option_errors(make_model, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make_model(nnx.Rngs(0))
