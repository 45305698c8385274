"""rsatoolbox interop: jaxrsa RDMs as `rsatoolbox.rdm.RDMs`, rsatoolbox data as jaxrsa inputs.

rsatoolbox (`pip install jaxrsa[interop]`) is imported only when these functions run. An RDM
passes both ways as its full `[n, n]` matrix; rsatoolbox stores the strict upper triangle in the
same row-major order as `numpy.triu_indices(n, 1)`, so nothing is reordered.

Examples:
    >>> import numpy as np
    >>> import jaxrsa
    >>> from jaxrsa import interop
    >>> rng = np.random.default_rng(0)
    >>> reps = {"mlp": rng.normal(size=(6, 4)), "cnn": rng.normal(size=(6, 3))}
    >>> rdms = interop.to_rsatoolbox({k: jaxrsa.rdm(v) for k, v in reps.items()}, "correlation")
    >>> rdms.n_rdm, rdms.n_cond, rdms.rdm_descriptors["name"]
    (2, 6, ['mlp', 'cnn'])
    >>> sorted(interop.from_rsatoolbox(rdms))
    ['cnn', 'mlp']
"""

from collections.abc import Mapping

import numpy as np

from jaxrsa import _first_order


def _rsatoolbox():
    try:
        import rsatoolbox
        import rsatoolbox.data
        import rsatoolbox.data.dataset
        import rsatoolbox.rdm
    except ImportError as e:  # an optional extra: say how to get it
        raise ImportError("jaxrsa.interop needs rsatoolbox: pip install jaxrsa[interop]") from e
    return rsatoolbox


def _checked_rdm(name, matrix) -> np.ndarray:
    """One `[n, n]` dissimilarity matrix as float64, refused by name when it is not one.

    Symmetry and the zero diagonal are checked in the matrix's own precision (a float32 RDM
    is symmetric to float32 rounding).
    """
    d = np.asarray(matrix)
    if not np.issubdtype(d.dtype, np.floating):
        d = d.astype(np.float64)
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise ValueError(f"rdms[{name!r}]: expected an [n, n] matrix, got shape {d.shape}")
    if not np.isfinite(d).all():
        i, j = np.argwhere(~np.isfinite(d))[0]
        raise ValueError(f"rdms[{name!r}]: entry ({i}, {j}) is not finite")
    problem = _first_order.Precomputed().explain(d)
    if problem:
        raise ValueError(f"rdms[{name!r}]: not a dissimilarity matrix: {problem}")
    return d.astype(np.float64)


def to_rsatoolbox(
    rdms,
    metric: str = "",
    *,
    names=None,
    descriptors: Mapping | None = None,
    rdm_descriptors: Mapping | None = None,
    pattern_descriptors: Mapping | None = None,
):
    """jaxrsa dissimilarity matrices as one `rsatoolbox.rdm.RDMs` object.

    Args:
        rdms: an `[n, n]` matrix, an `[m, n, n]` stack (`jaxrsa.rdm` of `[m, n, d]`), or a
            sequence or dict of `[n, n]` matrices (e.g. `{name: jaxrsa.rdm(x) ...}`).
        metric: the first-order metric the matrices were made with (`"correlation"`, ...),
            stored as rsatoolbox's `dissimilarity_measure`.
        names: one name per RDM; by default the dict's keys, or positions 0..m-1. Stored as the
            rdm descriptor "name" (where rsatoolbox's `calc_rdm` puts a dataset's name).
        descriptors: rsatoolbox descriptors of the whole set.
        rdm_descriptors: further per-RDM descriptors (one value per RDM each).
        pattern_descriptors: per-condition descriptors (one value per example each), e.g.
            `{"label": digits}`; "index" (0..n-1) is added when absent.

    Returns:
        `rsatoolbox.rdm.RDMs` with `n_rdm = m`, `n_cond = n`, its dissimilarities the upper
        triangles in float64.

    Raises:
        ValueError: a matrix that is not square, not symmetric, has a nonzero diagonal or
            non-finite entries (named by its key), or matrices of different sizes.
        ImportError: rsatoolbox is not installed.
    """
    toolbox = _rsatoolbox()
    if isinstance(rdms, Mapping):
        items = list(rdms.items())
    elif hasattr(rdms, "ndim") and np.ndim(rdms) == 2:
        items = [(0, rdms)]
    else:
        items = list(enumerate(rdms))
    if not items:
        raise ValueError("rdms: no matrices given")
    matrices = [_checked_rdm(k, v) for k, v in items]
    sizes = {d.shape[0] for d in matrices}
    if len(sizes) != 1:
        raise ValueError(f"rdms: all matrices must be [n, n] with one n, got sizes {sorted(sizes)}")
    names = [k for k, _ in items] if names is None else list(names)
    if len(names) != len(matrices):
        raise ValueError(f"names: {len(names)} names for {len(matrices)} RDMs")
    n = matrices[0].shape[0]
    rows, cols = np.triu_indices(n, 1)
    return toolbox.rdm.RDMs(
        np.stack([d[rows, cols] for d in matrices]),
        dissimilarity_measure=metric,
        descriptors=dict(descriptors or {}),
        rdm_descriptors={"name": names, **dict(rdm_descriptors or {})},
        pattern_descriptors={"index": list(range(n)), **dict(pattern_descriptors or {})},
    )


