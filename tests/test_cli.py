"""The `jaxrsa` command: help, compare, embed, clear one-line errors, and the demo end to end."""

import json
import subprocess
import sys

import numpy as np
import pytest

import jaxrsa
from jaxrsa import cli


def run(*args):
    """Run the console command in a fresh process, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "jaxrsa.cli", *args], capture_output=True, text=True, timeout=600
    )


def test_help_for_every_command():
    for args in [["--help"], ["demo", "--help"], ["compare", "--help"], ["embed", "--help"]]:
        out = run(*args)
        assert out.returncode == 0, out.stderr
        assert "usage: jaxrsa" in out.stdout
    assert "--measure" in run("compare", "--help").stdout


@pytest.fixture
def acts(tmp_path, rng):
    base = rng.normal(size=(40, 6))
    models = {f"mlp{i}": np.tanh(base @ rng.normal(size=(6, 8 + i))) for i in range(3)}
    models |= {f"cnn{i}": np.maximum(base @ rng.normal(size=(6, 5)), 0) + 0.1 for i in range(2)}
    np.savez(tmp_path / "acts.npz", **models)
    return models


def test_compare_then_embed(tmp_path, acts):
    assert (
        cli.main(
            [
                "compare",
                str(tmp_path / "acts.npz"),
                "--measure",
                "cka",
                "--out",
                str(tmp_path / "sim.npz"),
            ]
        )
        == 0
    )
    with np.load(tmp_path / "sim.npz") as z:
        assert list(z["names"]) == list(acts)
        np.testing.assert_allclose(
            z["similarity"], np.asarray(jaxrsa.similarity_matrix(acts, measure="cka")), atol=1e-6
        )
    assert cli.main(["embed", str(tmp_path / "sim.npz"), "--out", str(tmp_path / "map.png")]) == 0
    assert (tmp_path / "map.png").stat().st_size > 10_000
    with np.load(tmp_path / "map.npz") as z:
        assert z["embedding"].shape == (5, 2)


def test_compare_reads_a_folder_of_npy_and_writes_csv(tmp_path, acts):
    folder = tmp_path / "acts"
    folder.mkdir()
    for name, a in acts.items():
        np.save(folder / f"{name}.npy", a)
    assert cli.main(["compare", str(folder), "--out", str(tmp_path / "s.csv")]) == 0
    header = (tmp_path / "s.csv").read_text().splitlines()[0]
    assert header.split(",") == sorted(acts)
    assert np.loadtxt(tmp_path / "s.csv", delimiter=",", skiprows=1).shape == (5, 5)


@pytest.mark.parametrize(
    "make, args, message",
    [
        (lambda p: None, ["compare", "{p}/missing.npz", "--out", "{p}/o.npz"], "no such file"),
        (
            lambda p: (p / "bad.npz").write_bytes(b"PK\x03\x04 not a zip"),
            ["compare", "{p}/bad.npz", "--out", "{p}/o.npz"],
            "not a readable .npz",
        ),
        (
            lambda p: np.savez(p / "r.npz", a=np.ones(5)),
            ["compare", "{p}/r.npz", "--out", "{p}/o.npz"],
            r"shape \(5,\); expected \[n, d\]",
        ),
        (
            lambda p: np.savez(p / "m.npz", a=np.ones((5, 2)), b=np.ones((6, 2))),
            ["compare", "{p}/m.npz", "--out", "{p}/o.npz"],
            "has 6 examples",
        ),
        (
            lambda p: (p / "empty").mkdir(),
            ["compare", "{p}/empty", "--out", "{p}/o.npz"],
            "holds no .npy files",
        ),
        (
            lambda p: np.save(p / "s.npy", np.ones((3, 4))),
            ["embed", "{p}/s.npy", "--out", "{p}/m.png"],
            "square matrix",
        ),
        (
            lambda p: np.savez(p / "x.npz", other=np.eye(3)),
            ["embed", "{p}/x.npz", "--out", "{p}/m.png"],
            "named 'similarity'",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, make, args, message):
    make(tmp_path)
    out = run(*[a.format(p=tmp_path) for a in args])
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    assert lines[0].startswith("jaxrsa ")
    import re

    assert re.search(message, lines[0]), lines[0]


def test_bad_option_values_are_usage_errors():
    out = run("demo", "--mlps", "0")
    assert out.returncode == 2 and "positive" in out.stderr
    out = run("compare", "x.npz", "--out", "o.npz", "--measure", "nope")
    assert out.returncode == 2 and "invalid choice" in out.stderr


@pytest.mark.slow
def test_demo_end_to_end_tiny(tmp_path):
    """The whole pipeline on real embedded MNIST, tiny: every file, and families separate."""
    out = tmp_path / "demo"
    proc = run(
        "demo", "--out", str(out), "--mlps", "2", "--cnns", "2", "--epochs", "1", "--samples", "100"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in [
        "model_map.png",
        "trajectories.png",
        "similarity.png",
        "layers.png",
        "rdms.png",
        "results.npz",
        "summary.json",
    ]:
        assert (out / name).stat().st_size > 0, name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["similarity"]["within"] > summary["similarity"]["between"]
    assert min(summary["test_accuracy"].values()) > 0.5  # clearly better than chance (0.1)
    with np.load(out / "results.npz") as z:
        assert z["similarity"].shape == (4, 4)
        assert z["trajectories"].shape == (4, 2, 2)
        assert z["similarity_all_epochs"].shape == (8, 8)
    assert "between families" in proc.stdout
