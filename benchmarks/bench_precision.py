"""Error of reduced-precision Gram products against float64, on real activations.

    python -m benchmarks.bench_precision [--models 8 --samples 500]

Data: penultimate activations of held-out embedded MNIST digits from MLPs and CNNs trained for
two epochs (real models, as in the demo). For `rsa`, `rsa_pearson` and `cka`: the m x m matrix
in float64 (the reference) against `precision="float32"`, `"bfloat16"` and TF32. TF32 is what
NVIDIA GPUs run for `"tf32"`; where the backend has no TF32 (CPU) it is emulated here by
rounding the prepared vectors to TF32's 10-bit mantissa before a float32 product. One JSON line
per measure and precision: the largest and the mean absolute error.
"""

import argparse

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402

import jaxrsa  # noqa: E402
from benchmarks._common import emit, log, machine  # noqa: E402
from jaxrsa import measures  # noqa: E402
from jaxrsa.data import load_mnist  # noqa: E402
from jaxrsa.models import train_zoo, zoo_activations  # noqa: E402


def real_activations(models: int, samples: int) -> list[np.ndarray]:
    train, test = load_mnist("train", source="embedded"), load_mnist("test", source="embedded")
    probe = test.images[:samples]
    acts = []
    for family, arch in [("mlp", {"hidden": (256, 128)}), ("cnn", {"channels": (16, 32)})]:
        log(f"training {models // 2} {family}s ...")
        zoo = train_zoo(family, models // 2, 2, train, key=0, batch_size=100, **arch)
        acts += list(np.asarray(zoo_activations(zoo, probe), np.float64))
    return acts


def tf32_round(x: np.ndarray) -> np.ndarray:
    """float32 values rounded to nearest with a 10-bit mantissa (TF32's inputs)."""
    bits = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    bits = (bits + 0x1000) & 0xFFFFE000  # round at bit 13, clear the 13 dropped bits
    return bits.astype(np.uint32).view(np.float32)


def tf32_matrix(acts, name: str) -> np.ndarray:
    m = measures.get(name)
    phi = np.stack([np.asarray(m.prepare(jnp.asarray(a, jnp.float32))) for a in acts])
    phi = tf32_round(phi)
    return np.clip(phi @ phi.T, -1, 1)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", type=int, default=8)
    p.add_argument("--samples", type=int, default=500)
    p.add_argument("--measures", nargs="+", default=["rsa", "rsa_pearson", "cka"])
    args = p.parse_args(argv)
    acts = real_activations(args.models, args.samples)
    info = machine()
    for name in args.measures:
        exact = np.asarray(jaxrsa.similarity_matrix(acts, measure=name))  # float64
        f32 = [a.astype(np.float32) for a in acts]
        results = {
            precision: np.asarray(jaxrsa.similarity_matrix(f32, measure=name, precision=precision))
            for precision in ("float32", "bfloat16")
        }
        results["tf32 (emulated)" if info["backend"] == "cpu" else "tf32"] = (
            tf32_matrix(acts, name)
            if info["backend"] == "cpu"
            else np.asarray(jaxrsa.similarity_matrix(f32, measure=name, precision="tf32"))
        )
        off = ~np.eye(len(acts), dtype=bool)
        for precision, got in results.items():
            err = np.abs(got.astype(np.float64) - exact)
            emit(
                {
                    "bench": "precision",
                    "measure": name,
                    "precision": precision,
                    "models": len(acts),
                    "n": args.samples,
                    "max_abs_error": float(err.max()),
                    "mean_abs_error": float(err[off].mean()),
                    "similarity_range": [float(exact[off].min()), float(exact[off].max())],
                    "backend": info["backend"],
                }
            )


if __name__ == "__main__":
    main()