def _name(descriptors: Mapping, key: str, fallback):
    value = descriptors.get(key, fallback)
    return fallback if value is None else value


def from_rsatoolbox(data, *, name: str = "name"):
    """rsatoolbox objects as jaxrsa inputs, names kept.

    Args:
        data: an `rsatoolbox.data.Dataset` (one model: its `[n, d]` measurements, observations
            as examples), a sequence of Datasets (several models: the same n observations in
            the same order), or an `rsatoolbox.rdm.RDMs` (its `[n, n]` matrices, for
            `measures.RSA(first="precomputed", second=...)`).
        name: the descriptor that names each model: `descriptors[name]` of a Dataset,
            `rdm_descriptors[name]` of RDMs. Models without it are named by position.

    Returns:
        A dict of model name -> `[n, d]` (Datasets) or `[n, n]` (RDMs) NumPy arrays, in the
        given order, ready for `jaxrsa.similarity_matrix` and `jaxrsa.to_dataframe`; for a
        single Dataset, its `[n, d]` array.

    Raises:
        TypeError: not rsatoolbox data.
        ValueError: Datasets with different numbers of observations, or repeated names.
    """
    toolbox = _rsatoolbox()
    if isinstance(data, toolbox.rdm.RDMs):
        matrices = data.get_matrices()
        keys = data.rdm_descriptors.get(name, list(range(data.n_rdm)))
        return _unique(keys, matrices, "RDMs")
    if isinstance(data, toolbox.data.dataset.DatasetBase):
        return np.asarray(data.measurements)
    datasets = list(data) if not isinstance(data, (str, bytes, Mapping)) else []
    if not datasets or not all(isinstance(d, toolbox.data.dataset.DatasetBase) for d in datasets):
        raise TypeError(
            "data: expected an rsatoolbox Dataset, a list of Datasets or an RDMs object, "
            f"got {type(data).__name__}"
        )
    keys = [_name(d.descriptors, name, i) for i, d in enumerate(datasets)]
    counts = {int(d.n_obs) for d in datasets}
    if len(counts) != 1:
        raise ValueError(
            "data: every Dataset must hold the same examples (observations); got "
            + ", ".join(f"{k!r}: {d.n_obs}" for k, d in zip(keys, datasets, strict=True))
        )
    return _unique(keys, [np.asarray(d.measurements) for d in datasets], "Datasets")


def _unique(keys, arrays, what: str) -> dict:
    keys = [k.item() if hasattr(k, "item") else k for k in keys]
    repeated = sorted({str(k) for k in keys if keys.count(k) > 1})
    if repeated:
        raise ValueError(
            f"data: {what} share the name(s) {repeated}; pass name= another descriptor"
        )
    return dict(zip(keys, arrays, strict=True))


__all__ = ["from_rsatoolbox", "to_rsatoolbox"]
