"""jaxrsa.models.capture: any NNX or Linen model or function, against float64 NumPy forwards."""

import re
from pathlib import Path

import flax.linen as linen
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import jaxrsa.models as jm
from jaxrsa.models import _capture
from tests.test_models_arch import BN_EPS, assert_close, conv_ref, features_ref, make, randomize

N, H, W, C = 20, 5, 4, 2  # examples, height, width, channels of the test inputs


class UserNet(nnx.Module):
    """A user's NNX model: conv, batch norm (training mode by default), dropout, a sown map,
    a method of its own, a head called twice and a tuple output."""

    def __init__(self, dtype=jnp.float32, *, rngs):
        self.conv = nnx.Conv(C, 3, (3, 3), param_dtype=dtype, rngs=rngs)
        self.norm = nnx.BatchNorm(3, param_dtype=dtype, rngs=rngs)
        self.drop = nnx.Dropout(0.5)  # no rngs: a training-mode call would fail
        self.dense = nnx.Linear(H * W * 3, 6, param_dtype=dtype, rngs=rngs)
        self.head = nnx.Linear(6, 2, param_dtype=dtype, rngs=rngs)

    def embed(self, x):
        maps = nnx.relu(self.norm(self.conv(x)))
        self.sow(nnx.Intermediate, "maps", maps)
        return self.drop(maps).reshape(x.shape[0], -1)

    def __call__(self, x):
        z = nnx.relu(self.dense(self.embed(x)))
        return self.head(z), self.head(2 * z)


def user_net(dtype=jnp.float32, seed=0):
    return randomize(nnx.eval_shape(lambda: UserNet(dtype, rngs=nnx.Rngs(0))), seed)


def user_net_ref(model, x):
    """Every recorded output of `UserNet` in evaluation mode, float64 NumPy."""
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), nnx.to_pure_dict(nnx.state(model)))
    conv = conv_ref(x, p["conv"]["kernel"], p["conv"]["bias"])
    s = p["norm"]
    norm = (conv - s["mean"]) / np.sqrt(s["var"] + BN_EPS) * s["scale"] + s["bias"]
    maps = np.maximum(norm, 0)
    flat = maps.reshape(len(x), -1)
    dense = flat @ p["dense"]["kernel"] + p["dense"]["bias"]
    z = np.maximum(dense, 0)
    head = [h @ p["head"]["kernel"] + p["head"]["bias"] for h in (z, 2 * z)]
    return {
        "maps": maps,
        "__call__.0": head[0],
        "__call__.1": head[1],
        "conv": conv,
        "dense": dense,
        "drop": maps,
        "embed": flat,
        "head": head[0],
        "head:1": head[1],
        "norm": norm,
    }


def inputs(dtype=np.float32, n=N, seed=0):
    return np.random.default_rng(seed).normal(size=(n, H, W, C)).astype(dtype)


@pytest.mark.parametrize(
    "dtype, rel, batch_size", [(jnp.float32, 2e-6, 7), (jnp.float64, 1e-12, 64)]
)
def test_nnx_model_every_output_matches_reference(dtype, rel, batch_size):
    """Sown values, then every submodule's method outputs (Flax's order), in evaluation mode
    (running statistics, no dropout: the reference has neither), in the model's dtype, for a
    batch size that does not divide n and one larger than n."""
    model = user_net(dtype)
    x = inputs(dtype)
    ref = user_net_ref(model, x)
    got = jm.capture(model, x, batch_size=batch_size)
    assert list(got)[0] == "maps" and set(got) == set(ref)
    for name, value in got.items():
        assert value.dtype == dtype and value.shape == (N, ref[name][0].size), name
        assert_close(value, ref[name].reshape(N, -1), rel, name)


def test_capture_leaves_the_model_as_it_was():
    """Evaluation mode runs on a copy: the model stays in training mode, its batch statistics
    and its state's structure are unchanged, nothing is sown into it."""
    model = user_net()
    before = jax.tree.map(np.asarray, nnx.to_pure_dict(nnx.state(model)))
    jm.capture(model, inputs(), ["dense"])
    after = jax.tree.map(np.asarray, nnx.to_pure_dict(nnx.state(model)))
    jax.tree.map(np.testing.assert_array_equal, before, after)
    assert not model.drop.deterministic and not model.norm.use_running_average


@pytest.mark.parametrize("pool, reduce", [("mean", np.mean), ("max", np.max)])
def test_pool_reduces_maps_over_space(pool, reduce):
    model = user_net()
    x = inputs()
    ref = user_net_ref(model, x)
    got = jm.capture(model, x, ["maps", "dense"], pool=pool)
    assert_close(got["maps"], reduce(ref["maps"], axis=(1, 2)), 2e-6)  # [n, c]
    assert_close(got["dense"], ref["dense"], 2e-6)  # [n, d] outputs are left alone


