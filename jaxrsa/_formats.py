"""The files the command line reads and writes: activations in, similarity matrices out and in.

Activations (`read_activations`): an ``.npz`` (one ``[n, d_i]`` array per model), an HDF5 file
(``.h5``/``.hdf5``, needs h5py: one dataset per model, at any group depth, named by its path),
or a folder of ``.npy`` (memory-mapped) and ``.csv`` files (one model per file, named by the
file's stem; a CSV is one row per example, with an optional header row). A file holding a single
array of rank 3 or more is a stack ``[m, n, ...]`` of m models, named by the array's ``names``
attribute (HDF5) or a ``names`` array beside it, else ``ARRAY[i]``. Conv maps ``[n, h, w, c]``
are flattened to ``[n, h * w * c]`` on request.

Matrices (`write_matrix`, `read_matrix`): an ``.npz`` holds the matrix under ``similarity`` or
``dissimilarity`` (the measure's direction), ``names`` and ``measure``; a ``.csv`` is a labelled
table whose corner cell says ``KIND (MEASURE)``, whose header row and first column are the model
names, and whose values are the shortest decimals that read back to the same float. Square
``.npy``/``.csv`` matrices without labels are read too (as similarities, unless told).
"""

import csv
import io
import os
import re
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

KINDS = ("similarity", "dissimilarity")
MATRIX_SUFFIXES = (".npz", ".csv")
"""The formats `write_matrix` writes and `read_matrix` reads back (plus plain ``.npy``)."""
HDF5_SUFFIXES = (".h5", ".hdf5")
_CORNER = re.compile(rf"(?P<kind>{'|'.join(KINDS)})(?: \((?P<measure>.*)\))?")
"""The corner cell of a matrix CSV: ``KIND (MEASURE)``."""
STACK_NAMES = "names"
"""The array (or HDF5 attribute) naming the models of a stack ``[m, n, ...]``."""


class CommandError(ValueError):
    """A problem with what the user asked for or gave; the CLI reports it as one line."""


class Matrix(NamedTuple):
    """A model x model matrix as read from a file."""

    values: np.ndarray  # [m, m] float64
    names: list[str]
    kind: str  # "similarity" or "dissimilarity"
    measure: str | None  # the measure that made it, where the file says


# --------------------------------------------------------------------------- activations


def read_activations(path: str | os.PathLike, flatten: bool = False) -> dict[str, np.ndarray]:
    """Every model's `[n, d_i]` activations in `path`, by name (see the module docstring).

    Args:
        path: an ``.npz`` or HDF5 file, or a folder of ``.npy``/``.csv`` files.
        flatten: reshape every `[n, ...]` array (e.g. a conv map `[n, h, w, c]`) to `[n, -1]`.

    Returns:
        model name -> `[n, d]` array (memory-mapped for ``.npy``).

    Raises:
        CommandError: naming the file (and model) for an unreadable file, a folder without
            models, or an array that is not `[n, d]` (with a hint at `--flatten`).

    Examples:
        >>> import tempfile
        >>> import numpy as np
        >>> from jaxrsa._formats import read_activations
        >>> path = tempfile.mkdtemp() + "/acts.npz"
        >>> np.savez(path, cnn=np.zeros((10, 4, 4, 3)), mlp=np.zeros((10, 8)))
        >>> {k: v.shape for k, v in read_activations(path, flatten=True).items()}
        {'cnn': (10, 48), 'mlp': (10, 8)}
    """
    path = Path(path)
    if not path.exists():
        raise CommandError(f"{path}: no such file or directory")
    if path.is_dir():
        acts = _read_folder(path)
    elif path.suffix.lower() in HDF5_SUFFIXES:
        acts = _stacked(path, _read_hdf5(path))
    elif path.suffix.lower() == ".csv":
        raise CommandError(
            f"{path}: a CSV file holds one model; pass a folder of .csv files, one per model"
        )
    else:
        acts = _stacked(path, _read_npz(path))
    for name, a in acts.items():
        if flatten and a.ndim > 2:
            acts[name] = a = a.reshape(a.shape[0], -1)
        if a.ndim != 2:
            hint = "; pass --flatten to flatten feature maps" if a.ndim > 2 else ""
            raise CommandError(
                f"{path}: model {name!r} has shape {a.shape}; expected [n, d] (examples x "
                f"features){hint}"
            )
    return acts


