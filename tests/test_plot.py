"""Figures: they draw what they are given (read back from the PNG), and refuse bad input."""

import matplotlib.image
import numpy as np
import pytest

from jaxrsa import plot


def saved_pixels(fig, tmp_path, name="fig.png"):
    path = plot.save(fig, tmp_path / name)
    return matplotlib.image.imread(path)


def coloured_fraction(pixels, rgb_hex):
    rgb = np.array([int(rgb_hex[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    return np.mean(np.all(np.abs(pixels[..., :3] - rgb) < 0.02, axis=-1))


def test_model_map_draws_each_group_in_its_colour(tmp_path):
    emb = np.array([[0.0, 0.0], [1.0, 0.1], [5.0, 5.0], [5.5, 4.0]])
    fig = plot.model_map(emb, ["MLP", "MLP", "CNN", "CNN"], legend_extra={"MLP": "a", "CNN": "b"})
    px = saved_pixels(fig, tmp_path)
    assert coloured_fraction(px, "#0072B2") > 1e-4  # first group
    assert coloured_fraction(px, "#D55E00") > 1e-4  # second group
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert texts == ["MLP (2), a", "CNN (2), b"]


def test_trajectories_join_epochs_in_order(tmp_path):
    paths = np.cumsum(np.random.default_rng(0).normal(size=(3, 5, 2)), axis=1)
    fig = plot.trajectories(paths, ["a", "a", "b"])
    lines = [line for line in fig.axes[0].get_lines() if len(line.get_xdata()) == 5]
    assert len(lines) == 3
    np.testing.assert_allclose(lines[0].get_xydata(), paths[0])
    assert saved_pixels(fig, tmp_path).shape[0] > 100


def test_similarity_heatmap_orders_models_by_group():
    s = np.array([[1.0, 0.1, 0.9], [0.1, 1.0, 0.2], [0.9, 0.2, 1.0]])
    fig = plot.similarity_heatmap(s, ["a0", "b0", "a1"], ["a", "b", "a"])
    shown = fig.axes[0].get_images()[0].get_array()
    np.testing.assert_allclose(shown, s[np.ix_([0, 2, 1], [0, 2, 1])])
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["a0", "a1", "b0"]


def test_rdm_panel_sorts_examples_by_class(tmp_path):
    labels = np.array([1, 0, 1, 0])
    d = np.abs(np.subtract.outer(labels, labels)).astype(float) + 0.1 * (1 - np.eye(4))
    fig = plot.rdm_panel(d[None], ["model"], labels)
    shown = np.asarray(fig.axes[0].get_images()[0].get_array())
    # after sorting by class the within-class blocks are the low percentiles
    assert shown[0, 1] < shown[0, 2] and shown[2, 3] < shown[1, 2]
    saved_pixels(fig, tmp_path)


def test_layer_heatmap_writes_values():
    fig = plot.layer_heatmap(np.array([[1.0, 0.5]]), ["a"], ["a", "b"])
    assert [t.get_text() for t in fig.axes[0].texts] == ["1.00", "0.50"]


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: plot.model_map(np.zeros((3, 3)), ["a"] * 3), r"\[m, 2\]"),
        (lambda: plot.model_map(np.zeros((3, 2)), ["a"] * 2), "one group per model"),
        (lambda: plot.model_map(np.full((2, 2), np.nan), ["a"] * 2), "non-finite"),
        (lambda: plot.trajectories(np.zeros((3, 2)), ["a"] * 3), r"\[m, T, 2\]"),
        (lambda: plot.similarity_heatmap(np.eye(3), ["a", "b"]), "m = len"),
        (lambda: plot.rdm_panel(np.zeros((2, 3)), ["a"], [0, 1, 2]), r"\[k, n, n\]"),
        (lambda: plot.layer_heatmap(np.eye(2), ["a"], ["b", "c"]), "does not match"),
    ],
)
def test_bad_input_is_a_clear_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_save_is_atomic_and_leaves_no_temporary_file(tmp_path):
    fig = plot.layer_heatmap(np.eye(2), ["a", "b"], ["a", "b"])
    path = plot.save(fig, tmp_path / "sub" / "f.png")
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["f.png"]
    assert path.endswith("f.png")
