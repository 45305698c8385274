"""Shared benchmark helpers: machine facts, min-of-repeats timing, the matmul yardstick."""

import json
import os
import platform
import sys
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np


def machine() -> dict:
    """What the figures were measured on."""
    dev = jax.devices()[0]
    return {
        "machine": platform.node(),
        "cpu": _cpu_name(),
        "cores": len(os.sched_getaffinity(0)),
        "backend": jax.default_backend(),
        "device": dev.device_kind,
        "n_devices": jax.device_count(),
        "jax": jax.__version__,
        "python": platform.python_version(),
        "load_1min": round(os.getloadavg()[0], 2),
    }


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def best_time(fn: Callable[[], object], repeats: int = 3, warmup: int = 1) -> float:
    """Minimum wall time of `fn()` over `repeats` runs after `warmup` runs (compilation)."""
    for _ in range(warmup):
        jax.block_until_ready(fn())
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - start)
    return best


def matmul_gflops(size: int = 4096, repeats: int = 5) -> float:
    """The machine's float32 matrix-product rate: jnp.dot of two size x size matrices."""
    a = jnp.asarray(np.random.default_rng(0).standard_normal((size, size), np.float32))
    dot = jax.jit(jnp.dot)
    return 2 * size**3 / best_time(lambda: dot(a, a), repeats=repeats) / 1e9


def numpy_matmul_gflops(size: int = 4096, repeats: int = 5) -> float:
    """The same rate through NumPy's BLAS (the library a NumPy peer runs on)."""
    a = np.random.default_rng(0).standard_normal((size, size), np.float32)
    return 2 * size**3 / best_time(lambda: a @ a, repeats=repeats) / 1e9


def emit(record: dict, out=None) -> dict:
    """Print one JSON line (and append it to the open file `out` if given)."""
    line = json.dumps(record, sort_keys=False)
    print(line, flush=True)
    if out is not None:
        out.write(line + "\n")
    return record


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)