def _read_folder(path: Path) -> dict[str, np.ndarray]:
    files = sorted(f for f in path.iterdir() if f.suffix.lower() in (".npy", ".csv"))
    if not files:
        raise CommandError(f"{path}: the folder holds no .npy or .csv files")
    acts = {}
    for f in files:
        if f.stem in acts:
            raise CommandError(f"{f}: a second file for model {f.stem!r}")
        if f.suffix.lower() == ".csv":
            acts[f.stem] = _read_csv(f).values
            continue
        try:
            acts[f.stem] = np.load(f, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError) as e:
            raise CommandError(f"{f}: not a readable .npy array ({e})") from None
    return acts


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
        raise CommandError(f"{path}: not a readable .npz file ({e})") from None
    if not arrays:
        raise CommandError(f"{path}: the file holds no arrays")
    return arrays


def _h5py(path: Path):
    try:
        import h5py
    except ImportError:
        raise CommandError(
            f"{path}: reading HDF5 needs h5py (pip install 'jaxrsa[hdf5]')"
        ) from None
    return h5py


def _read_hdf5(path: Path) -> dict[str, np.ndarray]:
    """Every dataset of the file by its path (a stack's names attribute as a `names` array)."""
    h5py = _h5py(path)
    arrays = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            arrays[name] = obj[()]
            if STACK_NAMES in obj.attrs:
                arrays.setdefault(STACK_NAMES, np.asarray(obj.attrs[STACK_NAMES]))

    try:
        with h5py.File(path, "r") as f:
            f.visititems(visit)
    except OSError as e:
        raise CommandError(f"{path}: not a readable HDF5 file ({e})") from None
    if not arrays:
        raise CommandError(f"{path}: the file holds no datasets")
    return arrays


def _decode(names) -> list[str]:
    return [n.decode() if isinstance(n, bytes) else str(n) for n in np.asarray(names).ravel()]


