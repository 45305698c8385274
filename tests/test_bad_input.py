"""The bad-input suite (issue 14): each class of mistake across every measure, function and command.

Classes, one section each:

1. data loss: a write that fails keeps the previous file and leaves no temporary, for every
   writer (figures, IDX files, checkpoints, `compare --out`, embed's coordinates, the demo's
   results); stale temporaries of a dead writer are removed by the next write;
2. CLI errors: one line naming the argument or the file, exit code 2, for every command;
3. raw JAX errors become clear errors (PRNG keys, devices, Procrustes batch shapes);
4. booleans must be booleans, for every bool option;
5. one exception policy: a non-integer is a TypeError, a too-small integer a ValueError,
   for every integer option;
6. dtypes: every real floating dtype is accepted (bfloat16, float16) and computes as its
   float64 value would, for every measure; complex is refused;
7. bad activations name the model (non-finite entries, a different number of examples), for
   every measure;
8. MDS at any magnitude and degenerate starts (the details are in tests/test_mds.py);
9. wrong reasons: a float64 value that does not fit float32 says so;
10. checkpoints: a sidecar that lost a metric is refused by name.
"""

import doctest
import json
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import jaxrsa
from jaxrsa import _files, _inputs, cli, measures, plot
from jaxrsa.data import write_idx
from jaxrsa.models import MLP, CheckpointError, _checkpoint, train_zoo

NAMES = measures.names()
D = np.array(
    [[0.0, 3.0, 4.0, 5.0], [3.0, 0.0, 5.0, 4.0], [4.0, 5.0, 0.0, 3.0], [5.0, 4.0, 3.0, 0.0]]
)


@pytest.fixture
def xy(rng):
    x = rng.normal(size=(20, 5))
    return x, np.tanh(x @ rng.normal(size=(5, 4))) + 0.1 * rng.normal(size=(20, 4))


# ------------------------------------------------------------------- 1. data loss


def _acts(path):
    rng = np.random.default_rng(1)
    np.savez(
        path, a=rng.normal(size=(12, 3)), b=rng.normal(size=(12, 4)), c=rng.normal(size=(12, 2))
    )
    return path


def _sim(path):
    np.savez(path, similarity=np.array([[1, 0.5, 0.2], [0.5, 1, 0.4], [0.2, 0.4, 1]]))
    return path


WRITERS = {
    "figure": lambda d: plot.save(plot.model_map(np.eye(3, 2), list("abb")), d / "target.png"),
    "idx": lambda d: write_idx(d / "target", np.arange(6, dtype=np.uint8)),
    "checkpoint": lambda d: _checkpoint.save(d, 0, {"w": np.ones(3)}, {"metrics": {}}),
    "compare": lambda d: cli.main(
        ["compare", str(_acts(d / "a.npz")), "--out", str(d / "target.npz")]
    ),
    "embed": lambda d: cli.main(
        [
            "embed",
            str(_sim(d / "s.npz")),
            "--out",
            str(d / "m.png"),
            "--coords",
            str(d / "target.npz"),
        ]
    ),
    "text": lambda d: _files.write_text(d / "target", "summary"),  # the demo's summary.json
}
TARGETS = {"checkpoint": "epoch_0000.npz", "compare": "target.npz", "embed": "target.npz"}


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_a_failed_write_keeps_the_previous_file(tmp_path, monkeypatch, writer):
    """A writer killed before its data reached the disk (here: fsync fails) leaves the old
    file as it was and no temporary: every writer goes through the atomic writer."""
    target = tmp_path / TARGETS.get(writer, "target.png" if writer == "figure" else "target")
    target.write_bytes(b"the previous good file")

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_files.os, "fsync", disk_full)
    try:
        code = WRITERS[writer](tmp_path)
    except OSError:
        code = 2
    assert code == 2
    assert target.read_bytes() == b"the previous good file"
    assert not [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name]


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_the_next_write_removes_a_dead_writers_temporaries(tmp_path, writer):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    stale = [tmp_path / f".target.tmp-{dead}", tmp_path / f"trajectories.tmp-{dead}.png"]
    for p in stale:
        p.write_bytes(b"")
    WRITERS[writer](tmp_path)
    assert not any(p.exists() for p in stale)