class LinenNet(linen.Module):
    """A user's Linen model with a training flag, like Flax's examples."""

    @linen.compact
    def __call__(self, x, train: bool = True):
        h = linen.Conv(3, (3, 3))(x)
        h = linen.BatchNorm(use_running_average=not train)(h)
        h = linen.relu(h)
        self.sow("intermediates", "maps", h)
        h = linen.Dropout(0.5, deterministic=not train)(h)
        return linen.Dense(2)(h.reshape(h.shape[0], -1))


def linen_variables(seed=0):
    """Random parameters and batch statistics (positive variances) of `LinenNet`."""
    shapes = jax.eval_shape(
        lambda: LinenNet().init(jax.random.key(0), jnp.zeros((1, H, W, C)), train=False)
    )
    rng = np.random.default_rng(seed)
    leaves, treedef = jax.tree_util.tree_flatten_with_path(shapes)
    new = []
    for path, leaf in leaves:
        positive = jax.tree_util.keystr(path).endswith("['var']")
        value = rng.uniform(0.5, 2.0, leaf.shape) if positive else 0.5 * rng.normal(size=leaf.shape)
        new.append(jnp.asarray(value, leaf.dtype))
    return jax.tree_util.tree_unflatten(treedef, new)


def linen_ref(variables, x):
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), variables)
    params, stats = p["params"], p["batch_stats"]["BatchNorm_0"]
    conv = conv_ref(x, params["Conv_0"]["kernel"], params["Conv_0"]["bias"])
    bn = params["BatchNorm_0"]
    norm = (conv - stats["mean"]) / np.sqrt(stats["var"] + BN_EPS) * bn["scale"] + bn["bias"]
    maps = np.maximum(norm, 0)
    out = maps.reshape(len(x), -1) @ params["Dense_0"]["kernel"] + params["Dense_0"]["bias"]
    return {
        "Conv_0": conv,
        "BatchNorm_0": norm,
        "maps": maps,
        "Dropout_0": maps,
        "Dense_0": out,
        "__call__": out,
    }


def test_linen_model_every_output_matches_reference_in_call_order():
    variables = linen_variables()
    x = inputs()
    ref = linen_ref(variables, x)
    got = jm.capture(LinenNet(), x, variables=variables, batch_size=8, call_kwargs={"train": False})
    assert list(got) == list(ref)
    for name, value in got.items():
        assert value.dtype == jnp.float32
        assert_close(value, ref[name].reshape(N, -1), 2e-6, name)


def test_function_returning_a_dict():
    """Its keys, in its order, each flattened, in the function's dtype; NumPy inputs too."""
    x = inputs(np.float64)
    got = jm.capture(lambda x: {"z": x**2, "a": x.sum(axis=(1, 2, 3))}, x, batch_size=6)
    assert list(got) == ["z", "a"]
    assert got["z"].dtype == jnp.float64 and got["a"].shape == (N, 1)
    np.testing.assert_allclose(np.asarray(got["z"]), (x**2).reshape(N, -1), rtol=1e-15)
    np.testing.assert_allclose(np.asarray(got["a"])[:, 0], x.sum(axis=(1, 2, 3)), rtol=1e-13)


def test_function_sees_the_values_it_closes_over_now():
    """A function is traced on each call: a changed closed-over value is not a stale constant."""
    scale = {"value": 2.0}
    x = inputs(np.float64, n=5)

    def forward(x):
        return {"scaled": scale["value"] * x}

    first = jm.capture(forward, x)["scaled"]
    scale["value"] = 3.0
    second = jm.capture(forward, x)["scaled"]
    np.testing.assert_allclose(np.asarray(second), 1.5 * np.asarray(first), rtol=1e-15)


class LinenStack(linen.Module):
    """A Linen module with a list field: unhashable, so cached by identity."""

    widths: list

    @linen.compact
    def __call__(self, x):
        for width in self.widths:
            x = linen.Dense(width)(x)
        return x


def test_linen_module_with_unhashable_fields():
    model = LinenStack([3, 2])
    x = inputs(n=6).reshape(6, -1)
    variables = model.init(jax.random.key(0), x[:1])
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), variables["params"])
    h0 = x @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"]
    h1 = h0 @ p["Dense_1"]["kernel"] + p["Dense_1"]["bias"]
    for _ in range(2):  # the second call finds the first one's kernel
        got = jm.capture(model, x, variables=variables)
        assert list(got) == ["Dense_0", "Dense_1", "__call__"]
        assert_close(got["Dense_0"], h0, 2e-6)
        assert_close(got["__call__"], h1, 2e-6)


def test_one_compiled_program_for_any_number_of_examples():
    """Any n, and another model of the same structure, reuse one kernel compiled once."""
    model = user_net()
    jm.capture(model, inputs(n=10), ["dense"], batch_size=8)
    kernel = _capture.batch_function(
        _capture.NNXForward(nnx.graphdef(model), ()), ("dense",), None, False
    )
    sizes = _capture.batch_function.cache_info().currsize, kernel._cache_size()
    assert sizes[1] >= 1  # the kernel that ran
    for n in (3, 8, 17):
        assert jm.capture(user_net(), inputs(n=n), "dense", batch_size=8)["dense"].shape == (n, 6)
    assert (_capture.batch_function.cache_info().currsize, kernel._cache_size()) == sizes


