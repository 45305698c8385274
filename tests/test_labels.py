"""Model names reach results: to_dataframe, to_xarray, model_names and the plots that take them."""

import jax
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import jaxrsa
from jaxrsa import plot

matplotlib.use("Agg")


@pytest.fixture
def reps(rng):
    return {"mlp0": rng.normal(size=(12, 5)), "cnn0": rng.normal(size=(12, 3)),
            "cnn1": rng.normal(size=(12, 4))}  # fmt: skip


def _cka(x, y):  # linear CKA in float64 NumPy, the reference
    x, y = x - x.mean(0), y - y.mean(0)
    return np.linalg.norm(y.T @ x) ** 2 / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y))


def test_model_names_follow_the_input():
    assert jaxrsa.model_names({"b": 0, "a": 1}) == ["b", "a"]
    assert jaxrsa.model_names([np.zeros((3, 2))] * 2) == [0, 1]
    assert jaxrsa.model_names(np.zeros((4, 3, 2))) == [0, 1, 2, 3]
    assert jaxrsa.model_names(["x", "y"]) == ["x", "y"]


def test_a_similarity_matrix_keeps_the_dict_keys(reps):
    sims = jaxrsa.similarity_matrix(reps, measure="cka")
    assert isinstance(sims, jax.Array)  # the default stays a JAX array
    table = jaxrsa.to_dataframe(sims, reps)
    assert list(table.index) == list(table.columns) == ["mlp0", "cnn0", "cnn1"]
    assert (table.index.name, table.columns.name) == ("model", "other")
    ref = np.array([[_cka(reps[a], reps[b]) for b in reps] for a in reps])
    np.testing.assert_allclose(table.to_numpy(), ref, rtol=1e-10)
    assert table.loc["cnn0", "mlp0"] == pytest.approx(_cka(reps["cnn0"], reps["mlp0"]), rel=1e-10)


def test_rectangular_matrices_name_both_sides(reps):
    others = {"brain": reps["mlp0"][:, :2] ** 2}
    sims = jaxrsa.similarity_matrix(reps, others, measure="cka")
    table = jaxrsa.to_dataframe(sims, reps, others)
    assert table.shape == (3, 1) and list(table.columns) == ["brain"]
    assert table.loc["mlp0", "brain"] == pytest.approx(_cka(reps["mlp0"], others["brain"]))
    array = jaxrsa.to_xarray(sims, reps, others)
    assert array.dims == ("model", "other")
    assert float(array.sel(model="cnn1", other="brain")) == pytest.approx(
        table.loc["cnn1", "brain"]
    )


def test_wrong_names_are_refused_with_the_cause(reps):
    sims = jaxrsa.similarity_matrix(reps, measure="cka")
    with pytest.raises(ValueError, match=r"reps: 2 x 2 names for a matrix of shape \(3, 3\)"):
        jaxrsa.to_dataframe(sims, ["a", "b"])
    with pytest.raises(ValueError, match="pass others= for a rectangular matrix"):
        jaxrsa.to_dataframe(np.zeros((3, 2)), reps)
    with pytest.raises(ValueError, match=r"expected an \[m, m_b\] matrix"):
        jaxrsa.to_dataframe(np.zeros(3), reps)


def test_inference_results_become_tidy_tables(reps):
    result = jaxrsa.permutation_test(reps, measure="cka", n_permutations=20, key=0)
    table = jaxrsa.to_dataframe(result, reps)
    assert table.index.names == ["model", "other"] and len(table) == 9
    assert {"similarity", "null_mean", "null_std", "p_value"} <= set(table.columns)
    np.testing.assert_array_equal(
        table["p_value"].unstack().loc[list(reps), list(reps)].to_numpy(),
        np.asarray(result.p_value),
    )
    data = jaxrsa.to_xarray(result, reps)
    assert data.attrs["n_permutations"] == 20
    np.testing.assert_array_equal(data["similarity"].values, np.asarray(result.similarity))
    assert list(data["p_value"].coords["model"].values) == list(reps)


def test_bootstrap_results_carry_the_interval(reps):
    result = jaxrsa.bootstrap(reps, measure="cka", n_resamples=10, key=1)
    table = jaxrsa.to_dataframe(result, reps)
    assert (table["low"] <= table["high"]).all()
    assert table.loc[("mlp0", "cnn0"), "similarity"] == pytest.approx(
        _cka(reps["mlp0"], reps["cnn0"]), rel=1e-10
    )


def test_plots_take_labelled_matrices(reps):
    table = jaxrsa.to_dataframe(jaxrsa.similarity_matrix(reps, measure="cka"), reps)
    fig = plot.similarity_heatmap(table)
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert ticks == ["mlp0", "cnn0", "cnn1"]
    fig = plot.layer_heatmap(jaxrsa.to_xarray(table.to_numpy()[:2], ["mlp0", "cnn0"], list(reps)))
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["mlp0", "cnn0"]
    with pytest.raises(ValueError, match="give the models' names, or a labelled matrix"):
        plot.similarity_heatmap(table.to_numpy())
    plt.close("all")


def test_xarray_is_optional(monkeypatch, reps):
    monkeypatch.setitem(__import__("sys").modules, "xarray", None)
    with pytest.raises(ImportError, match="pip install xarray"):
        jaxrsa.to_xarray(np.eye(3), reps)
    assert isinstance(jaxrsa.to_dataframe(np.eye(3), reps), pd.DataFrame)