# ------------------------------------------------------------------- 2. CLI errors


CLI_CASES = {
    "demo": [
        (["--seed", "1e23"], "argument --seed"),
        (["--seed", str(2**64)], "argument --seed"),
        (["--epochs", "two"], "argument --epochs"),
        (["--data", "{p}/nowhere"], "--data"),
        (["--out", "{p}/a.npz"], "--out"),  # an existing file is no folder
        (["--mlps", "1", "--cnns", "1"], "needs at least 3 models"),
    ],
    "compare": [
        (["{p}/missing.npz", "--out", "{p}/o.npz"], "missing.npz: no such file"),
        (["{p}/a.npz", "--out", "{p}"], "--out"),
        (["{p}/a.npz", "--out", "{p}/o"], "--out"),
        (["{p}/a.npz", "--out", "{p}/a.npz"], "is the input"),
        (["{p}/a.npz", "--out", "{p}/o.npz", "--memory-budget", "-5"], "--memory-budget"),
    ],
    "embed": [
        (["{p}/missing.npz", "--out", "{p}/m.png"], "missing.npz: no such file"),
        (["{p}/s.npz", "--out", "{p}/m.png", "--seed", "1e23"], "argument --seed"),
        (["{p}/s.npz", "--out", "{p}/m.png", "--group-pattern", "[a-"], "--group-pattern"),
        (["{p}/s.npz", "--out", "{p}/m.txt"], "--out"),
        (["{p}/s.npz", "--out", "{p}/s.png", "--coords", "{p}/s.npz"], "--coords"),
        (["{p}/a.npz", "--out", "{p}/m.png"], "a.npz: expected an array named"),
    ],
}


@pytest.mark.parametrize(
    "command, args, needle",
    [(c, a, n) for c, cases in CLI_CASES.items() for a, n in cases],
)
def test_cli_errors_are_one_line_naming_the_argument(tmp_path, capsys, command, args, needle):
    _acts(tmp_path / "a.npz")
    _sim(tmp_path / "s.npz")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    argv = [command, *(a.format(p=tmp_path) for a in args)]
    if command == "demo" and "--out" not in args:
        argv += ["--out", str(tmp_path / "demo")]
    try:
        code = cli.main(argv)
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"jaxrsa {command}") and needle in lines[0], lines[0]
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before


# ------------------------------------------------------------------- 3. raw JAX errors


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda r: jaxrsa.mds(D, key="0"), TypeError, "key must be a PRNG key"),
        (lambda r: jaxrsa.mds(D, key=jnp.ones(3)), TypeError, "key must be a PRNG key"),
        (lambda r: jaxrsa.similarity_matrix(r, devices="cpu"), TypeError, "devices must be"),
        (lambda r: jaxrsa.similarity_matrix(r, devices=["cpu"]), TypeError, r"devices\[0\]"),
        (lambda r: jaxrsa.similarity_matrix(r, devices=[]), ValueError, "at least one device"),
        (
            lambda r: jaxrsa.similarity_matrix(r, devices=[jax.devices()[0]] * 2),
            ValueError,
            "distinct devices",
        ),
        (
            lambda r: jaxrsa.procrustes_align(np.zeros((3, 4, 2)), np.zeros((2, 4, 2))),
            ValueError,
            "do not broadcast",
        ),
    ],
)
def test_bad_arguments_are_clear_errors_not_jax_ones(rng, call, error, match):
    reps = [rng.normal(size=(8, 3)) for _ in range(2)]
    with pytest.raises(error, match=match):
        call(reps)


def test_an_integer_seed_is_a_key():
    a = jaxrsa.mds(D, init="random", n_init=2, key=0)
    b = jaxrsa.mds(D, init="random", n_init=2, key=jax.random.key(0))
    np.testing.assert_array_equal(a.embedding, b.embedding)


# ------------------------------------------------------------------- 4. booleans

