"""`jaxrsa demo`: train MLPs and CNNs on MNIST and map them by representational similarity.

The pipeline of Abnar's "Visualizing Model Comparison": train a zoo of each family, take the
penultimate-layer activations of held-out digits at every epoch, compute the model x model
similarity (default: row-wise RSA), embed it with MDS, and draw the model map, the training
trajectories, the similarity heatmap, layer x layer similarity inside one MLP and one CNN, and
example RDMs.
"""

import dataclasses
import json
import os
import time
from pathlib import Path

import numpy as np

from jaxrsa import _files

FAMILIES = {
    "MLP": ("mlp", {"hidden": (256, 128)}),
    "CNN": ("cnn", {"channels": (16, 32), "dense": (128,)}),
}


@dataclasses.dataclass(frozen=True)
class DemoConfig:
    """Options of `jaxrsa demo` (see `jaxrsa demo --help`)."""

    out: str = "jaxrsa-demo"
    data: str = "embedded"
    mlps: int = 8
    cnns: int = 8
    epochs: int = 5
    samples: int = 500
    measure: str = "rsa"
    seed: int = 0
    batch_size: int = 100
    progress: bool = True
    resamples: int = 100  # bootstrap replicates behind the map's regions and the intervals
    permutations: int = 199  # permutation replicates behind the p-values


def load_data(data: str):
    """(train, test) `(images, labels)` pairs for `--data`."""
    from jaxrsa.data import load_fashion_mnist, load_mnist

    if data == "fashion-mnist":
        return load_fashion_mnist("train"), load_fashion_mnist("test")
    if data in ("embedded", "mnist"):
        source = "embedded" if data == "embedded" else "auto"
        return load_mnist("train", source=source), load_mnist("test", source=source)
    if not os.path.isdir(data):
        raise ValueError(
            f"--data {data!r}: expected embedded, mnist, fashion-mnist or a folder of IDX files"
        )
    return load_mnist("train", source=data), load_mnist("test", source=data)


def probe_set(test, samples: int):
    """The first `samples` held-out examples (the loaders' test splits are in random order)."""
    images, labels = test
    if samples > len(labels):
        raise ValueError(f"--samples {samples}: the held-out set has only {len(labels)} examples")
    if samples < 10:
        raise ValueError(f"--samples {samples}: need at least 10 examples to compare")
    return images[:samples], labels[:samples]


def check_feasible(config: DemoConfig, probe_images: np.ndarray) -> None:
    """Raise before any training if the demo could not finish with these options.

    The model map needs 3 models; every compared layer (penultimate of each model, every layer
    of the first MLP and CNN) must suit the measure at `config.samples` examples: the measure
    is run once on random activations of those shapes, so its own checks (CCA needs more
    examples than features, mutual kNN more than k) speak, naming the layer.
    """
    import jax
    from flax import nnx

    import jaxrsa
    from jaxrsa.models._families import abstract_model

    if config.mlps + config.cnns < 3:
        raise ValueError(
            f"--mlps {config.mlps} --cnns {config.cnns}: the model map (2-D MDS) needs at least "
            f"3 models, got {config.mlps + config.cnns}"
        )
    rng = np.random.default_rng(0)
    shapes = {}
    image = jax.ShapeDtypeStruct((1, *probe_images.shape[1:]), probe_images.dtype)
    for family, (kind, arch) in FAMILIES.items():
        graph, state = nnx.split(abstract_model(kind, arch))
        features = jax.eval_shape(lambda s, x, g=graph: nnx.merge(g, s).features(x), state, image)
        for layer, a in features.items():
            if layer != "input":
                shapes[f"{family.lower()}0 {layer}"] = (config.samples, int(np.prod(a.shape[1:])))
    dummy = {name: rng.standard_normal(shape, np.float32) for name, shape in shapes.items()}
    try:
        jaxrsa.similarity_matrix(dummy, measure=config.measure)
    except ValueError as e:
        raise ValueError(f"--measure {config.measure} --samples {config.samples}: {e}") from None


def family_summary(similarity: np.ndarray, groups: list[str]) -> dict:
    """Mean similarity within each family and between families (off-diagonal entries)."""
    groups = np.asarray(groups)
    off = ~np.eye(len(groups), dtype=bool)
    same = groups[:, None] == groups[None, :]
    out = {
        f"within_{g}": float(similarity[same & off & (groups[:, None] == g)].mean())
        for g in dict.fromkeys(groups)
        if (groups == g).sum() > 1
    }
    within = similarity[same & off]
    out["within"] = float(within.mean()) if within.size else float("nan")
    out["between"] = float(similarity[~same].mean()) if (~same).any() else float("nan")
    return out