def test_jaxrsa_models_are_captured_like_any_nnx_model():
    """The named layers the models sow, and their submodules' outputs, match the reference."""
    options = dict(channels=(2, 3), dense=(5,), batch_norm=True, dropout=0.3, input_shape=(8, 6))
    model = make("cnn", options)
    x = np.random.default_rng(0).integers(0, 256, (12, *model.input_shape), dtype=np.uint8)
    ref = features_ref(model, x)
    got = jm.capture(model, x, batch_size=5)
    assert list(got)[: len(ref)] == sorted(ref)  # sown first, in Flax's order
    pairs = {"conv_0": "convs.0", "conv_1": "convs.1", "dense_0": "blocks.0", "logits": "head"}
    for name in ref:
        assert_close(got[name], ref[name].reshape(len(x), -1), 1e-5, name)
    for name, path in pairs.items():
        np.testing.assert_array_equal(np.asarray(got[path]), np.asarray(got[name]))


def test_training_never_sows():
    """Outside `nnx.capture` the models record nothing: a training step's forward (as in
    `train_zoo`: merged in a trace, state read back) leaves the state's structure unchanged and
    emits no Flax deprecation warning (warnings are errors); a user's own capture sees the
    named layers."""
    model = make("mlp", dict(hidden=(3,), batch_norm=True, dropout=0.5, input_shape=(4, 4)))
    graphdef, state = nnx.split(model)

    def run(state, x):
        trained = nnx.merge(graphdef, state)
        trained(x, train=True, key=jax.random.key(0))
        _, sown = nnx.capture(nnx.merge(graphdef, state), nnx.Intermediate)(x)
        return nnx.state(trained), sown

    after, sown = jax.jit(run)(state, np.zeros((4, 4, 4), np.uint8))
    assert jax.tree.structure(after) == jax.tree.structure(state)
    assert set(sown) == set(model.layer_names)


def test_bad_input():
    model = user_net()
    x = inputs(n=3)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "UserNet (flax.nnx.Module) has no layer 'nope'; valid layers: maps, __call__.0"
        ),
    ):
        jm.capture(model, x, ["dense", "nope"])
    with pytest.raises(
        ValueError, match=r"UserNet \(flax.nnx.Module\) cannot run on x of shape \[3, 5, 4, 3\]"
    ):
        jm.capture(model, np.zeros((3, H, W, 3), np.float32))
    with pytest.raises(TypeError, match="variables= is for Linen modules"):
        jm.capture(model, x, variables={"params": {}})
    with pytest.raises(
        TypeError,
        match=r"LinenNet \(flax.linen.Module\): a Linen module holds no parameters; pass its",
    ):
        jm.capture(LinenNet(), x)
    variables = linen_variables()
    with pytest.raises(
        ValueError, match=r"LinenNet .* cannot run .*training mode.*call_kwargs=\{'train': False\}"
    ):
        jm.capture(LinenNet(), x, variables=variables)
    with pytest.raises(ValueError, match=r"variables are collections"):
        jm.capture(LinenNet(), x, variables=variables["params"], call_kwargs={"train": False})
    with pytest.raises(ValueError, match=r"LinenNet .* cannot run on x of shape \[3, 5, 4, 3\]"):
        jm.capture(
            LinenNet(), np.zeros((3, H, W, 3)), variables=variables, call_kwargs={"train": False}
        )
    with pytest.raises(TypeError, match="function forward returned tuple, not a dict"):

        def forward(x):
            return (x,)

        jm.capture(forward, x)
    with pytest.raises(
        ValueError, match=r"layer 'total' must be an array with one row per example"
    ):
        jm.capture(lambda x: {"total": x.sum()}, x)
    with pytest.raises(TypeError, match="got the class UserNet"):
        jm.capture(UserNet, x)
    with pytest.raises(
        TypeError,
        match=r"a flax.linen.Module \(with variables=\) or a function x -> dict .*; got ndarray",
    ):
        jm.capture(np.eye(3), x)
    with pytest.raises(ValueError, match="n >= 1 examples"):
        jm.capture(model, x[:0])
    with pytest.raises(ValueError, match="unknown pool 'avg'"):
        jm.capture(model, x, pool="avg")
    with pytest.raises(ValueError, match="batch_size"):
        jm.capture(model, x, batch_size=0)
    with pytest.raises(TypeError, match="call_kwargs values must be hashable"):
        jm.capture(model, x, call_kwargs={"train": [False]})


def test_readme_capture_section_runs():
    """The README's "Capture from your own model" lines run as written."""
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme.split("## Capture from your own model", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert blocks
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    shapes = {name: a.shape for name, a in namespace["acts"].items()}
    assert shapes == {"__call__": (256, 10), "conv": (256, 28 * 28 * 8), "head": (256, 10)}
    assert namespace["pooled"]["conv"].shape == (256, 8)
    assert list(namespace["linen_acts"]) == ["Conv_0", "Dense_0", "__call__"]
