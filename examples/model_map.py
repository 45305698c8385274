"""Map models by representational similarity: activations in, an MDS map out.

    python examples/model_map.py [--models 12 --examples 300 --out model_map.png]

Stands in for your own networks with two synthetic "families" of representations of the same
examples (each family a different nonlinear view of shared latent factors, each model a random
width and mixing), then runs the whole second half of the pipeline: all pairs, MDS, a figure.
"""

import argparse

import jax
import numpy as np

import jaxrsa
from jaxrsa import plot


def family_activations(models: int, examples: int, seed: int = 0) -> dict[str, np.ndarray]:
    """`models` representations `[examples, width]` in two families that view data differently."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(examples, 8))
    acts = {}
    for i in range(models):
        family = "relu" if i % 2 == 0 else "tanh"
        width = int(rng.integers(32, 129))
        h = latent @ rng.normal(size=(8, width)) + 0.3 * rng.normal(size=(examples, width))
        acts[f"{family}{i // 2}"] = np.maximum(h, 0) + 0.01 if family == "relu" else np.tanh(h)
    return acts


def main(models: int = 12, examples: int = 300, measure: str = "cka", out: str | None = None):
    """Similarity matrix, MDS embedding and (with `out`) the figure; returns the MDS result."""
    acts = family_activations(models, examples)
    sim = jaxrsa.similarity_matrix(acts, measure=measure)
    fit = jaxrsa.mds(jaxrsa.to_dissimilarity(sim, measure=measure), key=jax.random.key(0))
    if out:
        groups = [name.rstrip("0123456789") for name in acts]
        plot.save(plot.model_map(np.asarray(fit.embedding), groups, names=list(acts)), out)
    return fit


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", type=int, default=12)
    p.add_argument("--examples", type=int, default=300)
    p.add_argument("--measure", default="cka")
    p.add_argument("--out", default="model_map.png")
    a = p.parse_args()
    fit = main(a.models, a.examples, a.measure, a.out)
    print(f"stress-1 {float(fit.stress_1):.3f}, converged {bool(fit.converged)}; map in {a.out}")
