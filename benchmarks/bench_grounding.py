"""Grounding: which measure tells trained models apart, and what each scores by chance.

    python -m benchmarks.bench_grounding [--seeds 5] [--epochs 2] [--samples 1000]

Trains `--seeds` CNNs (6 compared layers: three conv blocks, two dense blocks, logits) and as
many MLPs on the embedded MNIST digits, takes every layer's activations of held-out digits (conv
maps flattened, as `capture` gives them: conv_0 has 14 x 14 x 8 = 1568 features, more than the
examples, so the CCA family is undefined there and says so; `--pool` averages each map over a
4 x 4 grid first, which bounds the widths), and prints one JSON line per registered measure with:

- `layer_identification`: Kornblith et al. (2019, Table 2). For each ordered pair of CNN seeds
  and each layer of the first, is the most similar layer of the second the same layer?
  Accuracy over all of them (chance 1/6).
- `layer_monotonicity`: ReSi's test. Inside one model, the Spearman correlation between
  similarity and closeness of layers (minus the layer distance), averaged over seeds; 1 is a
  similarity that falls steadily with depth difference.
- `family_auprc`: penultimate layers of all models; average precision of within-family pairs
  (MLP-MLP, CNN-CNN) against MLP-CNN pairs, scored by similarity (prevalence of positives in
  `family_baseline`).
- `chance`: mean similarity of a CNN seed's penultimate layer with another seed's whose
  examples are shuffled (distances are reported as they are, so "chance" is in the measure's
  units); `chance_identical`: the same for a model against its own shuffled copy.
Distances (`larger_is_more_similar=False`) are negated for the three scores above.
"""

import argparse
import time

import jax
import numpy as np
from scipy import stats
from sklearn.metrics import average_precision_score

import jaxrsa
from benchmarks._common import emit, log, machine
from jaxrsa import measures
from jaxrsa.data import load_mnist
from jaxrsa.models import train_zoo, zoo_activations

CNN_LAYERS = ("conv_0", "conv_1", "conv_2", "dense_0", "penultimate", "logits")
MLP_LAYERS = ("penultimate",)


def pool(a: np.ndarray, grid: int = 4) -> np.ndarray:
    """`[..., n, h, w, c]` conv maps averaged over a `grid` x `grid` partition (at most one cell
    per pixel), flattened."""
    if a.ndim < 4:
        return a
    h_parts = np.array_split(np.arange(a.shape[-3]), min(grid, a.shape[-3]))
    w_parts = np.array_split(np.arange(a.shape[-2]), min(grid, a.shape[-2]))
    cells = [
        a[..., h[:, None], w[None, :], :].mean(axis=(-3, -2)) for h in h_parts for w in w_parts
    ]
    return np.stack(cells, axis=-2).reshape(*a.shape[:-3], -1)


def activations(
    seeds: int,
    epochs: int,
    samples: int,
    key: int = 0,
    small: bool = False,
    train_size=None,
    pooled: bool = False,
):
    """CNN layers `{layer: [seeds, n, d]}` and MLP penultimate `[seeds, n, d]` of held-out
    digits (`small`: tiny models, for the tests; `pooled`: conv maps on a 4 x 4 grid)."""
    train, test = load_mnist("train", source="embedded"), load_mnist("test", source="embedded")
    x, y = train.images[:train_size], train.labels[:train_size]
    held = test.images[:samples]
    cnn_kw = {"channels": (4, 4, 4), "dense": (8, 8)} if small else {
        "channels": (8, 16, 32), "dense": (64, 32)}  # fmt: skip
    mlp_kw = {"hidden": (8, 8)} if small else {"hidden": (128, 32)}
    cnns = train_zoo("cnn", seeds, epochs, (x, y), key=key, **cnn_kw)
    mlps = train_zoo("mlp", seeds, epochs, (x, y), key=key + 1, **mlp_kw)
    cnn = {k: np.asarray(v, np.float32) for k, v in
           zoo_activations(cnns, held, list(CNN_LAYERS)).items()}  # fmt: skip
    mlp = zoo_activations(mlps, held, "penultimate")
    if pooled:  # flattened [seeds, n, s * s * c] maps back to [seeds, n, s, s, c], then pooled
        for k, c in enumerate(cnn_kw["channels"]):
            side = 28 // 2 ** (k + 1)
            a = cnn[f"conv_{k}"]
            cnn[f"conv_{k}"] = pool(a.reshape(*a.shape[:2], side, side, c))
    return cnn, np.asarray(mlp)


