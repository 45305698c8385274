"""Every script in examples/ runs, on tiny data, through the function its command line calls."""

import importlib.util
from pathlib import Path

import numpy as np

EXAMPLES = Path(__file__).parents[1] / "examples"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_model_map(tmp_path):
    example = load("model_map")
    fit = example.main(models=6, examples=40, out=str(tmp_path / "map.png"))
    assert fit.embedding.shape == (6, 2)
    assert np.isfinite(float(fit.stress_1))
    assert (tmp_path / "map.png").stat().st_size > 10_000


def test_layers(tmp_path):
    sim, names = load("layers").main(
        family="mlp", epochs=1, samples=60, out=str(tmp_path / "l.png"), train_size=400
    )
    assert names == ["dense_0", "dense_1", "logits"]
    assert sim.shape == (3, 3)
    np.testing.assert_allclose(np.diag(sim), 1.0, atol=1e-6)


def test_multihost_single_process_equals_one_device():
    everywhere, one = load("multihost").main(models=5, examples=30)
    np.testing.assert_allclose(everywhere, one, atol=1e-6)


def test_distill(tmp_path):
    result = load("distill").main(
        epochs=1, models=2, samples=60, train_size=300, batch_size=50, out=str(tmp_path / "d.png")
    )
    m = len(result["groups"])
    assert result["similarity"].shape == (m, m) and result["embedding"].shape == (m, 2)
    assert set(result["groups"]) == {"CNNs", "MLPs", "RSA student", "CKA student"}
    # distillation pulls the students' representations toward the teacher's
    assert result["student-teacher rsa after (rsa)"] > result["student-teacher rsa before"]
    assert (tmp_path / "d.png").stat().st_size > 10_000
