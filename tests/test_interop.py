"""rsatoolbox interop, checked against the installed rsatoolbox (the `interop` extra)."""

import os

import numpy as np
import pytest

import jaxrsa
from jaxrsa import interop, measures

if os.environ.get("JAXRSA_REQUIRE_RSATOOLBOX") == "1":  # CI installs the extra: never skip there
    import rsatoolbox
else:
    rsatoolbox = pytest.importorskip(
        "rsatoolbox", reason="rsatoolbox is not installed: pip install jaxrsa[interop]"
    )
import rsatoolbox.data  # noqa: E402
import rsatoolbox.rdm  # noqa: E402


@pytest.fixture
def reps(rng):
    return {"mlp0": rng.normal(size=(9, 5)), "cnn0": rng.normal(size=(9, 3)),
            "cnn1": rng.normal(size=(9, 4))}  # fmt: skip


def _correlation_rdm(x):  # float64 NumPy reference: 1 - Pearson r between examples
    z = x - x.mean(1, keepdims=True)
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    return 1 - z @ z.T


def test_rdms_match_rsatoolbox_calc_rdm(reps):
    ours = interop.to_rsatoolbox(
        {k: jaxrsa.rdm(v) for k, v in reps.items()}, "correlation",
        pattern_descriptors={"label": list("abcabcabc")},
    )  # fmt: skip
    datasets = [rsatoolbox.data.Dataset(v, descriptors={"name": k}) for k, v in reps.items()]
    theirs = rsatoolbox.rdm.calc_rdm(datasets, method="correlation")
    assert ours.rdm_descriptors["name"] == theirs.rdm_descriptors["name"] == list(reps)
    assert ours.dissimilarity_measure == "correlation"
    assert ours.pattern_descriptors["label"] == list("abcabcabc")
    np.testing.assert_allclose(ours.dissimilarities, theirs.dissimilarities, atol=1e-12)
    np.testing.assert_allclose(
        ours.get_matrices(), [_correlation_rdm(v) for v in reps.values()], atol=1e-12
    )


def test_rdms_round_trip_and_compare_as_rsatoolbox_does(reps):
    rdms = interop.to_rsatoolbox(jaxrsa.rdm(np.stack([v[:, :3] for v in reps.values()])))
    assert rdms.rdm_descriptors["name"] == [0, 1, 2]
    back = interop.from_rsatoolbox(rdms)
    assert list(back) == [0, 1, 2] and back[0].shape == (9, 9)
    measure = measures.RSA(first="precomputed", second="spearman")
    ours = np.asarray(jaxrsa.similarity_matrix(back, measure=measure))
    theirs = rsatoolbox.rdm.compare(rdms, rdms, method="spearman")
    np.testing.assert_allclose(ours, theirs, atol=1e-10)


def test_datasets_become_named_inputs(reps):
    datasets = [rsatoolbox.data.Dataset(v, descriptors={"name": k}) for k, v in reps.items()]
    models = interop.from_rsatoolbox(datasets)
    assert list(models) == list(reps)
    for k in reps:
        np.testing.assert_array_equal(models[k], reps[k])
    np.testing.assert_array_equal(interop.from_rsatoolbox(datasets[0]), reps["mlp0"])
    sims = jaxrsa.to_dataframe(jaxrsa.similarity_matrix(models, measure="cka"), models)
    assert list(sims.index) == list(reps)
    unnamed = [rsatoolbox.data.Dataset(v) for v in reps.values()]
    assert list(interop.from_rsatoolbox(unnamed)) == [0, 1, 2]


def test_bad_input_is_refused_by_name(reps):
    good = jaxrsa.rdm(reps["mlp0"])
    bad = np.array(good)
    bad[0, 1] += 0.5
    with pytest.raises(
        ValueError, match=r"rdms\['brain'\]: not a dissimilarity matrix: .*not symmetric"
    ):
        interop.to_rsatoolbox({"net": good, "brain": bad})
    bad = np.array(good)
    bad[2, 3] = bad[3, 2] = np.nan
    with pytest.raises(ValueError, match=r"rdms\['brain'\]: entry \(2, 3\) is not finite"):
        interop.to_rsatoolbox({"brain": bad})
    with pytest.raises(ValueError, match="one n, got sizes"):
        interop.to_rsatoolbox([good, good[:4, :4]])
    with pytest.raises(ValueError, match="names: 1 names for 2 RDMs"):
        interop.to_rsatoolbox([good, good], names=["a"])
    short = [rsatoolbox.data.Dataset(reps["mlp0"]), rsatoolbox.data.Dataset(reps["cnn0"][:5])]
    with pytest.raises(ValueError, match="same examples"):
        interop.from_rsatoolbox(short)
    same = [rsatoolbox.data.Dataset(v, descriptors={"name": "x"}) for v in reps.values()]
    with pytest.raises(ValueError, match=r"share the name\(s\) \['x'\]"):
        interop.from_rsatoolbox(same)
    with pytest.raises(TypeError, match="expected an rsatoolbox Dataset"):
        interop.from_rsatoolbox({"a": reps["mlp0"]})