BOOL_OPTIONS = [
    (lambda v: jaxrsa.procrustes_align(D[:, :2], D[:, :2], scale=v), "scale"),
    (lambda v: jaxrsa.mds(D, metric=v), "metric"),
    (lambda v: jaxrsa.minibatch_cka([np.ones((2, 6, 3))], debiased=v), "debiased"),
    (lambda v: measures.RSA(diagonal=v), "diagonal"),
    (lambda v: measures.CCA(squared=v), "squared"),
    (lambda v: measures.SVCCA(squared=v), "squared"),
    (lambda v: measures.CKA(debiased=v), "debiased"),
    (lambda v: measures.ShapeMetric(center=v), "center"),
    (lambda v: measures.ShapeMetric(normalize=v), "normalize"),
    (lambda v: measures.PermutationMetric(center=v), "center"),
]


@pytest.mark.parametrize("make, name", BOOL_OPTIONS)
@pytest.mark.parametrize("value", ["no", 1, None])
def test_booleans_must_be_booleans(make, name, value):
    with pytest.raises(TypeError, match=name):
        make(value)


def test_every_bool_field_of_a_measure_is_listed():
    """The list above covers every bool option of the registered measures (by field name)."""
    import dataclasses

    fields = {
        f.name
        for m in map(measures.get, NAMES)
        for f in dataclasses.fields(m)
        if f.type in (bool, "bool")
    }
    assert fields <= {"diagonal", "squared", "debiased", "center", "normalize"}, fields


# ------------------------------------------------------------------- 5. one exception policy

INT_OPTIONS = {
    "MutualKNN(k)": lambda v: measures.MutualKNN(k=v),
    "CCA(max_dims)": lambda v: measures.CCA(max_dims=v),
    "mds(n_init)": lambda v: jaxrsa.mds(D, n_init=v),
    "mds(max_iter)": lambda v: jaxrsa.mds(D, max_iter=v),
    "mds(n_components)": lambda v: jaxrsa.mds(D, n_components=v),
    "classical_mds(n_components)": lambda v: jaxrsa.classical_mds(D, v),
    "similarity_matrix(block_size)": lambda v: jaxrsa.similarity_matrix(
        [np.eye(6, 2) + 1] * 2, block_size=v
    ),
    "MLP(hidden)": lambda v: MLP((v,), rngs=nnx.Rngs(0)),
    "train_zoo(n_models)": lambda v: train_zoo(
        "mlp", v, 1, (np.zeros((4, 28, 28)), np.zeros(4)), key=0
    ),
}


@pytest.mark.parametrize("option", sorted(INT_OPTIONS))
@pytest.mark.parametrize("value, error", [(1.5, TypeError), (True, TypeError), (0, ValueError)])
def test_one_exception_per_mistake(option, value, error):
    """A non-integer is a TypeError everywhere, a too-small integer a ValueError everywhere."""
    with pytest.raises(error) as info:
        INT_OPTIONS[option](value)
    assert type(info.value) is error
    assert repr(value) in str(info.value) or str(value) in str(info.value)


@pytest.mark.parametrize(
    "check, value, error, match",
    [
        (_inputs.boolean, "no", TypeError, "x must be a bool"),
        (_inputs.number, "1", TypeError, "x must be a number"),
        (_inputs.positive, -1.0, ValueError, "x must be a finite positive number, got -1.0"),
        (_inputs.positive, np.inf, ValueError, "x must be a finite positive number"),
        (_inputs.seed, 2**63, ValueError, r"x must be an integer seed in \[0, 2\*\*63\)"),
        (_inputs.seed, 0.5, TypeError, "x must be an integer seed"),
        (_inputs.rate, 1.0, ValueError, r"x must be in \[0, 1\)"),
        (_inputs.positive_ints, "12", TypeError, "x must be a sequence of ints"),
    ],
)
def test_generic_checks_share_one_message_format(check, value, error, match):
    with pytest.raises(error, match=match):
        check("x", value)


# ------------------------------------------------------------------- 6. dtypes


