"""A zoo of same-architecture models with different seeds, trained at once."""

import dataclasses
import functools
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.typing import ArrayLike
from tqdm.auto import tqdm

from jaxrsa import _inputs
from jaxrsa.models import _checkpoint
from jaxrsa.models._base import Classifier
from jaxrsa.models._checkpoint import CheckpointError
from jaxrsa.models._families import abstract_model
from jaxrsa.models._train import TrainState, evaluate, hashable, init_state_jit, train_epoch

STRATEGIES = ("vmap", "loop")
# Examples per evaluation batch (fixed, so evaluation compiles once per data size; small
# batches keep the CNN im2col buffers in cache: up to 2x faster than 250 on XLA:CPU).
EVAL_BATCH = 50
_FORMAT = "jaxrsa.models.zoo/1"


@dataclasses.dataclass(frozen=True)
class ZooConfig:
    """What defines a zoo run (stored with every checkpoint; a resume must match it).

    Attributes:
        family: ``"mlp"`` or ``"cnn"``.
        hyperparameters: keyword arguments of the model class (see `MLP`, `CNN`).
        n_models: number of models.
        batch_size: training examples per step.
        learning_rate: Adam's step size.
        key_data: ``[n_models, ...]`` raw data of the models' PRNG keys (nested lists).
        key_impl: name of the PRNG implementation, e.g. ``"threefry2x32"``.
        data: number of examples and SHA-256 of the training (and test) images and labels.
    """

    family: str
    hyperparameters: dict
    n_models: int
    batch_size: int
    learning_rate: float
    key_data: list
    key_impl: str
    data: dict

    def to_json(self) -> dict:
        """A JSON-ready dict (tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @property
    def model_keys(self) -> jax.Array:
        """The models' PRNG keys ``[n_models]``."""
        return jax.random.wrap_key_data(np.asarray(self.key_data, np.uint32), impl=self.key_impl)


@dataclasses.dataclass(frozen=True, eq=False)
class Zoo:
    """Result of `train_zoo` / `load_zoo`: every model at every epoch, with its metrics.

    Attributes:
        config: the `ZooConfig` of the run.
        graphdef: the `nnx.GraphDef` shared by all models.
        states: `nnx.State` whose arrays have leading axes ``[n_epochs + 1, n_models]``;
            epoch 0 is the initialisation.
        metrics: ``"train_loss"``, ``"train_accuracy"`` (and ``"test_loss"``,
            ``"test_accuracy"`` when the zoo had test data), each ``[n_epochs + 1, n_models]``:
            mean cross-entropy and accuracy over the whole set in evaluation mode, after each
            epoch (row 0: at initialisation).
    """

    config: ZooConfig
    graphdef: nnx.GraphDef
    states: nnx.State
    metrics: dict[str, np.ndarray]

    @property
    def n_models(self) -> int:
        return self.config.n_models

    @property
    def n_epochs(self) -> int:
        """Number of training epochs (snapshots are ``0..n_epochs``)."""
        return len(next(iter(self.metrics.values()))) - 1

    def state(self, epoch: int = -1) -> nnx.State:
        """The stacked `nnx.State` ``[n_models, ...]`` of all models after `epoch`."""
        return jax.tree.map(lambda a: a[epoch], self.states)

    def model(self, index: int, epoch: int = -1) -> Classifier:
        """Model `index` after `epoch` (default: the last) as an `MLP` or `CNN`."""
        return nnx.merge(self.graphdef, jax.tree.map(lambda a: a[epoch, index], self.states))

    @property
    def layer_names(self) -> tuple[str, ...]:
        """Names of the models' layers (see `jaxrsa.models.activations`)."""
        return abstract_model(self.config.family, self.config.hyperparameters).layer_names


class _EvalSet:
    """Training and test images in one padded, batched array, to evaluate in one call."""

    def __init__(self, splits: dict[str, tuple[np.ndarray, np.ndarray]]):
        images = np.concatenate([x for x, _ in splits.values()])
        labels = np.concatenate([y for _, y in splits.values()])
        stops = np.cumsum([len(y) for _, y in splits.values()])
        self.ranges = {
            name: (int(stop - len(y)), int(stop))
            for (name, (_, y)), stop in zip(splits.items(), stops, strict=True)
        }
        pad = -len(labels) % EVAL_BATCH
        images = np.concatenate([images, np.zeros((pad, *images.shape[1:]), images.dtype)])
        labels = np.concatenate([labels, np.zeros(pad, labels.dtype)])
        self.images = jnp.asarray(images.reshape(-1, EVAL_BATCH, *images.shape[1:]))
        self.labels = jnp.asarray(labels.reshape(-1, EVAL_BATCH))

    def metrics(self, loss: np.ndarray, correct: np.ndarray) -> dict[str, np.ndarray]:
        """Per-split means of per-example `loss` and `correct` ``[m, b, k]`` -> ``[m]`` each."""
        loss = np.asarray(loss, np.float64).reshape(loss.shape[0], -1)
        correct = np.asarray(correct, np.float64).reshape(correct.shape[0], -1)
        out = {}
        for name, (start, stop) in self.ranges.items():
            out[f"{name}_loss"] = loss[:, start:stop].mean(axis=1)
            out[f"{name}_accuracy"] = correct[:, start:stop].mean(axis=1)
        return out