class _Stages:
    """Wall time of each stage, printed as it ends."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    def run(self, name: str, fn, *args, **kwargs):
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        self.seconds[name] = round(time.perf_counter() - start, 2)
        print(f"  {name}: {self.seconds[name]:.1f} s", flush=True)
        return out


def run_demo(config: DemoConfig) -> dict:
    """Run the whole pipeline; write figures, `results.npz` and `summary.json` to `config.out`.

    Returns the summary (also written as JSON).
    """
    import jax

    import jaxrsa
    from jaxrsa import measures, plot
    from jaxrsa.models import activations, train_zoo, zoo_activations
    from jaxrsa.plot._style import new_figure

    measures.get(config.measure)  # fail early on a bad name
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    _files.remove_stale(out)
    stages = _Stages()
    key = jax.random.key(config.seed)
    counts = {"MLP": config.mlps, "CNN": config.cnns}

    print(
        f"jaxrsa demo: {config.mlps} MLPs + {config.cnns} CNNs, {config.epochs} epochs, "
        f"data {config.data}, {config.samples} held-out examples, measure {config.measure}"
    )
    train, test = stages.run("data", load_data, config.data)
    probe_images, probe_labels = probe_set(test, config.samples)
    check_feasible(config, probe_images)

    zoos = {}
    for i, (family, (kind, arch)) in enumerate(FAMILIES.items()):
        zoos[family] = stages.run(
            f"train {family}s",
            train_zoo,
            kind,
            counts[family],
            config.epochs,
            train,
            test,
            key=jax.random.fold_in(key, i),
            batch_size=config.batch_size,
            ckpt_dir=out / "checkpoints" / kind,
            progress=config.progress,
            **arch,
        )

    def every_epoch():
        epochs = range(config.epochs + 1)
        return {
            f: np.asarray(zoo_activations(z, probe_images, epoch=epochs)) for f, z in zoos.items()
        }

    acts = stages.run("activations", every_epoch)  # family -> [epochs + 1, m, n, d]
    names = [f"{f.lower()}{i}" for f, z in zoos.items() for i in range(z.n_models)]
    groups = [f for f, z in zoos.items() for _ in range(z.n_models)]
    final = dict(zip(names, (a for f in zoos for a in acts[f][-1]), strict=True))
    snapshots = {
        f"{name} epoch {e}": a
        for name, model in zip(
            names, (m for f in zoos for m in np.swapaxes(acts[f], 0, 1)), strict=True
        )
        for e, a in enumerate(model)
    }

    def similarities():
        s_final = np.asarray(jaxrsa.similarity_matrix(final, measure=config.measure))
        s_all = np.asarray(
            jaxrsa.similarity_matrix(snapshots, measure=config.measure, progress=config.progress)
        )
        return s_final, s_all

    s_final, s_all = stages.run("similarity", similarities)

    def inference():
        k_boot, k_perm = jax.random.split(jax.random.fold_in(key, 7))
        boot, replicates = jaxrsa.bootstrap(
            final, measure=config.measure, n_resamples=config.resamples, key=k_boot,
            return_replicates=True,
        )  # fmt: skip
        perm = jaxrsa.permutation_test(
            final, measure=config.measure, n_permutations=config.permutations, key=k_perm
        )
        return boot, replicates, perm

    boot, replicates, perm = stages.run("inference", inference)

    def embed():
        k1, k2 = jax.random.split(jax.random.fold_in(key, 99))
        mapped = jaxrsa.mds(jaxrsa.to_dissimilarity(s_final, measure=config.measure), key=k1)
        paths = jaxrsa.mds(jaxrsa.to_dissimilarity(s_all, measure=config.measure), key=k2)
        return mapped, paths

    mapped, paths = stages.run("mds", embed)

    def uncertainty():
        """Every bootstrap matrix embedded from the main map and aligned to it."""
        sims = 0.5 * (replicates + np.swapaxes(replicates, 1, 2))
        if measures.get(config.measure).larger_is_more_similar:
            sims = np.clip(sims, -1.0, 1.0)
            sims[:, np.arange(len(names)), np.arange(len(names))] = 1.0  # self-similarity
        else:
            sims = np.maximum(sims, 0.0)
            sims[:, np.arange(len(names)), np.arange(len(names))] = 0.0  # self-distance
        dissim = jaxrsa.to_dissimilarity(sims, measure=config.measure)
        fits = jaxrsa.mds(dissim, init=mapped.embedding)
        return np.asarray(jaxrsa.procrustes_align(fits.embedding, mapped.embedding))

    regions = stages.run("map regions", uncertainty)
    trajectories = np.asarray(paths.embedding).reshape(len(names), config.epochs + 1, 2)

    def layers():
        out = {}
        for family, zoo in zoos.items():
            # "penultimate" names the last hidden layer a second time
            layer_names = [n for n in zoo.layer_names if n not in ("input", "penultimate")]
            per_layer = activations(zoo.model(0), probe_images, layer_names)
            out[family] = (
                layer_names,
                np.asarray(jaxrsa.similarity_matrix(per_layer, measure=config.measure)),
            )
        return out

    layer_sims = stages.run("layers", layers)
    accuracy = {f: np.asarray(z.metrics["test_accuracy"][-1]) for f, z in zoos.items()}
    acc = np.concatenate(list(accuracy.values()))

    chance = (np.asarray(perm.p_value) >= 0.05) & ~np.eye(len(names), dtype=bool)

    def figures():
        extra = {f: f"test accuracy {a.mean():.3f}" for f, a in accuracy.items()}
        plot.save(
            plot.model_map(
                np.asarray(mapped.embedding),
                groups,
                legend_extra=extra,
                regions=regions,
                title=f"MNIST models by representational similarity ({config.measure}, MDS)",
            ),
            out / "model_map.png",
        )
        plot.save(
            plot.trajectories(
                trajectories,
                groups,
                title=f"Training trajectories, epochs 0-{config.epochs} ({config.measure}, MDS)",
            ),
            out / "trajectories.png",
        )
        plot.save(
            plot.similarity_heatmap(
                s_final,
                names,
                groups,
                title=f"Model x model similarity ({config.measure}; x: permutation p >= 0.05)",
                label=config.measure,
                chance=chance,
            ),
            out / "similarity.png",
        )
        fig = new_figure(5.2 * len(layer_sims), 4.6)
        for ax, (family, (lnames, sim)) in zip(
            fig.subplots(1, len(layer_sims)), layer_sims.items(), strict=True
        ):
            plot.layer_heatmap(sim, lnames, lnames, ax=ax, title=f"{family} 0: layer x layer")
        plot.save(fig, out / "layers.png")
        first = {f: i for i, f in reversed(list(enumerate(groups)))}
        panel = [probe_images.reshape(len(probe_images), -1).astype(np.float32)]
        panel += [final[names[first[f]]] for f in zoos]
        titles = ["input pixels"] + [f"{names[first[f]]} penultimate" for f in zoos]
        rdms = np.stack([np.asarray(jaxrsa.rdm(p, "correlation")) for p in panel])
        plot.save(plot.rdm_panel(rdms, titles, probe_labels), out / "rdms.png")

    stages.run("figures", figures)

    summary = {
        "config": dataclasses.asdict(config),
        "models": names,
        "families": groups,
        "test_accuracy": dict(zip(names, acc.round(4).tolist(), strict=True)),
        "similarity": family_summary(s_final, groups),
        "inference": {
            "n_resamples": config.resamples,
            "confidence": boot.confidence,
            "n_permutations": config.permutations,
            "not_different_from_chance": int(chance[np.triu_indices(len(names), 1)].sum()),
            "pairs": int(len(names) * (len(names) - 1) // 2),
            "similarity": _rounded(s_final),
            "low": _rounded(boot.low),
            "high": _rounded(boot.high),
            "p_value": _rounded(perm.p_value),
            "calibrated": None if perm.calibrated is None else _rounded(perm.calibrated),
        },
        "mds_stress_1": {
            "model_map": float(mapped.stress_1),
            "trajectories": float(paths.stress_1),
        },
        "seconds": stages.seconds,
    }
    with _files.atomic_open(out / "results.npz") as f:
        np.savez_compressed(
            f,
            names=np.array(names),
            families=np.array(groups),
            similarity=s_final,
            similarity_all_epochs=s_all,
            embedding=np.asarray(mapped.embedding),
            bootstrap_low=np.asarray(boot.low),
            bootstrap_high=np.asarray(boot.high),
            bootstrap_embeddings=regions,
            p_value=np.asarray(perm.p_value),
            null_mean=np.asarray(perm.null_mean),
            trajectories=trajectories,
            test_accuracy=acc,
            probe_labels=probe_labels,
            **{f"layers_{f}": sim for f, (_, sim) in layer_sims.items()},
        )
    _files.write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    _print_table(summary, accuracy, config.measure)
    print(f"figures and results in {out}/")
    return summary


def _rounded(matrix) -> list:
    """A matrix as nested lists with 4 decimals, for the summary."""
    return np.round(np.asarray(matrix, np.float64), 4).tolist()


def _print_table(summary: dict, accuracy: dict, measure: str) -> None:
    from jaxrsa import measures

    sim = summary["similarity"]
    similar = measures.get(measure).larger_is_more_similar
    word, short = ("similarity", "sim") if similar else ("distance", "dist")
    print(f"\n{'family':<8}{'models':>7}{'test accuracy':>16}{'within-family ' + short:>20}")
    for family, acc in accuracy.items():
        within = sim.get(f"within_{family}", float("nan"))
        print(f"{family:<8}{len(acc):>7}{acc.mean():>10.3f} ± {acc.std():.3f}{within:>17.3f}")
    print(f"mean {word} within families {sim['within']:.3f}, between families {sim['between']:.3f}")