@pytest.mark.parametrize("name", NAMES)
def test_every_float_dtype_is_accepted_and_computes_as_its_value(xy, name):
    """bfloat16 and float16 activations give the value of their float64 copies; complex ones
    are refused by name."""
    x, y = xy
    low = {"bf16": jnp.asarray(x, jnp.bfloat16), "f16": x.astype(np.float16)}
    reps = {**low, "exact": np.asarray(low["bf16"], np.float64), "y": y}
    s = np.asarray(jaxrsa.similarity_matrix(reps, measure=name))
    assert np.isfinite(s).all()
    np.testing.assert_allclose(s[0, 3], s[2, 3], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        s[1, 3],
        jaxrsa.similarity(x.astype(np.float16).astype(np.float64), y, name),
        rtol=1e-9,
        atol=1e-12,
    )
    with pytest.raises(TypeError, match=r"reps\['c'\]: .*real numbers.*complex"):
        jaxrsa.similarity_matrix({"x": x, "c": x.astype(complex)}, measure=name)


# ------------------------------------------------------------------- 7. bad activations


@pytest.mark.parametrize("name", NAMES)
def test_bad_activations_name_the_model(xy, name):
    x, y = xy
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"reps\['mlp1'\]: .*non-finite.*example 3"):
        jaxrsa.similarity_matrix({"mlp0": x, "mlp1": bad, "cnn0": y}, measure=name)
    with pytest.raises(ValueError, match=r"reps\['cnn0'\]: has 19 examples but reps\['mlp0'\]"):
        jaxrsa.similarity_matrix({"mlp0": x, "cnn0": y[:-1]}, measure=name)


# ------------------------------------------------------------------- 8. MDS magnitude, starts


@pytest.mark.parametrize("factor", [1e-20, 1e20])
@pytest.mark.parametrize("fit", ["mds", "classical_mds", "procrustes_align"])
def test_embedding_functions_at_any_magnitude(fit, factor):
    pts = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0], [3.0, 4.0], [1.0, 1.0]])
    d = np.sqrt(((pts[:, None] - pts[None]) ** 2).sum(-1))
    call = {
        "mds": lambda a: jaxrsa.mds(a).embedding,
        "classical_mds": jaxrsa.classical_mds,
        "procrustes_align": lambda a: jaxrsa.procrustes_align(
            a[:, :2] * 2 + a.max(), a[:, :2], scale=True
        ),
    }[fit]
    base = np.asarray(call(d))
    got = np.asarray(call(d * factor))
    assert np.isfinite(got).all() and np.abs(got).max() > 0
    np.testing.assert_allclose(got / factor, base, atol=1e-9)


@pytest.mark.parametrize(
    "init, match",
    [
        (np.zeros((4, 2)), "init: the start is degenerate"),
        (np.ones((4, 2)) * 7.0, "span 0 <"),  # coincident points, not at 0
        (np.outer(np.arange(4.0), [1.0, -1.0]), "span 1 <"),  # collinear
        (np.stack([np.eye(4, 2), np.zeros((4, 2))]), r"init\[1\]"),
    ],
)
def test_degenerate_starts_are_refused(init, match):
    with pytest.raises(ValueError, match=match):
        jaxrsa.mds(D, init=init)


# ------------------------------------------------------------------- 9. wrong reasons


def test_float64_that_does_not_fit_float32_names_the_cause():
    x = np.full((6, 2), 1e200) * np.arange(1, 13).reshape(6, 2)
    with jax.enable_x64(False):
        with pytest.raises(ValueError, match=r"x: values up to 1.2e\+201 do not fit float32"):
            jaxrsa.rdm(x, "euclidean")


# ------------------------------------------------------------------- 10. checkpoints


def test_a_sidecar_that_lost_a_metric_is_refused_by_name(tmp_path):
    tree = {"w": np.arange(3.0)}
    _checkpoint.save(tmp_path, 0, tree, {"metrics": {"loss": [1.0], "accuracy": [0.5]}})
    sidecar = _checkpoint.meta_path(tmp_path, 0)
    meta = json.loads(sidecar.read_text())
    del meta["metrics"]["accuracy"]
    sidecar.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=f"{sidecar} is corrupt: its content differs"):
        _checkpoint.load(tmp_path, 0, tree)


@pytest.mark.parametrize("module", [_files, _inputs])
def test_docstring_examples(module):
    assert doctest.testmod(module, raise_on_error=False).failed == 0