def _as_data(name: str, data) -> tuple[np.ndarray, np.ndarray]:
    try:
        images, labels = data
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a pair (images, labels)") from None
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim not in (3, 4):
        raise ValueError(f"{name}: images must be [n, h, w] or [n, h, w, c], got {images.shape}")
    if not np.issubdtype(labels.dtype, np.integer) or labels.shape != images.shape[:1]:
        raise ValueError(
            f"{name}: labels must be integers of shape [{len(images)}], "
            f"got {labels.dtype}{list(labels.shape)}"
        )
    if len(labels) == 0:
        raise ValueError(f"{name} is empty")
    if images.dtype != np.uint8 and not np.issubdtype(images.dtype, np.floating):
        raise TypeError(f"{name}: images must be uint8 or floating, got {images.dtype}")
    return images, labels.astype(np.int32)


def _fingerprint(images: np.ndarray, labels: np.ndarray) -> dict:
    digest = hashlib.sha256(np.ascontiguousarray(images).tobytes())
    digest.update(str(images.dtype).encode())
    digest.update(labels.astype(np.int64).tobytes())
    return {"n": len(labels), "sha256": digest.hexdigest()}


def _model_keys(key, n_models: int) -> jax.Array:
    """``[n_models]`` typed keys from an int seed, one key (split) or one key per model."""
    if isinstance(key, bool) or not isinstance(key, int | np.integer | jax.Array | np.ndarray):
        raise TypeError(f"key must be an int seed or a PRNG key array, got {type(key).__name__}")
    if isinstance(key, int | np.integer):
        key = jax.random.key(int(key))
    elif not jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.wrap_key_data(jnp.asarray(key, jnp.uint32))
    if key.shape == ():
        return jax.random.split(key, n_models)
    if key.shape == (n_models,):
        return key
    raise ValueError(
        f"key must be one key (split into n_models keys) or {n_models} keys, "
        f"got key shape {key.shape}"
    )


def _stack(trees):
    """Stack pytrees along a new leading axis (in NumPy: no compilation per shape)."""
    return jax.tree.map(lambda *xs: jnp.asarray(np.stack(xs)), *trees)


def _per_model(fn: Callable, strategy: str, *stacked):
    """`fn(*stacked, ensemble=True)` (vmap inside), or `fn` on each model and restacked."""
    if strategy == "vmap":
        return fn(*stacked, ensemble=True)
    n_models = len(jax.tree.leaves(stacked[0])[0])
    return _stack(
        [
            fn(*(jax.tree.map(lambda a, i=i: a[i], t) for t in stacked), ensemble=False)
            for i in range(n_models)
        ]
    )


def _config_from_meta(directory: Path, meta: dict) -> ZooConfig:
    path = _checkpoint.meta_path(directory, meta["epoch"])
    try:
        if meta.get("format") != _FORMAT or not isinstance(meta.get("metrics"), dict):
            raise TypeError
        return ZooConfig(**meta["config"])
    except TypeError:
        raise CheckpointError(f"checkpoint file {path} is not a jaxrsa zoo checkpoint") from None


def _check_same_run(config: dict, directory: Path, meta: dict) -> None:
    stored = _config_from_meta(directory, meta).to_json()
    if stored != config:
        fields = sorted(k for k in config.keys() | stored.keys() if config.get(k) != stored.get(k))
        raise CheckpointError(
            f"checkpoint directory {directory} holds a different zoo run (differs in: "
            f"{', '.join(fields)}); use another ckpt_dir or the same settings"
        )


def _read_history(directory: Path, last: int, config: ZooConfig, model_target):
    """Model states and metrics of epochs 0..last from `directory`."""
    check = functools.partial(_check_same_run, config.to_json(), directory)
    states, history = [], []
    for epoch in range(last + 1):
        tree, meta = _checkpoint.load(directory, epoch, {"model": model_target}, check=check)
        states.append(jax.tree.map(jnp.asarray, tree["model"]))
        history.append({k: np.asarray(v, np.float64) for k, v in meta["metrics"].items()})
    return states, history