def _stacked(path: Path, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Split a single `[m, n, ...]` array into m models; other files are one array per model."""
    names = arrays.pop(STACK_NAMES, None)
    if len(arrays) != 1 or next(iter(arrays.values())).ndim < 3:
        if names is not None:
            arrays[STACK_NAMES] = names  # a model that happens to be called "names"
        for name, a in arrays.items():
            if not np.issubdtype(a.dtype, np.number) and a.dtype != np.bool_:
                raise CommandError(f"{path}: model {name!r} is not numeric (dtype {a.dtype})")
        return arrays
    ((key, stack),) = arrays.items()
    names = [f"{key}[{i}]" for i in range(len(stack))] if names is None else _decode(names)
    if len(names) != len(stack) or len(set(names)) != len(names):
        raise CommandError(
            f"{path}: {STACK_NAMES!r} must be {len(stack)} distinct names, one per model of "
            f"{key!r} {stack.shape}; got {len(names)}"
        )
    return dict(zip(names, stack, strict=True))


# --------------------------------------------------------------------------- CSV


class Table(NamedTuple):
    """A CSV of numbers with its optional header row, row labels and corner cell."""

    header: list[str] | None
    labels: list[str] | None
    corner: str | None
    values: np.ndarray  # [rows, columns] float64


def _read_csv(path: Path) -> Table:
    """A CSV of numbers, with an optional header row and an optional first column of labels
    (present when a row starts with a word, or the corner cell is empty or ``KIND (MEASURE)``,
    as pandas and `write_matrix` write them)."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = [row for row in csv.reader(f) if row]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise CommandError(f"{path}: not a readable CSV file ({e})") from None
    header = None if rows and _numbers(rows[0]) else (rows[0] if rows else None)
    body = rows[1:] if header is not None else rows
    if not body:
        raise CommandError(f"{path}: the file holds no rows of numbers")
    labels = corner = None
    if any(not _numbers(r[:1]) for r in body) or (
        header is not None and (header[0] == "" or _CORNER.fullmatch(header[0]))
    ):
        labels, body = [r[0] for r in body], [r[1:] for r in body]
        if header is not None:
            corner, header = header[0], header[1:]
    width = len(body[0])
    if header is not None and len(header) != width:
        raise CommandError(f"{path}: the header has {len(header)} names for rows of {width}")
    for line, row in enumerate(body, start=1 if header is None else 2):
        if len(row) != width or not _numbers(row):
            raise CommandError(f"{path}: line {line} is not a row of {width} numbers")
    return Table(header, labels, corner, np.array(body, dtype=np.float64).reshape(-1, width))


def _numbers(row: list[str]) -> bool:
    try:
        [float(cell) for cell in row]
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- matrices


def write_matrix(
    path: str | os.PathLike, values, names: list[str], kind: str, measure: str
) -> None:
    """Write an `[m, m]` matrix of `kind` with its model names and measure (format by suffix).

    Args:
        path: ``.npz`` or ``.csv`` (written atomically through `jaxrsa._files`).
        values: `[m, m]` matrix.
        names: the m model names.
        kind: "similarity" or "dissimilarity".
        measure: what made it (e.g. ``"cca(max_dims=20)"``), shown in map titles.

    Examples:
        >>> import tempfile
        >>> import numpy as np
        >>> from jaxrsa._formats import read_matrix, write_matrix
        >>> path = tempfile.mkdtemp() + "/sim.csv"
        >>> write_matrix(path, np.float32([[1, 0.25], [0.25, 1]]), ["a", "b"], "similarity", "cka")
        >>> from pathlib import Path
        >>> print(Path(path).read_text(), end="")
        similarity (cka),a,b
        a,1.0,0.25
        b,0.25,1.0
        >>> read_matrix(path).names, read_matrix(path).measure
        (['a', 'b'], 'cka')
    """
    from jaxrsa import _files

    values = np.asarray(values)
    path = Path(path)
    if path.suffix.lower() == ".csv":
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow([f"{kind} ({measure})", *names])
        for name, row in zip(names, values, strict=True):
            writer.writerow([name, *(str(v) for v in row)])  # shortest decimal that reads back
        _files.write_text(path, text.getvalue())
        return
    with _files.atomic_open(path) as f:
        np.savez(f, **{kind: values}, names=np.array(names), measure=np.array(measure))


def read_matrix(path: str | os.PathLike) -> Matrix:
    """A matrix written by `write_matrix`, or a plain square `.npy`/`.csv` (a similarity).

    Raises:
        CommandError: naming the file for an unreadable or non-square matrix, or names that do
            not match it.
    """
    path = Path(path)
    if not path.is_file():
        raise CommandError(f"{path}: no such file")
    names, kind, measure = None, "similarity", None
    suffix = path.suffix.lower()
    if suffix == ".npz":
        z = _read_npz(path)
        kind = next((k for k in KINDS if k in z), None)
        if kind is None:
            raise CommandError(f"{path}: expected an array named 'similarity' or 'dissimilarity'")
        matrix = z[kind]
        names = _decode(z["names"]) if "names" in z else None
        measure = str(z["measure"]) if "measure" in z else None
    elif suffix == ".csv":
        table = _read_csv(path)
        matrix, names = table.values, table.header or table.labels
        if table.corner is not None and (match := _CORNER.fullmatch(table.corner)):
            kind, measure = match["kind"], match["measure"]
    else:
        try:
            matrix = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as e:
            raise CommandError(f"{path}: not a readable matrix ({e})") from None
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise CommandError(f"{path}: expected a square matrix, got shape {matrix.shape}")
    names = names or [f"model {i}" for i in range(matrix.shape[0])]
    if len(names) != matrix.shape[0]:
        raise CommandError(f"{path}: {len(names)} names for a {matrix.shape[0]}-model matrix")
    return Matrix(np.asarray(matrix, np.float64), names, kind, measure)
