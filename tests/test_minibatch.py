"""minibatch_cka: google-research's MinibatchCKA on the same batches, one batch = whole-data CKA,
every input form, and clear errors for bad streams."""

import jax.numpy as jnp
import numpy as np
import pytest

import jaxrsa


def reference_minibatch_cka(batches, debiased=True):
    """A float64 NumPy transcription of the steps of `efficient_CKA.MinibatchCKA`
    (`_generate_gram_matrix`, `update_state`, `result`) and, for `debiased=False`, of the same
    accumulation with H K H."""
    total = 0.0
    for batch in batches:
        grams = []
        for x in batch:
            x = np.asarray(x, np.float64).reshape(len(x), -1)
            n = len(x)
            k = x @ x.T
            if debiased:
                np.fill_diagonal(k, 0.0)
                means = k.sum(axis=0) / (n - 2)
                means -= means.sum() / (2 * (n - 1))
                k = k - means[:, None] - means[None, :]
                np.fill_diagonal(k, 0.0)
            else:
                h = np.eye(n) - 1.0 / n
                k = h @ k @ h
            grams.append(k.ravel())
        grams = np.stack(grams)
        total = total + grams @ grams.T
    norm = np.sqrt(np.diag(total))
    return total / norm[:, None] / norm[None, :]


def stream(rng, batches=4, b=10, widths=(3, 7, 5)):
    """Batches of related models: a shared latent, per-model maps and noise."""
    maps = [rng.normal(size=(4, w)) for w in widths]
    out = []
    for _ in range(batches):
        z = rng.normal(size=(b, 4))
        out.append([np.tanh(z @ a) + 0.3 * rng.normal(size=(b, a.shape[1])) for a in maps])
    return out


@pytest.mark.parametrize("debiased", [True, False])
def test_equals_the_reference_on_the_same_batches(rng, debiased):
    batches = stream(rng)
    got = np.asarray(jaxrsa.minibatch_cka(iter(batches), debiased=debiased))
    expected = reference_minibatch_cka(batches, debiased)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    assert not np.allclose(got, 1.0)  # the models differ


@pytest.mark.parametrize("debiased, name", [(True, "cka_debiased"), (False, "cka")])
def test_one_batch_is_the_whole_data_cka(rng, debiased, name):
    (batch,) = stream(rng, batches=1, b=30)
    got = np.asarray(jaxrsa.minibatch_cka([batch], debiased=debiased))
    np.testing.assert_allclose(got, jaxrsa.similarity_matrix(batch, measure=name), atol=1e-12)


def test_forms_of_a_batch_agree_and_float32_follows(rng):
    batches = [[m.astype(np.float32) for m in batch] for batch in stream(rng, widths=(6, 6))]
    as_list = np.asarray(jaxrsa.minibatch_cka(batches))
    as_array = np.asarray(jaxrsa.minibatch_cka(np.stack(b) for b in batches))
    as_dict = np.asarray(jaxrsa.minibatch_cka({"a": b[0], "b": b[1]} for b in batches))
    as_jax = np.asarray(jaxrsa.minibatch_cka([jnp.asarray(m) for m in b] for b in batches))
    assert as_list.dtype == np.float32
    for other in (as_array, as_dict, as_jax):
        np.testing.assert_allclose(other, as_list, atol=1e-6)
    np.testing.assert_allclose(as_list, reference_minibatch_cka(batches), atol=1e-5)


@pytest.mark.parametrize("scale", [1e20, 1e-20])
def test_any_magnitude_gives_the_same_value(rng, scale):
    batches = [[m.astype(np.float32) for m in batch] for batch in stream(rng)]
    scaled = [[batch[0] * np.float32(scale), *batch[1:]] for batch in batches]
    np.testing.assert_allclose(
        jaxrsa.minibatch_cka(scaled), jaxrsa.minibatch_cka(batches), rtol=0, atol=1e-6
    )


def test_large_offset_in_float64_keeps_the_signal(rng):
    batches = stream(rng)
    shifted = [[batch[0] + 1e7, *batch[1:]] for batch in batches]
    np.testing.assert_allclose(
        jaxrsa.minibatch_cka(shifted), reference_minibatch_cka(batches), rtol=0, atol=1e-8
    )


def good(rng, b=6):
    return [rng.normal(size=(b, 3)), rng.normal(size=(b, 4))]


@pytest.mark.parametrize(
    "make, kwargs, match",
    [
        (lambda r: [], {}, "batches: the stream is empty"),
        (lambda r: [good(r), good(r, b=5)], {}, r"batch 1\[0\]: has shape \(5, 3\) but in batch 0"),
        (lambda r: [good(r), good(r)[:1]], {}, r"batch 1: has models 1 but batch 0 has 2"),
        (
            lambda r: [
                dict(zip("ab", good(r), strict=True)),
                dict(zip("ac", good(r), strict=True)),
            ],
            {},
            r"batch 1: has models \('a', 'c'\) but batch 0 has \('a', 'b'\)",
        ),
        (lambda r: [good(r, b=3)], {}, r"batch 0\[0\]: .* needs at least 4 examples, got 3"),
        (
            lambda r: [good(r), [good(r)[0], np.where(np.eye(6, 4), np.nan, 1.0)]],
            {},
            r"batch 1\[1\]: activations contain a non-finite value",
        ),
        (lambda r: [[np.ones((6, 3)), good(r)[1]]] * 2, {}, r"model 0: every example has the same"),
        (lambda r: [good(r)], {"debiased": "no"}, "debiased must be a bool"),
        (lambda r: [[np.ones((6, 3), complex)] * 2], {}, "expected real numbers"),
    ],
)
def test_bad_streams_are_clear_errors(rng, make, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        jaxrsa.minibatch_cka(make(rng), **kwargs)


def test_example_heatmap_runs_on_tiny_data(tmp_path):
    """examples/minibatch_heatmap.py on 300 embedded MNIST digits (Fashion-MNIST is optional)."""
    import importlib.util
    from pathlib import Path

    from jaxrsa.data import load_mnist

    path = Path(__file__).parents[1] / "examples" / "minibatch_heatmap.py"
    spec = importlib.util.spec_from_file_location("example_minibatch_heatmap", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    data = load_mnist("train", source="embedded")
    train = (data.images[:200], data.labels[:200])
    test = type(data)(data.images[200:310], data.labels[200:310])
    across, names = example.main(train, test, batch=50, out=str(tmp_path / "cka.png"))
    assert across.shape == (len(names), len(names)) and names[-1] == "logits"
    assert np.isfinite(across).all() and (tmp_path / "cka.png").stat().st_size > 10_000