def _complete_epochs(directory: Path) -> list[int]:
    done = _checkpoint.complete_epochs(directory)
    if done != list(range(len(done))):
        raise CheckpointError(
            f"checkpoint directory {directory}: epochs {done} do not run contiguously from 0"
        )
    return done


def _init_states(config: ZooConfig, abstract: bool = False) -> TrainState:
    """Initial states of all models, stacked (or their shapes and dtypes)."""
    init = functools.partial(
        init_state_jit,
        family=config.family,
        hyperparameters=hashable(config.hyperparameters),
        learning_rate=config.learning_rate,
    )
    if abstract:
        return jax.eval_shape(jax.vmap(init), config.model_keys)
    return _stack([init(key) for key in config.model_keys])


def _zoo(config, graphdef, states, history) -> Zoo:
    metrics = {k: np.stack([h[k] for h in history]) for k in history[0]}
    return Zoo(config, graphdef, _stack(states), metrics)


def train_zoo(
    family: str,
    n_models: int,
    epochs: int,
    train_data: tuple[ArrayLike, ArrayLike],
    test_data: tuple[ArrayLike, ArrayLike] | None = None,
    *,
    key: int | jax.Array,
    batch_size: int = 128,
    learning_rate: float = 1e-3,
    ckpt_dir: str | Path | None = None,
    strategy: str = "vmap",
    progress: bool = False,
    callback: Callable[[int, dict[str, np.ndarray]], None] | None = None,
    **model_kwargs,
) -> Zoo:
    """Train `n_models` models of one architecture, with different seeds, all at once.

    One jitted epoch (a `lax.scan` over minibatches of Adam on softmax cross-entropy) is
    vmapped over the stacked models, so the zoo trains as one program. Each model has its own
    key, which fixes its initialisation, its shuffling and its dropout (see `jaxrsa.models`):
    model ``i`` of a zoo equals the same model trained alone with key ``keys[i]``.

    With `ckpt_dir`, every epoch (and the initialisation, epoch 0) is checkpointed: the models'
    parameters and optimizer states, metrics and the run's `ZooConfig`. Calling `train_zoo`
    again with the same arguments resumes after the last complete epoch (or just loads, if all
    epochs are there) and gives the same models as an uninterrupted run; asking for more
    epochs continues training.

    Args:
        family: ``"mlp"`` or ``"cnn"``.
        n_models: number of models.
        epochs: number of training epochs (0: only initialise).
        train_data: ``(images, labels)``: uint8 images ``[n, h, w]`` (or ``[n, h, w, c]``)
            and integer labels ``[n]``.
        test_data: held-out ``(images, labels)`` for the test metrics, or None.
        key: an int seed, one PRNG key (split into `n_models` keys), or ``[n_models]`` keys.
        batch_size: examples per step; an epoch is ``n // batch_size`` steps.
        learning_rate: Adam's step size.
        ckpt_dir: directory for per-epoch checkpoints, or None.
        strategy: ``"vmap"`` (all models in one program) or ``"loop"`` (one model at a time,
            the same kernels; for comparison).
        progress: show a progress bar over epochs.
        callback: called as ``callback(epoch, metrics)`` after each trained epoch (after its
            checkpoint is written), ``metrics`` holding ``[n_models]`` arrays.
        **model_kwargs: architecture, passed to `MLP` / `CNN` (e.g. ``hidden=(256, 128)`` or
            ``channels=(16, 32), dense=128``); ``input_shape`` defaults to the images' shape.

    Returns:
        a `Zoo` with the models after every epoch and their metrics.

    Raises:
        CheckpointError: when `ckpt_dir` holds a different run or a corrupt file.

    Examples:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> images = rng.integers(0, 256, (64, 28, 28), dtype=np.uint8)
        >>> labels = rng.integers(0, 10, 64)
        >>> zoo = train_zoo("mlp", 3, 1, (images, labels), key=0, batch_size=32, hidden=(16,))
        >>> zoo.metrics["train_accuracy"].shape, zoo.n_epochs
        ((2, 3), 1)
    """
    n_models = _inputs.integer("n_models", n_models)
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be an int >= 0, got {epochs!r}")
    batch_size = _inputs.integer("batch_size", batch_size)
    learning_rate = _inputs.positive("learning_rate", learning_rate)
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    splits = _splits(train_data, test_data, batch_size)
    model_kwargs.setdefault("input_shape", splits["train"][0].shape[1:])
    abstract = abstract_model(family, model_kwargs)
    for name, (_, labels) in splits.items():
        if labels.min() < 0 or labels.max() >= abstract.n_classes:
            raise ValueError(
                f"{name}_data labels must be in [0, {abstract.n_classes}), "
                f"got [{labels.min()}, {labels.max()}]"
            )
    keys = _model_keys(key, n_models)
    config = ZooConfig(
        family=family,
        hyperparameters=abstract.hyperparameters(),
        n_models=n_models,
        batch_size=batch_size,
        learning_rate=learning_rate,
        key_data=np.asarray(jax.random.key_data(keys)).tolist(),
        key_impl=str(jax.random.key_impl(keys)),
        data={name: _fingerprint(*data) for name, data in splits.items()},
    )
    graphdef = nnx.graphdef(abstract)
    eval_set = _EvalSet(splits)

    def evaluate_all(model_states):
        run = functools.partial(
            evaluate, images=eval_set.images, labels=eval_set.labels, graphdef=graphdef
        )
        return eval_set.metrics(*_per_model(run, strategy, model_states))

    run_epoch = functools.partial(
        train_epoch,
        images=jnp.asarray(splits["train"][0]),
        labels=jnp.asarray(splits["train"][1]),
        graphdef=graphdef,
        batch_size=batch_size,
        learning_rate=learning_rate,
    )
    meta = {"format": _FORMAT, "config": config.to_json()}
    ckpt_dir = None if ckpt_dir is None else Path(ckpt_dir)
    done = [] if ckpt_dir is None else _complete_epochs(ckpt_dir)
    if done:
        start = min(done[-1], epochs)
        state, states, history = _resume(ckpt_dir, start, config)
    else:
        start, state = 0, _init_states(config)
        states, history = [state.model], [evaluate_all(state.model)]
        if ckpt_dir is not None:
            _checkpoint.save(
                ckpt_dir, 0, state._asdict(), {**meta, "metrics": _jsonable(history[0])}
            )

    bar = tqdm(
        total=epochs, initial=start, disable=not progress, desc=f"{family} zoo", unit="epoch"
    )
    with bar:
        for epoch in range(start + 1, epochs + 1):
            state = _per_model(
                functools.partial(run_epoch, epoch=np.int32(epoch)), strategy, state, keys
            )
            metrics = evaluate_all(state.model)
            states.append(state.model)
            history.append(metrics)
            if ckpt_dir is not None:
                _checkpoint.save(
                    ckpt_dir, epoch, state._asdict(), {**meta, "metrics": _jsonable(metrics)}
                )
            bar.update()
            bar.set_postfix({k: f"{v.mean():.3f}" for k, v in metrics.items() if "acc" in k})
            if callback is not None:
                callback(epoch, metrics)
    return _zoo(config, graphdef, states, history)