def scores(measure, cnn: dict, mlp: np.ndarray, *, key) -> dict:
    """The four grounding figures of one measure (see the module docstring)."""
    seeds, layers = mlp.shape[0], len(CNN_LAYERS)
    sign = 1.0 if measure.larger_is_more_similar else -1.0
    reps = [cnn[layer][s] for s in range(seeds) for layer in CNN_LAYERS]  # seed-major
    sim = sign * np.asarray(jaxrsa.similarity_matrix(reps, measure=measure), np.float64)
    sim = sim.reshape(seeds, layers, seeds, layers)
    hits = [
        np.argmax(sim[a, i, b]) == i
        for a in range(seeds) for b in range(seeds) if a != b for i in range(layers)
    ]  # fmt: skip
    gap = np.abs(np.subtract.outer(np.arange(layers), np.arange(layers)))
    iu = np.triu_indices(layers, 1)
    mono = [stats.spearmanr(sim[s, :, s][iu], -gap[iu])[0] for s in range(seeds)]
    pen = [cnn["penultimate"][s] for s in range(seeds)] + list(mlp)
    fam = sign * np.asarray(jaxrsa.similarity_matrix(pen, measure=measure), np.float64)
    family = np.array([0] * seeds + [1] * seeds)
    iu2 = np.triu_indices(2 * seeds, 1)
    same = (family[:, None] == family[None, :])[iu2]
    auprc = average_precision_score(same, fam[iu2])
    n = mlp.shape[1]
    perm = np.asarray(jax.random.permutation(key, n))
    base = cnn["penultimate"]
    chance = [
        float(jaxrsa.similarity(base[s], base[(s + 1) % seeds][perm], measure))
        for s in range(seeds)
    ]
    identical = [float(jaxrsa.similarity(base[s], base[s][perm], measure)) for s in range(seeds)]
    return {
        "layer_identification": round(float(np.mean(hits)), 4),
        "layer_monotonicity": round(float(np.nanmean(mono)), 4),
        "family_auprc": round(float(auprc), 4),
        "family_baseline": round(float(same.mean()), 4),
        "chance": round(float(np.mean(chance)), 4),
        "chance_identical": round(float(np.mean(identical)), 4),
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--measures", nargs="+", default=None)
    p.add_argument("--pool", action="store_true", help="conv maps averaged on a 4 x 4 grid")
    args = p.parse_args(argv)
    start = time.perf_counter()
    cnn, mlp = activations(args.seeds, args.epochs, args.samples, pooled=args.pool)
    log(f"trained and captured in {time.perf_counter() - start:.1f}s; widths "
        + ", ".join(f"{k}={v.shape[-1]}" for k, v in cnn.items()))  # fmt: skip
    info = machine()
    for name in args.measures or measures.names():
        t = time.perf_counter()
        try:
            figures = scores(measures.get(name), cnn, mlp, key=jax.random.key(0))
        except ValueError as e:  # a measure undefined on these layers says why
            figures = {"error": str(e).splitlines()[0]}
        emit({
            "benchmark": "grounding", "measure": name, **figures, "seeds": args.seeds,
            "epochs": args.epochs, "n": args.samples, "pooled": args.pool,
            "larger_is_more_similar": measures.get(name).larger_is_more_similar,
            "seconds": round(time.perf_counter() - t, 2), **info,
        })  # fmt: skip


if __name__ == "__main__":
    main()
