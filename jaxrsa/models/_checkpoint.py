"""Per-epoch checkpoint files: a NumPy ``.npz`` of pytree leaves and a JSON sidecar.

Epoch ``e`` of a run is two files in the checkpoint directory:

- ``epoch_{e:04d}.npz``: every leaf of the saved pytree, keyed by its key path
  (``jax.tree_util.keystr``, e.g. ``"['model']['blocks'][0]['linear']['kernel'].value"``);
- ``epoch_{e:04d}.json``: metadata (epoch, metrics, config, ...), the SHA-256 of the
  ``.npz`` and the SHA-256 of the sidecar's own content (``sidecar_sha256``), so that an edited
  or damaged sidecar (a metric gone, a number changed) is refused by name instead of failing
  later.

Both are written by `jaxrsa._files` (temporary file, fsync, `os.replace`, fsync of the
directory), the ``.npz`` first: an epoch is complete exactly when its ``.json`` exists, so a run
killed at any moment leaves only complete epochs behind (plus, at worst, an orphan ``.npz`` or a
temporary file, both overwritten or removed by the next run).
"""

import hashlib
import io
import json
import re
from collections.abc import Callable
from pathlib import Path

import jax
import numpy as np

from jaxrsa import _files

_EPOCH_FILE = re.compile(r"epoch_(\d{4,})\.json")


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable, corrupt, or belongs to a different run."""


def arrays_path(directory: Path, epoch: int) -> Path:
    return Path(directory) / f"epoch_{epoch:04d}.npz"


def meta_path(directory: Path, epoch: int) -> Path:
    return Path(directory) / f"epoch_{epoch:04d}.json"


def remove_temporary_files(directory: Path) -> None:
    """Remove temporary files left by a killed run."""
    _files.remove_stale(directory)


def _sidecar_digest(meta: dict) -> str:
    """SHA-256 of a sidecar's content without its own checksum (canonical JSON)."""
    body = {k: v for k, v in meta.items() if k != "sidecar_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def save(directory: Path, epoch: int, tree, meta: dict) -> None:
    """Write epoch `epoch`: the leaves of `tree` and `meta` (JSON-serialisable) atomically."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    buffer = io.BytesIO()
    np.savez(buffer, **{jax.tree_util.keystr(path): np.asarray(leaf) for path, leaf in leaves})
    data = buffer.getvalue()
    _files.write_bytes(arrays_path(directory, epoch), data)
    meta = {**meta, "epoch": epoch, "sha256": hashlib.sha256(data).hexdigest()}
    meta["sidecar_sha256"] = _sidecar_digest(meta)
    _files.write_text(meta_path(directory, epoch), json.dumps(meta, indent=1))


def complete_epochs(directory: Path) -> list[int]:
    """Sorted epochs of `directory` whose sidecar exists (empty if the directory does not)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = (_EPOCH_FILE.fullmatch(p.name) for p in directory.iterdir())
    return sorted(int(m.group(1)) for m in found if m)


def load_meta(directory: Path, epoch: int) -> dict:
    """The JSON sidecar of epoch `epoch`, or a CheckpointError naming the file."""
    path = meta_path(directory, epoch)
    try:
        meta = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint file {path} is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"checkpoint file {path} is corrupt: not valid JSON ({e})") from e
    if not isinstance(meta, dict) or meta.get("epoch") != epoch or "sha256" not in meta:
        raise CheckpointError(f"checkpoint file {path} is corrupt: not an epoch-{epoch} sidecar")
    return meta


def load(directory: Path, epoch: int, target, check: Callable[[dict], None] | None = None):
    """Read epoch `epoch` into the structure of `target`.

    Args:
        directory: the checkpoint directory.
        epoch: which epoch.
        target: a pytree (arrays or `jax.ShapeDtypeStruct`) whose key paths name the arrays to
            read (a subset of the saved tree, e.g. ``{"model": ...}`` without the optimizer);
            shapes and dtypes must match.
        check: called with the metadata before the checksums are verified and the arrays read
            (to reject another run's checkpoint early).

    Returns:
        (tree shaped like `target` holding NumPy arrays, metadata dict).

    Raises:
        CheckpointError: naming the file that is missing, corrupt or does not match.
    """
    meta = load_meta(directory, epoch)
    if check is not None:
        check(meta)
    if meta.get("sidecar_sha256") != _sidecar_digest(meta):
        raise CheckpointError(
            f"checkpoint file {meta_path(directory, epoch)} is corrupt: its content differs from "
            "its recorded SHA-256 (edited or damaged; an older jaxrsa wrote none)"
        )
    path = arrays_path(directory, epoch)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint file {path} is missing") from None
    if hashlib.sha256(data).hexdigest() != meta["sha256"]:
        raise CheckpointError(
            f"checkpoint file {path} is corrupt: its SHA-256 differs from the one recorded in "
            f"{meta_path(directory, epoch)}"
        )
    leaves, treedef = jax.tree_util.tree_flatten_with_path(target)
    out = []
    with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
        for key_path, leaf in leaves:
            name = jax.tree_util.keystr(key_path)
            if name not in arrays.files:
                raise CheckpointError(f"checkpoint file {path} has no array {name}")
            array = arrays[name]
            if array.shape != leaf.shape or array.dtype != leaf.dtype:
                raise CheckpointError(
                    f"checkpoint file {path}: array {name} is {array.dtype}{list(array.shape)}, "
                    f"expected {leaf.dtype}{list(leaf.shape)}"
                )
            out.append(array)
    return jax.tree_util.tree_unflatten(treedef, out), meta
