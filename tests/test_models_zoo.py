"""Zoo training on embedded MNIST: accuracy, vmap == one by one, determinism, checkpoints."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

import jaxrsa.models as jm
from jaxrsa.data import load_mnist
from jaxrsa.models import _checkpoint, _train

N_TRAIN, N_TEST = 2000, 500  # 31 steps of 64 per epoch
COMMON = dict(key=0, batch_size=64, learning_rate=3e-3)
# Dropout and batch norm on, so that every test covers their randomness and state.
MLP = dict(hidden=(32, 16), dropout=0.2, batch_norm=True)
CNN = dict(channels=(4,), dense=16)
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def data():
    x, y = load_mnist("train", source="embedded")
    xt, yt = load_mnist("test", source="embedded")
    return (x[:N_TRAIN], y[:N_TRAIN]), (xt[:N_TEST], yt[:N_TEST])


@pytest.fixture(scope="module")
def mlp_zoo(data):
    return jm.train_zoo("mlp", 3, 2, *data, **COMMON, **MLP)


@pytest.fixture(scope="module")
def cnn_zoo(data):
    return jm.train_zoo("cnn", 3, 2, *data, **COMMON, **CNN)


def leaves(zoo):
    return [np.asarray(a) for a in jax.tree.leaves(zoo.states)]


def assert_same_zoo(a, b, rtol=0.0, atol=0.0):
    """Same config, and states and metrics equal (bit for bit by default)."""
    assert a.config == b.config
    assert a.graphdef == b.graphdef
    assert jax.tree.structure(a.states) == jax.tree.structure(b.states)
    for x, y in zip(leaves(a), leaves(b), strict=True):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)
    assert a.metrics.keys() == b.metrics.keys()
    for k in a.metrics:
        np.testing.assert_allclose(a.metrics[k], b.metrics[k], rtol=max(rtol, 1e-12), err_msg=k)


# ------------------------------------------------------------------ training


@pytest.mark.parametrize("zoo_name", ["mlp_zoo", "cnn_zoo"])
def test_zoo_learns_mnist(zoo_name, data, request):
    zoo = request.getfixturevalue(zoo_name)
    assert zoo.n_models == 3 and zoo.n_epochs == 2
    assert set(zoo.metrics) == {"train_loss", "train_accuracy", "test_loss", "test_accuracy"}
    assert all(m.shape == (3, 3) for m in zoo.metrics.values())
    acc = zoo.metrics["test_accuracy"]
    assert (acc[0] < 0.3).all()  # chance level at initialisation
    assert (acc[-1] > 0.7).all()  # clearly learnt after two short epochs
    assert (zoo.metrics["train_loss"][-1] < zoo.metrics["train_loss"][0]).all()
    # The metrics are the evaluation-mode accuracy on the whole training set: recompute them.
    (x, y), _ = data
    for i in range(zoo.n_models):
        logits = np.asarray(jm.activations(zoo.model(i), x, "logits"))
        assert np.mean(logits.argmax(1) == y) == pytest.approx(zoo.metrics["train_accuracy"][-1, i])


@pytest.mark.parametrize("family, kwargs", [("mlp", MLP), ("cnn", CNN)])
def test_vmapped_zoo_equals_models_trained_one_by_one(family, kwargs, data, request):
    """vmap over models == a loop over models == each model trained alone with its key."""
    vmapped = request.getfixturevalue(f"{family}_zoo")
    looped = jm.train_zoo(family, 3, 2, *data, **{**COMMON, "strategy": "loop"}, **kwargs)
    # Batched and unbatched matrix products round differently; Adam amplifies it a little.
    assert_same_zoo(vmapped, looped, rtol=1e-4, atol=1e-5)
    keys = jax.random.split(jax.random.key(0), 3)
    alone = jm.train_zoo(
        family, 1, 2, *data, **{**COMMON, "key": keys[2:3], "strategy": "loop"}, **kwargs
    )
    for a, b in zip(leaves(looped), leaves(alone), strict=True):
        np.testing.assert_array_equal(a[:, 2:3], b)


def test_training_is_deterministic_and_seeds_differ(data, mlp_zoo):
    jitted = (_train.init_state_jit, _train.train_epoch, _train.evaluate)
    sizes = [f._cache_size() for f in jitted]
    again = jm.train_zoo("mlp", 3, 2, *data, **COMMON, **MLP)
    assert [f._cache_size() for f in jitted] == sizes  # same shapes: nothing recompiled
    assert_same_zoo(mlp_zoo, again)
    other = jm.train_zoo("mlp", 3, 2, *data, **{**COMMON, "key": 1}, **MLP)
    for a, b in zip(leaves(mlp_zoo), leaves(other), strict=True):
        assert not np.array_equal(a, b)
    for leaf in leaves(mlp_zoo):
        if leaf.std() > 0:  # not the zero-initialised biases: models differ from each other
            assert not np.array_equal(leaf[:, 0], leaf[:, 1])


def test_progress_bar(data, capsys):
    jm.train_zoo("mlp", 3, 1, *data, **COMMON, progress=True, **MLP)
    err = capsys.readouterr().err
    assert "mlp zoo" in err and "1/1" in err and "test_accuracy" in err


def test_key_forms(data):
    seed = jm.train_zoo("mlp", 3, 0, *data, **COMMON, **MLP)
    typed = jm.train_zoo("mlp", 3, 0, *data, **{**COMMON, "key": jax.random.key(0)}, **MLP)
    raw = jm.train_zoo("mlp", 3, 0, *data, **{**COMMON, "key": jax.random.PRNGKey(0)}, **MLP)
    keys = jax.random.split(jax.random.key(0), 3)
    stacked = jm.train_zoo("mlp", 3, 0, *data, **{**COMMON, "key": keys}, **MLP)
    for zoo in (typed, raw, stacked):
        assert_same_zoo(seed, zoo)
    assert seed.config.key_data == jax.random.key_data(keys).tolist()
    with pytest.raises(ValueError, match="2 keys"):
        jm.train_zoo("mlp", 2, 0, *data, **{**COMMON, "key": keys}, **MLP)
    with pytest.raises(TypeError, match="key must be"):
        jm.train_zoo("mlp", 3, 0, *data, **{**COMMON, "key": 0.5}, **MLP)


@pytest.mark.parametrize(
    "change, error, match",
    [
        (dict(family="rnn"), ValueError, "family must be one of"),
        (dict(n_models=0), ValueError, "n_models must be >= 1"),
        (dict(epochs=-1), ValueError, "epochs must be an int >= 0"),
        (dict(batch_size=5000), ValueError, "batch_size 5000 exceeds"),
        (dict(learning_rate=0.0), ValueError, "learning_rate must be a finite positive number"),
        (dict(strategy="pmap"), ValueError, "strategy must be one of"),
        (dict(n_classes=5), ValueError, r"labels must be in \[0, 5\)"),
        (dict(test_data=(np.zeros((4, 28, 27), np.uint8), np.zeros(4, int))), ValueError, "27"),
        (dict(train_data=(np.zeros((4, 28, 28)), np.zeros(3, int))), ValueError, "labels"),
        (dict(train_data=np.zeros((4, 28, 28))), TypeError, "pair"),
        (dict(hidden=(8,), widths=3), TypeError, "widths"),
    ],
)
def test_train_zoo_errors(data, change, error, match):
    args = dict(family="mlp", n_models=3, epochs=1, train_data=data[0], test_data=data[1])
    args.update(COMMON, **MLP)
    args.update(change)
    with pytest.raises(error, match=match):
        jm.train_zoo(**args)


# ------------------------------------------------------------------ activations of a zoo


def test_zoo_activations(mlp_zoo, data):
    x = data[1][0][:37]
    out = jm.zoo_activations(mlp_zoo, x, ["dense_0", "logits"], epoch=[0, -1], batch_size=16)
    assert out["dense_0"].shape == (2, 3, 37, 32) and out["logits"].shape == (2, 3, 37, 10)
    last = jm.zoo_activations(mlp_zoo, x, batch_size=16)  # penultimate, last epoch
    assert last.shape == (3, 37, 16)
    np.testing.assert_array_equal(
        np.asarray(last), np.asarray(jm.zoo_activations(mlp_zoo, x, epoch=2, batch_size=16))
    )
    for e_index, epoch in enumerate([0, 2]):
        for i in range(3):
            single = jm.activations(mlp_zoo.model(i, epoch), x, "logits", batch_size=16)
            np.testing.assert_allclose(
                np.asarray(out["logits"][e_index, i]), np.asarray(single), rtol=1e-5, atol=1e-5
            )
    with pytest.raises(ValueError, match=r"epoch must be in \[-3, 3\)"):
        jm.zoo_activations(mlp_zoo, x, epoch=3)
    with pytest.raises(ValueError, match="valid layers: input, dense_0, dense_1, penultimate"):
        jm.zoo_activations(mlp_zoo, x, "conv_0")


# ------------------------------------------------------------------ checkpoints


def test_checkpoints_every_epoch_and_load_zoo(tmp_path, data, mlp_zoo):
    zoo = jm.train_zoo("mlp", 3, 2, *data, **COMMON, ckpt_dir=tmp_path, **MLP)
    assert_same_zoo(zoo, mlp_zoo)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"epoch_000{e}.{ext}" for e in range(3) for ext in ("json", "npz")]
    meta = json.loads((tmp_path / "epoch_0002.json").read_text())
    assert meta["epoch"] == 2 and meta["config"]["hyperparameters"]["hidden"] == [32, 16]
    assert meta["metrics"]["test_accuracy"] == zoo.metrics["test_accuracy"][2].tolist()
    with np.load(tmp_path / "epoch_0001.npz") as f:
        assert any(k.startswith("['opt']") for k in f.files)  # optimizer state kept too
        kernel = f["['model']['blocks'][0]['linear']['kernel'].value"]
    np.testing.assert_array_equal(
        kernel, np.asarray(zoo.states["blocks"][0]["linear"]["kernel"][1])
    )
    assert_same_zoo(jm.load_zoo(tmp_path), zoo)
    # Calling again finds every epoch done: it loads instead of training.
    trained = []
    again = jm.train_zoo(
        "mlp",
        3,
        2,
        *data,
        **COMMON,
        ckpt_dir=tmp_path,
        callback=lambda e, m: trained.append(e),
        **MLP,
    )
    assert trained == [] and len(list(tmp_path.iterdir())) == 6
    assert_same_zoo(again, zoo)


def test_resume_after_lost_epoch_and_extend(tmp_path, data, mlp_zoo):
    """A crash between the two files of epoch 2 (the sidecar missing) and more epochs later."""
    jm.train_zoo("mlp", 3, 1, *data, **COMMON, ckpt_dir=tmp_path, **MLP)
    (tmp_path / ".epoch_0002.npz.tmp-12345").write_bytes(b"partial")  # a killed writer's file
    (tmp_path / "epoch_0002.npz").write_bytes(b"orphan")  # written, then killed before .json
    resumed = jm.train_zoo("mlp", 3, 2, *data, **COMMON, ckpt_dir=tmp_path, **MLP)
    assert_same_zoo(resumed, mlp_zoo)
    assert not list(tmp_path.glob(".*tmp*"))
    assert_same_zoo(jm.load_zoo(tmp_path), mlp_zoo)
    shorter = jm.train_zoo("mlp", 3, 1, *data, **COMMON, ckpt_dir=tmp_path, **MLP)
    assert shorter.n_epochs == 1
    np.testing.assert_array_equal(leaves(shorter)[0], leaves(mlp_zoo)[0][:2])


def test_other_run_in_checkpoint_dir_is_refused(tmp_path, data):
    jm.train_zoo("mlp", 3, 0, *data, **COMMON, ckpt_dir=tmp_path, **MLP)
    with pytest.raises(jm.CheckpointError, match="differs in: learning_rate"):
        jm.train_zoo(
            "mlp", 3, 1, *data, **{**COMMON, "learning_rate": 1e-3}, ckpt_dir=tmp_path, **MLP
        )
    with pytest.raises(jm.CheckpointError, match="differs in: data"):
        jm.train_zoo("mlp", 3, 1, data[0], None, **COMMON, ckpt_dir=tmp_path, **MLP)


@pytest.mark.parametrize(
    "damage, bad_file, match",
    [
        (lambda d: _flip_byte(d / "epoch_0001.npz"), "epoch_0001.npz", "SHA-256 differs"),
        (lambda d: (d / "epoch_0001.npz").unlink(), "epoch_0001.npz", "missing"),
        (lambda d: _truncate(d / "epoch_0001.json"), "epoch_0001.json", "not valid JSON"),
        (lambda d: (d / "epoch_0000.json").unlink(), "", "do not run contiguously"),
        (
            lambda d: _rewrite_json(d / "epoch_0001.json", format="x"),
            "epoch_0001.json",
            "not a jaxrsa",
        ),
    ],
)
def test_corrupt_checkpoint_names_the_file(tmp_path, data, damage, bad_file, match):
    jm.train_zoo("mlp", 3, 1, *data, **COMMON, ckpt_dir=tmp_path, **MLP)
    damage(tmp_path)
    for load in (
        lambda: jm.load_zoo(tmp_path),
        lambda: jm.train_zoo("mlp", 3, 1, *data, **COMMON, ckpt_dir=tmp_path, **MLP),
    ):
        with pytest.raises(jm.CheckpointError, match=match) as info:
            load()
        assert str(tmp_path / bad_file) in str(info.value)


def test_load_zoo_without_checkpoints(tmp_path):
    with pytest.raises(jm.CheckpointError, match="no zoo checkpoint"):
        jm.load_zoo(tmp_path)


def _flip_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _truncate(path):
    path.write_bytes(path.read_bytes()[:40])


def _rewrite_json(path, **fields):
    path.write_text(json.dumps({**json.loads(path.read_text()), **fields}))


# A training run in a subprocess; the callback pauses after each epoch's checkpoint so that
# the test can kill it between epochs. x64 as in conftest.py, so that the run here and the
# runs there compute the same thing (optax's Adam computes its bias correction in float64
# under x64, which changes the last bits).
SCRIPT = f"""
import sys, time
import jax
jax.config.update("jax_enable_x64", True)
jax.config.update("jax_compilation_cache_dir", sys.argv[3])  # the second run compiles nothing
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
from jaxrsa.data import load_mnist
from jaxrsa.models import train_zoo
x, y = load_mnist("train", source="embedded")
xt, yt = load_mnist("test", source="embedded")
train_zoo(
    "mlp", 3, 3, (x[:{N_TRAIN}], y[:{N_TRAIN}]), (xt[:{N_TEST}], yt[:{N_TEST}]),
    ckpt_dir=sys.argv[1], callback=lambda epoch, metrics: time.sleep(float(sys.argv[2])),
    **{COMMON!r}, **{MLP!r},
)
"""


def _run_script(ckpt_dir, pause, cache_dir, log):
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-c", SCRIPT, str(ckpt_dir), str(pause), str(cache_dir)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@pytest.mark.slow
def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path, data):
    ckpt_dir, cache_dir, log = tmp_path / "ckpt", tmp_path / "cache", tmp_path / "log"
    proc = _run_script(ckpt_dir, 60, cache_dir, log)
    try:
        deadline = time.monotonic() + 120
        while not (ckpt_dir / "epoch_0001.json").exists():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)  # during the pause after epoch 1's checkpoint
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert _checkpoint.complete_epochs(ckpt_dir) == [0, 1]
    resumed = _run_script(ckpt_dir, 0, cache_dir, log)
    assert resumed.wait(timeout=300) == 0, log.read_text()
    assert _checkpoint.complete_epochs(ckpt_dir) == [0, 1, 2, 3]
    uninterrupted = jm.train_zoo("mlp", 3, 3, *data, **COMMON, **MLP)
    assert_same_zoo(jm.load_zoo(ckpt_dir), uninterrupted)
