"""Model names on results: `[m, m_b]` matrices and inference results as labelled tables.

Every function in jaxrsa returns JAX arrays (or NamedTuples of them): they stay jit-, vmap- and
grad-friendly, live on the accelerator, and feed `mds` and the plots without conversion. The names
are not lost: they are the keys of the dict the user passed. `to_dataframe` and `to_xarray` read
them from those same models (or from a list of names), so nothing is retyped and nothing in the
computation carries strings.
"""

from collections.abc import Mapping, Sequence

import numpy as np

from jaxrsa import _inputs

ROW, COL = "model", "other"


def model_names(reps) -> list:
    """The names of a collection of models: a dict's keys, otherwise positions 0..m-1.

    Args:
        reps: the models as given to `similarity_matrix`, `permutation_test` or `bootstrap`
            (an `[m, n, d]` array, a sequence or a dict of `[n, d_i]` arrays), or a sequence of
            names (strings).

    Returns:
        One name per model, in order.

    Examples:
        >>> import numpy as np
        >>> from jaxrsa import model_names
        >>> model_names({"mlp0": np.zeros((4, 2)), "cnn0": np.zeros((4, 3))})
        ['mlp0', 'cnn0']
        >>> model_names(np.zeros((3, 4, 2)))
        [0, 1, 2]
    """
    if isinstance(reps, Sequence) and not isinstance(reps, (str, bytes)) and len(reps) > 0:
        if all(isinstance(r, str) for r in reps):
            return list(reps)
    if isinstance(reps, Mapping):
        keys = list(reps)
        if not keys:
            raise ValueError("reps: no models given")
        return keys
    return list(range(len(_inputs.as_reps(reps).labels)))


def _axes(shape: tuple[int, ...], reps, others) -> tuple[list, list]:
    if len(shape) != 2:
        raise ValueError(f"expected an [m, m_b] matrix of model pairs, got shape {shape}")
    rows = model_names(reps)
    cols = rows if others is None else model_names(others)
    if (len(rows), len(cols)) != shape:
        role = "reps" if len(rows) != shape[0] else "others"
        raise ValueError(
            f"{role}: {len(rows)} x {len(cols)} names for a matrix of shape {shape}"
            + ("; pass others= for a rectangular matrix" if others is None else "")
        )
    return rows, cols


def _fields(result) -> dict[str, np.ndarray]:
    """The per-pair `[m, m_b]` fields of an inference result (scalars such as counts dropped)."""
    return {
        k: np.asarray(v) for k, v in result._asdict().items() if v is not None and np.ndim(v) == 2
    }


def _is_result(values) -> bool:
    return isinstance(values, tuple) and hasattr(values, "_asdict")


def to_dataframe(values, reps, others=None):
    """A matrix of model pairs, or an inference result, as a `pandas.DataFrame` with names.

    Args:
        values: an `[m, m_b]` matrix (`similarity_matrix`, or a field such as
            `permutation_test(...).p_value`), or a whole `PermutationResult` /
            `BootstrapResult`.
        reps: the models the values were computed from (their dict keys become the names), or
            their names.
        others: the second collection of models (or names) when `others=` was used; by default
            the columns are the rows' models.

    Returns:
        For a matrix, an `[m, m_b]` DataFrame: index named "model" holding the names of `reps`,
        columns named "other" holding those of `others`. For a result, one row per pair
        (a two-level index "model", "other") and one column per per-pair field (`similarity`,
        `p_value`, `low`, ...), ready for `groupby` or seaborn.

    Examples:
        >>> import numpy as np
        >>> import jaxrsa
        >>> rng = np.random.default_rng(0)
        >>> reps = {"a": rng.normal(size=(20, 5)), "b": rng.normal(size=(20, 3))}
        >>> table = jaxrsa.to_dataframe(jaxrsa.similarity_matrix(reps, measure="cka"), reps)
        >>> list(table.index), list(table.columns)
        (['a', 'b'], ['a', 'b'])
        >>> float(table.loc["a", "a"])
        1.0
    """
    import pandas as pd

    if _is_result(values):
        fields = _fields(values)
        if not fields:
            raise ValueError(f"{type(values).__name__}: no [m, m_b] fields to tabulate")
        shape = next(iter(fields.values())).shape
        rows, cols = _axes(shape, reps, others)
        index = pd.MultiIndex.from_product([rows, cols], names=[ROW, COL])
        return pd.DataFrame({k: v.reshape(-1) for k, v in fields.items()}, index=index)
    matrix = np.asarray(values)
    rows, cols = _axes(matrix.shape, reps, others)
    return pd.DataFrame(matrix, index=pd.Index(rows, name=ROW), columns=pd.Index(cols, name=COL))


def to_xarray(values, reps, others=None):
    """A matrix of model pairs as an `xarray.DataArray`, or a result as an `xarray.Dataset`.

    Args:
        values: an `[m, m_b]` matrix or a `PermutationResult` / `BootstrapResult`.
        reps: the models the values were computed from, or their names.
        others: the second collection of models (or names), if any.

    Returns:
        A DataArray with dimensions ("model", "other") and the names as coordinates; for a
        result, a Dataset with one such variable per per-pair field and the result's scalars
        (`n_permutations`, `confidence`, ...) as attributes.

    Raises:
        ImportError: xarray is not installed (`pip install xarray`).

    Examples:
        >>> import numpy as np
        >>> import jaxrsa
        >>> rng = np.random.default_rng(0)
        >>> reps = {"a": rng.normal(size=(20, 5)), "b": rng.normal(size=(20, 3))}
        >>> sims = jaxrsa.to_xarray(jaxrsa.similarity_matrix(reps, measure="cka"), reps)
        >>> sims.dims, sims.coords["other"].values.tolist()
        (('model', 'other'), ['a', 'b'])
    """
    try:
        import xarray as xr
    except ImportError as e:  # an optional dependency: say how to get it
        raise ImportError("to_xarray needs xarray: pip install xarray") from e

    def array(matrix):
        rows, cols = _axes(matrix.shape, reps, others)
        return xr.DataArray(matrix, dims=(ROW, COL), coords={ROW: rows, COL: cols})

    if _is_result(values):
        attrs = {k: v for k, v in values._asdict().items() if v is not None and np.ndim(v) == 0}
        return xr.Dataset({k: array(v) for k, v in _fields(values).items()}, attrs=attrs)
    return array(np.asarray(values))


def unlabel(matrix, rows, cols) -> tuple[np.ndarray, list, list]:
    """A plain matrix and its row and column names, read from a DataFrame or DataArray.

    The plot functions take labelled matrices through this: names given explicitly win, names
    the matrix carries fill in the rest.
    """
    if hasattr(matrix, "index") and hasattr(matrix, "columns"):  # pandas.DataFrame
        found = list(matrix.index), list(matrix.columns)
        matrix = matrix.to_numpy()
    elif hasattr(matrix, "dims") and hasattr(matrix, "coords") and len(matrix.dims) == 2:
        found = [list(matrix.coords[d].values) if d in matrix.coords else None for d in matrix.dims]
        matrix = matrix.values
    else:
        found = [None, None]
    rows = found[0] if rows is None else rows
    cols = found[1] if cols is None else cols
    if rows is None or cols is None:
        raise ValueError(
            "names: give the models' names, or a labelled matrix (jaxrsa.to_dataframe)"
        )
    return np.asarray(matrix), [str(r) for r in rows], [str(c) for c in cols]