def _splits(train_data, test_data, batch_size: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The validated training (and test) sets as NumPy arrays."""
    splits = {"train": _as_data("train_data", train_data)}
    if test_data is not None:
        splits["test"] = _as_data("test_data", test_data)
    shape = splits["train"][0].shape[1:]
    for name, (images, _) in splits.items():
        if images.shape[1:] != shape:
            raise ValueError(
                f"{name}_data images are {list(images.shape[1:])} per example, "
                f"training images {list(shape)}"
            )
    if batch_size > len(splits["train"][1]):
        raise ValueError(f"batch_size {batch_size} exceeds the {len(splits['train'][1])} examples")
    return splits


def _resume(ckpt_dir: Path, epoch: int, config: ZooConfig):
    """Training state after `epoch`, and the model states and metrics of epochs 0..epoch."""
    _checkpoint.remove_temporary_files(ckpt_dir)
    target = _init_states(config, abstract=True)
    states, history = _read_history(ckpt_dir, epoch, config, target.model)
    check = functools.partial(_check_same_run, config.to_json(), ckpt_dir)
    tree, _ = _checkpoint.load(ckpt_dir, epoch, {"opt": target.opt}, check=check)
    return TrainState(states[-1], jax.tree.map(jnp.asarray, tree["opt"])), states, history


def _jsonable(metrics: dict[str, np.ndarray]) -> dict[str, list[float]]:
    return {k: [float(x) for x in v] for k, v in metrics.items()}


def load_zoo(ckpt_dir: str | Path) -> Zoo:
    """The zoo saved in `ckpt_dir` by `train_zoo`, with every complete epoch.

    Raises:
        CheckpointError: no checkpoint there, or a missing or corrupt file (named).
    """
    ckpt_dir = Path(ckpt_dir)
    done = _complete_epochs(ckpt_dir)
    if not done:
        raise CheckpointError(f"no zoo checkpoint (epoch_0000.json) in {ckpt_dir}")
    config = _config_from_meta(ckpt_dir, _checkpoint.load_meta(ckpt_dir, done[-1]))
    abstract = abstract_model(config.family, config.hyperparameters)
    states, history = _read_history(
        ckpt_dir, done[-1], config, _init_states(config, abstract=True).model
    )
    return _zoo(config, nnx.graphdef(abstract), states, history)
