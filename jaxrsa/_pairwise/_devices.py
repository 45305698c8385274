"""Where values live: the devices' one-axis mesh, host data as global arrays, results to host.

Nothing assumes a single process: global arrays are built from host data with
`make_array_from_callback`, and results are gathered with `process_allgather` when there are
several processes (`jax.distributed`).
"""

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jaxrsa import _inputs

AXIS = "models"


def mesh(devices) -> Mesh | None:
    """The devices' one-axis mesh, None for one device."""
    devices = _inputs.devices("devices", devices)
    return None if len(devices) == 1 else Mesh(np.array(devices), (AXIS,))


def size(mesh: Mesh | None) -> int:
    return 1 if mesh is None else mesh.size


def to_host(x: jax.Array) -> np.ndarray:
    """A (possibly sharded, possibly multi-process) array as one NumPy array on this host."""
    if jax.process_count() > 1 and not x.is_fully_addressable:
        return np.asarray(multihost_utils.process_allgather(x, tiled=True))
    return np.asarray(x)


def put(xs, mesh: Mesh | None) -> jax.Array:
    """Data (the same on every process) as a global array split along its first axis; a JAX
    array already on the one device stays there."""
    if mesh is None:
        return jnp.asarray(xs)
    xs = np.asarray(xs)
    sharding = NamedSharding(mesh, P(AXIS))
    return jax.make_array_from_callback(xs.shape, sharding, lambda index: xs[index])


def stack(arrays, idx: np.ndarray):
    """Models `idx` stacked `[len(idx), n, d]` in their own dtype: NumPy for host data, a JAX
    array for data already on a device."""
    if hasattr(arrays, "shape"):
        contiguous = np.array_equal(idx, np.arange(idx[0], idx[0] + len(idx)))
        xs = arrays[idx[0] : idx[0] + len(idx)] if contiguous else arrays[idx]
        return xs if isinstance(xs, jax.Array) else np.asarray(xs)
    xs = [arrays[i] for i in idx]
    if all(isinstance(x, jax.Array) for x in xs):
        return jnp.stack(xs)
    return np.stack([np.asarray(x) for x in xs])
